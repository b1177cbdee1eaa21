"""The nightly script: logs, and exits non-zero (with a stderr alert) when a sync is refused."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, student, write_export

SCRIPT = ROOT / "scripts" / "nightly-sync"


def run(tmp_path, export):
    env = {**os.environ, "CONSENTGUARD_EXPORT": str(export), "CONSENTGUARD_DB": str(tmp_path / "cg.db"),
           "CONSENTGUARD_LOG": str(tmp_path / "log" / "sync.log"),
           "CONSENTGUARD_BIN": str(Path(sys.executable).parent / "consentguard")}
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_ok_then_refused(tmp_path):
    ok = run(tmp_path, write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee", name="Y")]))
    assert ok.returncode == 0 and ok.stderr == ""
    (tmp_path / "empty.csv").write_text("")
    bad = run(tmp_path, tmp_path / "empty.csv")
    assert bad.returncode == 1
    assert bad.stderr.startswith("consentguard nightly sync FAILED (exit 1); yesterday's roster stays in force")
    log = (tmp_path / "log" / "sync.log").read_text()
    assert "students in export:     1" in log and "export is empty" in log and log.count("=== ") == 6  # sync and re-check, then the refused sync


@pytest.mark.slow
def test_photo_restricted_without_portrait_reaches_the_monitor(tmp_path):
    """Synced, but a photo-restricted student has no portrait: exit 3, and a line cron mails."""
    done = run(tmp_path, write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee", media="Y")]))
    assert done.returncode == 3
    assert done.stderr.startswith("consentguard nightly sync done, but protection is weaker (exit 3)")
    assert "1 photo-restricted student has no usable portrait" in done.stderr


@pytest.mark.slow
def test_a_caption_let_out_before_a_new_name_restriction_reaches_the_monitor(tmp_path):
    """The nightly job re-checks after the sync: a caption that passed and now names a newly
    name-restricted student is an alert (exit 4) with the re-check's summary line."""
    from PIL import Image

    assert run(tmp_path, write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee")])).returncode == 0
    Image.new("RGB", (40, 40), "white").save(tmp_path / "p.png")
    bin_ = Path(sys.executable).parent / "consentguard"
    checked = subprocess.run([str(bin_), "check", str(tmp_path / "p.png"), "--caption", "Ann Lee sings",
                              "--db", str(tmp_path / "cg.db")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    done = run(tmp_path, write_export(tmp_path / "e2.csv", [student("1", "Ann", "Lee", name="Y")]))
    assert done.returncode == 4, done.stderr
    assert done.stderr.startswith("consentguard nightly re-check: earlier posts need attention")
    assert "1 now show or name one" in done.stderr
