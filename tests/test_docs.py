"""Docs: every command has help with an example and is in the README; settings documented."""

import click
import pytest

from consentguard.cli import cli
from consentguard.policy import SETTINGS

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, prefix + (name,))
        else:
            yield " ".join(prefix + (name,)), command


@pytest.mark.parametrize("name,command", list(commands(cli)))
def test_command_documented(name, command):
    assert command.help and "Example:" in command.help, f"{name} lacks an Example: in its help"
    assert f"consentguard {name}" in README, f"README does not mention 'consentguard {name}'"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_setting_documented(setting):
    """Every setting is in the settings table (docs/settings.md, generated from SETTINGS), which the README links."""
    assert f"| `{setting.name}` |" in (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert "(docs/settings.md)" in README


def test_generated_docs_are_committed():
    """docs/cli.md (every --help) and docs/settings.md (SETTINGS) are what scripts/gen_docs.py writes."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], check=False, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr or proc.stdout


def test_readme_command_lines_parse():
    """Every '$ consentguard ...' line of the README names commands and options that exist."""
    import shlex
    lines = [line.split("$ ", 1)[1].split("  #")[0] for line in README.splitlines()
             if line.lstrip().startswith("$ consentguard ")]
    assert len(lines) >= 6
    for line in lines:
        command, words = cli, shlex.split(line)[1:]
        while isinstance(command, click.Group):
            name, *words = words
            assert name in command.commands, f"{line}: no command {name!r}"
            command = command.commands[name]
        try:
            command.make_context(name, words)
        except click.UsageError as exc:  # missing arguments are fine (the README shortens), unknown options are not
            assert "No such option" not in str(exc), f"{line}: {exc}"


def _transcript(block: str) -> list[tuple[str, list[str], int | None]]:
    """(command, the lines it prints, the exit status shown or None) for each '$ ' line of a block."""
    import re
    steps: list = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append([line[2:], [], None])
        elif (status := re.match(r"\(exit status (\d+)", line)) and steps:
            steps[-1][2] = int(status.group(1))
        elif line.strip() and steps:
            steps[-1][1].append(line)
    return [tuple(step) for step in steps]


def _normalised(lines: list[str]) -> list[str]:
    """Review item ids (hashes of the faces) read as [ID]; trailing spaces dropped."""
    import re
    return [re.sub(r"\[[0-9a-f]{16}\]", "[ID]", line).rstrip() for line in lines if line.strip()]


@pytest.mark.faces
def test_readme_demo_transcript_is_the_real_output(tmp_path):
    """The README's 'What scripts/demo prints' block: its commands run on the sample roster and the demo
    photos (as scripts/demo makes them) print exactly the lines shown, with the exit status shown."""
    import os
    import shlex
    import subprocess
    import sys

    from conftest import _pypi_faces

    block = README.split("What `scripts/demo` prints")[1].split("```text\n", 1)[1].split("```", 1)[0]
    steps = _transcript(block)
    assert len(steps) >= 2
    env = {**os.environ, "CONSENTGUARD_DB": str(tmp_path / "demo.db")}
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_photos.py"), str(_pypi_faces()), str(tmp_path)],
                   check=True, capture_output=True)
    sync = subprocess.run([sys.executable, "-m", "consentguard", "sync", str(ROOT / "sample_roster" / "student.export.csv"),
                           "--photos", str(tmp_path / "portraits"), "--index", "all"], check=False, env=env, capture_output=True,
                          text=True)
    assert sync.returncode == 3, sync.stderr  # as scripts/demo expects: other restricted students have no portrait
    for command, shown, status in steps:
        args = shlex.split(command)
        assert args[0] == "consentguard"
        proc = subprocess.run([sys.executable, "-m", "consentguard", *args[1:]], cwd=tmp_path / "drafts", env=env,
                              check=False, capture_output=True, text=True)
        assert _normalised(proc.stdout.splitlines()) == _normalised(shown), (
            f"README's transcript of '{command}' differs from its real output:\n{proc.stdout}")
        if status is not None:
            assert proc.returncode == status, command


def test_architecture_lists_every_module():
    """docs/architecture.md's tree names every module of the package (a new module gets its line)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "consentguard"
    missing = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if path.name == "__main__.py" or (path.name == "__init__.py" and rel.count("/") == 1):
            continue  # a sub-package's __init__ is its heading; __main__ only runs the CLI
        if rel.startswith("roster/presets/"):
            continue  # listed as roster/presets/
        if f"`{rel}`" not in text and f"`consentguard/{rel}`" not in text:
            missing.append(rel)
    assert not missing, f"docs/architecture.md does not list: {', '.join(missing)}"
