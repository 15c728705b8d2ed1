"""Run a solarmaggan command on a SLURM cluster through Dask (dask-jobqueue).

The batch-job counterpart of ``scripts/slurm_multiworker.sh`` (which trains with
tf.distribute): this script starts a Dask scheduler here (a login node, or the first job of
an allocation), submits ``--jobs`` SLURM jobs of Dask workers with dask-jobqueue, runs the
command with ``--scheduler tcp://...`` pointing at it, and cancels the jobs when the
command ends. Each job runs ``--processes`` worker processes on ``--cores`` cores (a task
thread each); for ``generate`` on GPU nodes give ``--gpus-per-job`` and one process per
GPU. Every node must see the inputs and outputs at the same paths (a shared file system)
and have solarmaggan installed (``pip install -e ".[dask]"``, plus ``[gpu]`` on GPU nodes).

    # STEREO-A's far side, 140,000 EUVI files, on 16 GPU nodes (one worker per GPU)
    python scripts/dask_slurm.py --jobs 16 --cores 8 --processes 1 --gpus-per-job 1 \\
        --memory 64GB --walltime 06:00:00 -- \\
        solarmaggan generate /archive/euvi/a/ --model runs/kim2019 --out /archive/ai/a \\
        --batch-size 8 --samples 10

    # the training set: 10,000 AIA 304 + HMI pairs of 4096 x 4096 files, on 8 CPU nodes
    python scripts/dask_slurm.py --jobs 8 --cores 32 --processes 32 --memory 128GB -- \\
        solarmaggan prep --preset kim2019 --euv /archive/aia304 --magnetogram /archive/hmi \\
        --out /archive/kim2019.h5

``--dry-run`` prints the SLURM job script and the command and submits nothing. A killed
or pre-empted job's tasks are run again on the other workers; re-running the same line
after the allocation ends resumes where the outputs stop (each command skips what is
done). Adapt ``--queue``, ``--account`` and ``--job-extra`` (``#SBATCH`` lines) to your site.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=4, help="SLURM jobs of workers (default 4)")
    parser.add_argument("--cores", type=int, default=16, help="cores a job (default 16)")
    parser.add_argument("--processes", type=int, default=None,
                        help="worker processes a job (default: one a core)")
    parser.add_argument("--memory", default="64GB", help="memory a job (default 64GB)")
    parser.add_argument("--walltime", default="04:00:00", help="time limit a job")
    parser.add_argument("--queue", default=None, help="SLURM partition")
    parser.add_argument("--account", default=None, help="SLURM account")
    parser.add_argument("--gpus-per-job", type=int, default=0,
                        help="GPUs a job (#SBATCH --gpus); give as many processes")
    parser.add_argument("--job-extra", action="append", default=[], metavar="DIRECTIVE",
                        help="more #SBATCH directives, e.g. --job-extra=--constraint=a100")
    parser.add_argument("--wait-workers", type=int, default=1,
                        help="start the command once this many workers have joined (default 1)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the job script and the command; submit nothing")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- then the solarmaggan command (without --scheduler)")
    args = parser.parse_args(argv)
    args.command = [word for word in args.command if word != "--"] if args.command else []
    if not args.command:
        parser.error("give the command to run after --, e.g. -- solarmaggan generate ...")
    if "--scheduler" in args.command:
        parser.error("the command gets --scheduler from this script; leave it out")
    return args


def make_cluster(args: argparse.Namespace):
    """The dask-jobqueue SLURMCluster of the arguments (no job submitted yet)."""
    from dask_jobqueue import SLURMCluster

    directives = list(args.job_extra)
    if args.gpus_per_job:
        directives.append(f"--gpus={args.gpus_per_job}")
    processes = args.processes or args.cores
    threads = max(args.cores // processes, 1)
    return SLURMCluster(
        # one task thread a worker (cores = processes); the job's cores (job_cpu) are
        # shared by the workers' maths libraries (OMP / TensorFlow threads)
        cores=processes, processes=processes, job_cpu=args.cores, memory=args.memory,
        walltime=args.walltime, queue=args.queue, account=args.account,
        job_extra_directives=directives,
        job_script_prologue=[f"export OMP_NUM_THREADS={threads}",
                             f"export TF_NUM_INTRAOP_THREADS={threads}"],
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    cluster = make_cluster(args)
    try:
        command = [*args.command, "--scheduler", cluster.scheduler_address]
        if args.dry_run:
            print(cluster.job_script())
            print(f"# {args.jobs} job(s); then: {shlex.join(command)}")
            return 0
        from distributed import Client

        cluster.scale(jobs=args.jobs)
        with Client(cluster) as client:
            print(f"scheduler {cluster.scheduler_address}, dashboard {client.dashboard_link}; "
                  f"waiting for {args.wait_workers} worker(s)", file=sys.stderr, flush=True)
            while len(client.scheduler_info()["workers"]) < args.wait_workers:
                time.sleep(5)
            return subprocess.call(command)
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
