#!/bin/bash
# SLURM job template: multi-node, multi-GPU training of solarmaggan with
# tf.distribute.MultiWorkerMirroredStrategy (one worker process per node, every GPU of the
# node). Submit with:  sbatch scripts/slurm_multiworker.sh
# Adapt the #SBATCH lines, the paths and the module/environment set-up to your cluster.
#SBATCH --job-name=solarmaggan-kim2019
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
#SBATCH --time=24:00:00
#SBATCH --output=%x-%j.out
#SBATCH --signal=B:TERM@120   # time to finish a step before the job ends; re-submit to resume

set -euo pipefail
REPO=${REPO:-$HOME/solarmaggan}            # the clone, with its .venv (pip install -e ".[gpu]")
DATA=${DATA:-$REPO/data/pairs.h5}          # on a file system every node sees
RUN_DIR=${RUN_DIR:-$REPO/runs/kim2019-multiworker}   # shared too: the chief writes, all read
PORT=${PORT:-12345}
GPUS_PER_NODE=${SLURM_GPUS_PER_NODE:-4}

# one TF_CONFIG per node: the same cluster, this node's index (node 0 is the chief)
srun --ntasks-per-node=1 bash -c '
  HOSTS=$(scontrol show hostnames "$SLURM_JOB_NODELIST")
  WORKERS=$(for h in $HOSTS; do printf "\"%s:%s\"," "$h" "'"$PORT"'"; done)
  export TF_CONFIG="{\"cluster\": {\"worker\": [${WORKERS%,}]}, \"task\": {\"type\": \"worker\", \"index\": $SLURM_NODEID}}"
  echo "node $SLURM_NODEID: TF_CONFIG=$TF_CONFIG"
  # global batch: one pair a GPU (the seed trains with batch 1 on one GPU)
  exec '"$REPO"'/.venv/bin/solarmaggan train --preset kim2019 --strategy multiworker \
      --data '"$DATA"' --run-dir '"$RUN_DIR"' \
      --batch-size $(( '"$GPUS_PER_NODE"' * SLURM_NNODES )) --precision mixed_bfloat16 --quiet
'
