"""FLOP counts and the training-throughput benchmark (run on the CPU at a small size)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from solarmaggan.models import build_discriminator, build_generator
from solarmaggan.models.flops import forward_flops, train_step_flops

BENCH = Path(__file__).parents[1] / "scripts" / "bench_train_step.py"


def test_flops_of_the_seed_networks_at_1024():
    generator, discriminator = build_generator(1024), build_discriminator(1024)
    # the seed's figures: generator forward ~190 GFLOP, discriminator ~100, step "about 1.5"
    # TFLOP with a second generator forward; our step does one: 3 G + 8 D (train_step_flops)
    generator_flops, discriminator_flops = forward_flops(generator), forward_flops(discriminator)
    assert generator_flops / 1e9 == pytest.approx(190, rel=0.02)
    assert discriminator_flops / 1e9 == pytest.approx(100, rel=0.05)
    step_flops = train_step_flops(generator, discriminator)
    assert step_flops == 3 * generator_flops + 8 * discriminator_flops
    assert 1.33 < step_flops / 1e12 < 1.45


def test_throughput_benchmark_runs_on_the_cpu():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "32", "--precisions", "float32",
         "mixed_bfloat16", "--steps", "2", "--warmup", "1", "--batch-size", "2",
         "--peak-tflops", "2.0"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    import tensorflow as tf

    # the machine line reports what TensorFlow sees here (CPU-only CI: 0; a GPU machine: n)
    assert lines[0]["machine"]["gpus"] == len(tf.config.list_physical_devices("GPU"))
    runs = lines[1:]
    assert [run["precision"] for run in runs] == ["float32", "mixed_bfloat16"]
    for run in runs:
        assert run["steps_per_second"] > 0 and run["tflop_per_step"] > 0
        assert run["images_per_second"] == pytest.approx(2 * run["steps_per_second"], rel=2e-3)
        assert run["achieved_tflops"] == pytest.approx(
            run["tflop_per_step"] * run["steps_per_second"], rel=2e-3)
        assert run["mfu"] == pytest.approx(run["achieved_tflops"] / 2.0, rel=2e-3)


def test_compare_plain_mode_runs_on_the_cpu():
    result = subprocess.run(
        [sys.executable, str(BENCH), "--compare-plain", "--with-two-forward", "--sizes", "32",
         "--precisions", "float32", "--steps", "1", "--warmup", "1", "--rounds", "2"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    (run,) = lines[1:]
    assert (run["image_size"], run["precision"], run["rounds"]) == (32, "float32", 2)
    variants = ("ours", "two_forward", "plain_simultaneous", "plain_sequential")
    for name in variants:
        assert run[f"{name}_s_per_step"] == pytest.approx(min(run["all_rounds_s_per_step"][name]))
        assert len(run["all_rounds_s_per_step"][name]) == 2
    assert run["ours_over_plain_simultaneous"] == pytest.approx(
        run["ours_s_per_step"] / run["plain_simultaneous_s_per_step"], rel=2e-3)
