"""The documentation's promises that a test can hold: the command reference covers every
subcommand, the README's set-up commands are the ones CI runs, the README stays short, and
``--help`` says each default once. (The site itself is built by ``.ci/run``, warnings as
errors.)"""

import argparse
import re
from pathlib import Path

from solarmaggan.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
CI_RUN = (ROOT / ".ci" / "run").read_text()
COMMANDS_PAGE = (ROOT / "docs" / "reference" / "commands.rst").read_text()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_command_reference_documents_every_subcommand_from_the_parser():
    documented = re.findall(r"^\.\. argparse::\n((?:   :.*\n)+)", COMMANDS_PAGE, re.M)
    paths = []
    for options in documented:
        fields = dict(re.findall(r"   :(\S+):\s*(.*)", options))
        if fields.get("module") == "solarmaggan.cli":
            assert fields["func"] == "build_parser"
            paths.append(fields["path"])
    assert sorted(paths) == sorted(subcommands(build_parser()))
    assert len(paths) == len(set(paths))


def test_readme_set_up_commands_are_the_ones_ci_runs():
    blocks = bash_blocks(README)
    demo = next(b for b in blocks if b.endswith("solarmaggan demo"))
    tests = next(b for b in blocks if "pytest" in b)
    docs = next(b for b in blocks if "sphinx-build" in b).splitlines()[0]
    assert tests in CI_RUN.splitlines()
    assert docs in CI_RUN.splitlines()
    # the demo's command installs the same package into the same fresh .venv, without extras
    assert demo == ("python3 -m venv .venv && .venv/bin/pip install -q -e . "
                    "&& .venv/bin/solarmaggan demo")
    assert "sphinx-build -W --keep-going" in docs and "-D plot_gallery" not in docs
    installation = (ROOT / "docs" / "installation.md").read_text()
    assert demo in bash_blocks(installation) and tests in bash_blocks(installation)
    assert any(block.startswith(docs) for block in bash_blocks(installation))


def test_readme_is_short_and_its_links_exist():
    assert len(README) <= 12_000
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


def test_help_states_each_default_once():
    for name, command in subcommands(build_parser()).items():
        for action in command._actions:
            if not action.option_strings or action.help in (None, argparse.SUPPRESS):
                continue
            text = command._get_formatter()._expand_help(action)
            shown = text.lower().count("default")
            assert shown <= 1, f"{name} {action.option_strings[0]}: {text}"
    synchronic_help = " ".join(subcommands(build_parser())["synchronic"].format_help().split())
    assert "latitude and longitude pixels, even (default: 180 360)" in synchronic_help
