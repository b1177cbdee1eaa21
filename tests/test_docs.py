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
    assert f"`{setting.name}`" in README


def test_readme_starts_with_two_commands():
    head = "\n".join(README.splitlines()[:15])
    assert "scripts/demo" in head and "scripts/test" in head
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1].endswith("scripts/test")


def test_links_between_docs_resolve():
    """Every relative link in the README and docs/ points at a file that exists."""
    import re
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.name} -> {target}")
    assert not broken
