"""Subprocess helper of tests/test_distribute.py (not a test module).

TensorFlow fixes its devices and its multi-worker set-up when it starts, so each
distributed check runs in a fresh process:

    python tests/distributed_worker.py mirrored-step
        one process, the CPU split into two logical devices: the same two training steps on
        the same global batch of 4, on one device and mirrored over two; prints the losses
        and the largest weight difference as JSON.
    python tests/distributed_worker.py train DATA RUN_DIR OVERRIDE...
        ``solarmaggan.training.train`` with the tiny test configuration and the overrides
        (e.g. training.strategy="multiworker" with TF_CONFIG set); prints whether this
        process is the chief, the final step and a checksum of the generator's weights.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))


def weights_checksum(model) -> float:
    import numpy as np

    return float(sum(np.sum(np.asarray(w, np.float64) ** 2) for w in model.weights))


def mirrored_step() -> dict:
    import numpy as np

    import solarmaggan  # noqa: F401
    from solarmaggan.distribute import make_strategy, split_cpu

    split_cpu(2)
    import keras
    import tensorflow as tf

    from solarmaggan.models import (
        Pix2Pix,
        build_discriminator,
        build_generator,
        set_synchronized_batch_norm,
    )

    def model(synchronized: bool) -> Pix2Pix:
        generator = build_generator(32, depth=3, base_filters=8, max_filters=16,
                                    dropout_rate=0.0, seed=1)
        discriminator = build_discriminator(32, base_filters=8, max_filters=16, seed=2)
        set_synchronized_batch_norm(generator, synchronized)
        set_synchronized_batch_norm(discriminator, synchronized)
        pix2pix = Pix2Pix(generator, discriminator)
        # plain SGD: unlike Adam's first steps, its update is proportional to the gradient,
        # so a wrong loss scaling across replicas shows in the weights
        pix2pix.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
        return pix2pix

    rng = np.random.default_rng(0)
    batch = tuple(tf.constant(rng.uniform(-1, 1, (4, 32, 32, 1)), tf.float32)
                  for _ in range(2))
    single = model(False)
    initial = [np.asarray(w).copy() for w in single.weights]
    single_losses = []
    for _ in range(2):
        single_losses.append({k: float(v) for k, v in single.train_step(batch).items()})
        for metric in single.metrics:
            metric.reset_state()

    strategy = make_strategy("mirrored")
    with strategy.scope():
        mirrored = model(True)
    distributed = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(batch).repeat(2))
    mirrored_step = tf.function(lambda b: strategy.run(mirrored.train_step, args=(b,)))
    mirrored_losses = []
    for replica_batch in distributed:
        mirrored_step(replica_batch)
        mirrored_losses.append({m.name: float(m.result()) for m in mirrored.train_metrics})
        for metric in mirrored.metrics:
            metric.reset_state()
    differences = [float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                   for a, b in zip(single.weights, mirrored.weights)]
    return {"replicas": strategy.num_replicas_in_sync, "single": single_losses,
            "mirrored": mirrored_losses, "max_weight_difference": max(differences),
            "max_weight_update": max(float(np.max(np.abs(np.asarray(w) - w0)))
                                     for w, w0 in zip(single.weights, initial))}


def train_run(data: str, run_dir: str, overrides: list[str]) -> dict:
    from conftest import tiny_config

    from solarmaggan.training import Trainer

    trainer = Trainer(tiny_config(*overrides), data, run_dir, progress=False)
    result = trainer.run()
    return {"chief": trainer.is_chief, "step": result["step"],
            "replicas": trainer.strategy.num_replicas_in_sync,
            "checksum": weights_checksum(trainer.model.generator)}


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "mirrored-step":
        print(json.dumps(mirrored_step()))
    elif mode == "train":
        print(json.dumps(train_run(sys.argv[2], sys.argv[3], sys.argv[4:])))
    else:
        sys.exit(f"unknown mode {mode!r}")
