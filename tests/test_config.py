"""Configuration: the declared schema, checked in full before anything is written, and
what `solarmaggan train` takes from the pair file."""

import hashlib
import json

import pytest

from data_prep.presets import load_preset, preset_names
from data_prep.presets.schema import SCHEMA, check_config
from solarmaggan.cli import build_parser, main
from solarmaggan.config import ConfigError, resolve_config

from conftest import TINY_OVERRIDES


def test_every_preset_follows_the_schema_and_the_schema_covers_every_setting():
    for name in preset_names():
        preset = load_preset(name)
        assert check_config(preset) == [], name
        for section, settings in SCHEMA.items():
            assert set(preset[section]) == set(settings), (name, section)


def test_every_bad_setting_is_named_on_its_own_line_with_the_allowed_values():
    with pytest.raises(ConfigError) as refused:
        resolve_config("quick", ["model.depth=x", "training.log_every=0", "training.steps=abc",
                                 "training.precision=float16", "training.stepz=3", "nodot=1"])
    problems = refused.value.problems
    assert len(problems) == 6
    expected = ["model.depth: 'x' is not an integer >= 2 or null",
                "training.log_every: 0 is not an integer >= 1",
                "training.steps: 'abc' is not an integer >= 1",
                "training.precision: 'float16' is not one of float32, mixed_float16, "
                "mixed_bfloat16",
                "training.stepz: unknown setting; known: "]
    for line in expected:
        assert any(problem.startswith(line) for problem in problems), line
    assert any("nodot=1" in problem for problem in problems)


def test_settings_that_do_not_fit_together_are_refused():
    cases = {
        "model.depth=9": "model.depth: 9 is not an integer in 2..8 or null for 256 px images",
        "training.lr_schedule=linear_decay": "training.decay_steps: 0 is not in 1..training.steps",
        "training.max_shift_px=200": "training.max_shift_px: 200 is not < 128",
        "training.lambda_feature_matching=10": "feature matching needs model.architecture "
                                                "pix2pixhd",
        "data.radius_px=200": "data.radius_px: 200 is not <= half the image size",
        "data.image_size=96": "data.image_size: image size must be a power of two >= 32",
    }
    for override, message in cases.items():
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            resolve_config("quick", [override])


def _tree(folder):
    """{relative path: sha256} of every file below ``folder``."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_refused_train_command_leaves_the_run_directory_as_it_was(tiny_run, capsys):
    run_dir, toy = tiny_run
    before = _tree(run_dir)
    base = ["train", "--data", str(toy), "--run-dir", str(run_dir), "--quiet",
            "--set", "training.steps=10"]
    for override in TINY_OVERRIDES:  # the tiny run's settings; the frame comes from the file
        if not override.startswith("data."):
            base += ["--set", override]
    for extra in (["--set", "training.log_every=0"], ["--set", "model.depth=x"],
                  ["--set", "training.steps=abc"], ["--set", "model.depth=2"]):
        assert main(base + extra) == 2, extra
        assert _tree(run_dir) == before, extra
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith(f"solarmaggan train: error: {run_dir} belongs to a different "
                                "configuration (model.depth: 3 -> 2")
    assert all(line.startswith("solarmaggan train: error: ") for line in lines)
    # a fresh run directory refused for a typo is not even created
    fresh = run_dir.parent / "fresh"
    assert main(["train", "--data", str(toy), "--run-dir", str(fresh), "--precision",
                 "mixed_bfloat16", "--set", "training.stepz=3"]) == 2
    assert not fresh.exists()
    with pytest.raises(SystemExit) as argparse_exit:
        main(["train", "--data", str(toy), "--run-dir", str(fresh), "--precision", "float16"])
    assert argparse_exit.value.code == 2 and not fresh.exists()
    assert "invalid choice: 'float16'" in capsys.readouterr().err


def test_train_takes_the_frame_from_the_pair_file(toy_file):
    # the quick preset says 256 px and 98 px; the file is 32 px with a 12.25 px radius
    overrides = [o for o in TINY_OVERRIDES if not o.startswith("data.")]
    config = resolve_config("quick", overrides, data_file=toy_file)
    assert config["data"]["image_size"] == 32 and config["data"]["radius_px"] == 12.25
    contradicting = resolve_config("quick", overrides + ["data.image_size=64"],
                                   data_file=toy_file)
    from solarmaggan.config import check_data

    with pytest.raises(ValueError, match="image size 32, the model needs 64"):
        check_data(toy_file, contradicting)


def test_help_names_the_shipped_presets_and_shows_defaults():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    train_help = commands["train"].format_help()
    for name in preset_names():
        assert name in train_help
    assert "(default: quick)" in train_help
    evaluate_help = commands["evaluate"].format_help()
    assert "(default: 8)" in evaluate_help and "(default: test)" in evaluate_help
    assert "(default: 256)" in commands["toysun"].format_help()
    assert "--verbose" in commands["generate"].format_help()
    assert "random seed of data and training (default: 0)" in " ".join(
        commands["demo"].format_help().split())  # a zero default is shown too


def test_saved_configuration_must_follow_the_schema(tmp_path):
    from solarmaggan.config import load_config

    config = resolve_config("quick")
    config["training"]["steps"] = -5
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config.json: training.steps: -5 is not an integer"):
        load_config(path)
    path.write_bytes(b"\x89PNG\r\n")
    with pytest.raises(ValueError, match="config.json: not"):
        load_config(path)
