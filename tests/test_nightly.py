"""The nightly script: logs, and exits non-zero (with a stderr alert) when a sync is refused."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, student, write_export

SCRIPT = ROOT / "scripts" / "nightly-sync"


def run(tmp_path, export, **settings):
    env = {**os.environ, "CONSENTGUARD_EXPORT": str(export), "CONSENTGUARD_DB": str(tmp_path / "cg.db"),
           "CONSENTGUARD_LOG": str(tmp_path / "log" / "sync.log"),
           "CONSENTGUARD_BIN": str(Path(sys.executable).parent / "consentguard"), **settings}
    return subprocess.run(["bash", str(SCRIPT)], env={k: v for k, v in env.items() if v is not None},
                          capture_output=True, text=True)


@pytest.mark.slow
def test_ok_then_refused(tmp_path):
    ok = run(tmp_path, write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee", name="Y")]))
    assert ok.returncode == 0 and ok.stderr == ""
    (tmp_path / "empty.csv").write_text("")
    bad = run(tmp_path, tmp_path / "empty.csv")
    assert bad.returncode == 1
    assert bad.stderr.startswith("consentguard nightly sync FAILED (exit 1); yesterday's roster stays in force")
    log = (tmp_path / "log" / "sync.log").read_text()
    assert "students in export:     1" in log and "export is empty" in log and log.count("=== ") == 10  # sync, re-check and audit verify; then the refused sync and audit verify
    assert log.count("audit trail intact: ") == 2


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


@pytest.mark.slow
def test_a_oneroster_district_passes_its_preset_consent_file_and_index(tmp_path):
    """Every sync option has its variable: a OneRoster export joined to its consent file."""
    sample = ROOT / "sample_roster" / "oneroster-1.1"
    done = run(tmp_path, sample / "users.csv", CONSENTGUARD_PRESET="oneroster-1.1",
               CONSENTGUARD_CONSENT=str(sample / "consent.csv"), CONSENTGUARD_INDEX="restricted")
    log = (tmp_path / "log" / "sync.log").read_text()
    assert "sync " + str(sample / "users.csv") + " --preset oneroster-1.1 --consent " in log
    assert "--index restricted" in log
    assert done.returncode in (0, 3), done.stderr  # 3: the sample has no portraits
    listed = subprocess.run([str(Path(sys.executable).parent / "consentguard"), "roster", "list", "--restricted",
                             "--db", str(tmp_path / "cg.db")], capture_output=True, text=True).stdout
    marcus = next(line for line in listed.splitlines() if line.startswith("100104\t"))
    assert marcus.split("\t")[1:3] == ["Marcus Ellery", "all"], listed  # Photo_Opt_Out=Y, from consent.csv


@pytest.mark.parametrize("settings, said", [
    ({"CONSENTGUARD_BIN": "/nowhere/consentguard"}, "the consentguard command '/nowhere/consentguard' was not found"),
    ({"CONSENTGUARD_EXPORT": ""}, "set CONSENTGUARD_EXPORT to the SIS export file"),
    ({"CONSENTGUARD_ACCEPT_DROP": "1"}, "CONSENTGUARD_ACCEPT_DROP is not read by the nightly job"),
    ({"CONSENTGUARD_INDEX": "everyone"}, "CONSENTGUARD_INDEX must be all or restricted, not 'everyone'"),
])
def test_a_misconfigured_job_exits_2_saying_what_is_missing(tmp_path, settings, said):
    done = run(tmp_path, tmp_path / "export.csv", **settings)
    assert done.returncode == 2
    assert done.stderr.startswith("consentguard nightly sync NOT run (exit 2): " + said), done.stderr
    assert not (tmp_path / "cg.db").exists()


@pytest.mark.slow
def test_an_edited_audit_row_is_an_alert_after_the_sync(tmp_path):
    import sqlite3

    export = write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee", name="Y")])
    assert run(tmp_path, export).returncode == 0
    bin_ = str(Path(sys.executable).parent / "consentguard")
    from PIL import Image
    Image.new("RGB", (40, 40), "white").save(tmp_path / "p.png")
    subprocess.run([bin_, "check", str(tmp_path / "p.png"), "--db", str(tmp_path / "cg.db")], capture_output=True)
    with sqlite3.connect(tmp_path / "cg.db") as db:  # someone with the file, and sqlite3, rewrites history
        db.executescript("DROP TRIGGER checks_append_only_update; "
                         "UPDATE checks SET verdict = 'block' WHERE id = (SELECT max(id) FROM checks);")
    done = run(tmp_path, export)
    assert done.returncode == 6, done.stderr
    assert done.stderr.startswith("consentguard nightly: the audit trail did NOT pass its check (exit 1)")
