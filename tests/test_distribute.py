"""Distributed training on the CPU: mirrored replicas and two workers on localhost."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_config

WORKER = str(Path(__file__).with_name("distributed_worker.py"))


def run_worker(*args, env=None, timeout=240):
    result = subprocess.run([sys.executable, WORKER, *args], capture_output=True, text=True,
                            timeout=timeout, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_mirrored_step_equals_the_single_device_step_on_the_global_batch():
    result = run_worker("mirrored-step")
    assert result["replicas"] == 2
    for single, mirrored in zip(result["single"], result["mirrored"]):
        for name in ("d_loss", "g_loss", "g_gan", "g_l1"):
            assert mirrored[name] == pytest.approx(single[name], rel=1e-5, abs=1e-6), name
    # the weights moved (by up to max_weight_update) and moved alike on both set-ups
    assert result["max_weight_update"] > 1e-3
    assert result["max_weight_difference"] < 1e-5


def test_dataset_shards_are_disjoint_and_cover_the_split(toy_file):
    from data_prep.pairs import PairFile
    from solarmaggan.data import PairReader, make_dataset

    def first_pass(index):
        stream = make_dataset(toy_file, "train", batch_size=1, augment=False, seed=3,
                              shard=(2, index))
        return [arrays[0].numpy().tobytes() for arrays in stream]

    shards = [first_pass(0), first_pass(1)]
    with PairFile(toy_file) as pairs:
        train = pairs.split_indices("train")
    reader = PairReader(toy_file)
    everything = {reader.sample("input", int(i)).astype(np.float32)[None].tobytes() for i in train}
    assert not set(shards[0]) & set(shards[1])
    assert set(shards[0]) | set(shards[1]) == everything
    with pytest.raises(ValueError, match="needs a seed"):
        make_dataset(toy_file, "train", shard=(2, 0))


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_two_workers_on_localhost_agree_and_the_chief_checkpoints(toy_file, tmp_path):
    from solarmaggan.training import Trainer

    run_dir = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    overrides = ["training.steps=4", "training.batch_size=2", 'training.strategy="multiworker"']
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(
            [sys.executable, WORKER, "train", str(toy_file), str(run_dir), *overrides],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    try:
        outputs = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr[-3000:]
    chief, other = (json.loads(out.strip().splitlines()[-1]) for out, _ in outputs)
    assert (chief["chief"], other["chief"]) == (True, False)
    assert chief["replicas"] == other["replicas"] == 2
    assert chief["step"] == other["step"] == 4
    assert other["checksum"] == pytest.approx(chief["checksum"], rel=1e-6)
    assert (run_dir / "checkpoints" / "ckpt-4.index").exists()
    assert (run_dir / "best_generator.keras").exists()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir() if p.name.endswith(".index")) \
        == ["ckpt-4.index"]  # the other worker wrote into its own scratch folder

    # the multi-worker checkpoint restores under the default strategy
    resumed = Trainer(tiny_config(*overrides[:2]), toy_file, run_dir, resume=True, progress=False)
    restored = float(sum(np.sum(np.asarray(w, np.float64) ** 2)
                         for w in resumed.model.generator.weights))
    assert int(resumed.step.numpy()) == 4
    assert restored == pytest.approx(chief["checksum"], rel=1e-6)
