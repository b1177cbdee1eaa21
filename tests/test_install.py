"""Installing: the test script installs no system package unasked, and a missing browser skips the
page's tests (fails them under CI=true)."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def bare_path(tmp_path, apt_log):
    """A PATH with the few tools scripts/_browser.sh uses, no Chromium, and an apt-get that only
    writes down how it was called (the real one would change this machine)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("id", "mktemp", "tail"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "apt-get $*" >> {apt_log}\n')
    (bin_dir / "apt-get").chmod(0o755)
    return str(bin_dir)


def source_browser_check(tmp_path, **env):
    apt_log = tmp_path / "apt.log"
    path = bare_path(tmp_path, apt_log)
    proc = subprocess.run([shutil.which("bash"), "-c", f"source {ROOT / 'scripts' / '_browser.sh'}"],
                          env={"PATH": path, **env}, capture_output=True, text=True, timeout=60)
    return proc, apt_log.read_text() if apt_log.exists() else ""


def test_test_script_says_what_is_missing_and_installs_nothing_unasked(tmp_path):
    proc, apt_calls = source_browser_check(tmp_path)
    assert apt_calls == ""
    assert "missing for the browser tests: chromium chromedriver" in proc.stderr
    assert "apt-get install chromium chromium-driver" in proc.stderr
    assert "--install-browser" in proc.stderr and "will be skipped" in proc.stderr
    (tmp_path / "ci").mkdir()
    proc, _ = source_browser_check(tmp_path / "ci", CI="true")
    assert "will fail (CI=true)" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user the script installs with sudo")
def test_install_browser_flag_installs_with_apt(tmp_path):
    proc, apt_calls = source_browser_check(tmp_path, INSTALL_BROWSER="1")
    assert "apt-get install -y -q chromium chromium-driver" in apt_calls, proc.stderr


def test_flag_is_not_passed_to_pytest():
    """scripts/test takes --install-browser out of the arguments it hands to pytest."""
    script = (ROOT / "scripts" / "test").read_text()
    head = script[:script.index("source ")]  # the argument loop, before anything is installed
    proc = subprocess.run([shutil.which("bash"), "-c", head + 'echo "$INSTALL_BROWSER|${ARGS[*]}"', "test",
                           "-k", "names", "--install-browser", "-x"], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "1|-k names -x", proc.stderr


@pytest.mark.parametrize("ci,outcome", [("", "Skipped"), ("true", "RuntimeError")])
def test_missing_browser_skips_the_page_tests_except_in_ci(tmp_path, ci, outcome):
    code = ("import sys, pytest; sys.path.insert(0, 'tests'); from browser import chromium\n"
            "try:\n    chromium()\nexcept BaseException as e:\n    print(type(e).__name__, e)\n")
    env = {**os.environ, "PATH": str(tmp_path), "CI": ci}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.startswith(outcome), proc.stderr
    assert "apt-get install chromium chromium-driver" in proc.stdout
