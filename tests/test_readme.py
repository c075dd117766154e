"""The README's two set-up commands are real: CI runs command (2) verbatim."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", setup)


def test_readme_has_exactly_two_setup_commands() -> None:
    cmds = _commands()
    assert len(cmds) == 2, cmds
    install_run, install_test = cmds
    assert "ragqa ingest docs_corpus" in install_run and "ragqa ask" in install_run
    assert install_test.endswith("pytest")
    assert "torch==2.13.0" in install_test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert _commands()[1] in ci.splitlines()


def test_no_command_installs_torchvision_or_an_unpinned_torch() -> None:
    for cmd in _commands():
        assert "torchvision" not in cmd
        for args in re.findall(r"pip install ([^&]+)", cmd):
            for token in args.split():
                token = token.strip("'\"")
                if token.startswith("torch"):
                    assert token == "torch==2.13.0", token
