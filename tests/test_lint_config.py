"""The pre-commit hooks run exactly the checks of `make lint` (issue 14): the same commands, in
the same order, each on the whole tree with the project's pinned tools from .venv."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def makefile_lint_commands() -> list[str]:
    """The recipe lines of the Makefile's `lint` target, $(BIN) spelled out as .venv/bin."""
    text = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(\w+) :?= (.*)$", text, flags=re.MULTILINE))
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if re.match(r"lint:(\s|$)", line))
    commands = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        command = line.strip()
        while (expanded := re.sub(r"\$\((\w+)\)", lambda m: variables[m[1]], command)) != command:
            command = expanded
        commands.append(command)
    return commands


def pre_commit_hooks() -> list[dict]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def test_the_makefile_lint_target_is_read_as_expected():
    assert makefile_lint_commands() == [
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/djlint templates --lint",
        ".venv/bin/mypy",
    ]


def test_pre_commit_runs_the_commands_of_make_lint_in_order():
    assert [hook["entry"] for hook in pre_commit_hooks()] == makefile_lint_commands()


def test_every_hook_is_a_local_one_on_the_whole_tree_with_the_pinned_tools():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    for hook in pre_commit_hooks():
        assert hook["language"] == "system", hook["id"]
        assert hook["entry"].startswith(".venv/bin/"), hook["id"]
        # like `make lint`: the whole tree (ruff's and mypy's own file lists), not the staged files
        assert hook["pass_filenames"] is False, hook["id"]
        assert hook["always_run"] is True, hook["id"]
