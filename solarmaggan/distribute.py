"""Distributed training with ``tf.distribute``: one machine's GPUs, or several machines.

``solarmaggan train --strategy`` picks one of:

- ``default``: one device (the first GPU, else the CPU);
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over every GPU of this machine (on a
  machine without GPUs, over its logical CPU devices, see :func:`split_cpu`);
- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the machines that
  the standard ``TF_CONFIG`` environment variable lists (every GPU of each).

How a training step is distributed (see ``solarmaggan.models.Pix2Pix.train_step`` and
``solarmaggan.training``):

- the global batch (``training.batch_size``) is split evenly over the replicas; each input
  pipeline (one a worker) reads its own shard of the shuffled stream;
- each replica's losses are means over its part of the batch, divided by the number of
  replicas before the gradients, and Keras sums the gradients over the replicas: the update
  is the one a single device would compute from the mean loss over the global batch;
- batch normalisation computes its statistics over the global batch (Keras'
  ``synchronized=True``), so a step matches the single-device step; ``model.norm=instance``
  needs no communication at all (per-sample statistics);
- checkpoints hold plain variables: a run checkpointed under one strategy resumes under any
  other. Only the chief writes the run directory; other workers write their (required)
  checkpoint copies to a temporary folder that is removed.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from data_prep.presets.schema import STRATEGIES


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy called ``name`` (one of ``STRATEGIES``).

    ``multiworker`` must be created before TensorFlow runs any operation in the process,
    and needs ``TF_CONFIG``; a missing or unreadable ``TF_CONFIG`` raises ValueError.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus)
    if name == "multiworker":
        cluster = read_tf_config()
        if "worker" not in cluster.get("cluster", {}) and "chief" not in cluster.get("cluster", {}):
            raise ValueError("TF_CONFIG lists no 'worker' or 'chief' machines")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")


def read_tf_config() -> dict:
    """The parsed ``TF_CONFIG`` (cluster and this task), or ValueError saying what is wrong."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ValueError(
            "--strategy multiworker needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}} (see README, Distributed training)')
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON: {err}") from None
    if not isinstance(config, dict) or "task" not in config or "cluster" not in config:
        raise ValueError("TF_CONFIG must hold 'cluster' and 'task'")
    return config


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the one worker that writes the run directory: always, except on the
    non-chief workers of a multi-worker strategy (the chief is task "chief", else worker 0).
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None or task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def split_cpu(count: int) -> None:
    """Make ``count`` logical CPU devices, so ``mirrored`` runs replicas on a machine with no
    GPU (tests, trying a configuration). Call before TensorFlow initialises its devices."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
