"""One writer at a time: syncs and rollbacks hold a lock for the whole run; a killed sync is
marked in the history by the next one; a rollback that restores a restriction says when the
face cannot be recognised."""

import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from consentguard import open_db, sync_roster
from consentguard.cli import cli
from consentguard.errors import SyncRefused
from consentguard.store.db import writer_lock

from conftest import ROOT, student, write_export


@pytest.mark.slow
def test_a_second_sync_waits_then_refuses_clearly(tmp_path, db_path):
    export = write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee", name="Y")])
    sync_roster(open_db(db_path), export)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from consentguard import open_db\n"
        "from consentguard.store.db import writer_lock\n"
        f"with writer_lock(open_db({str(db_path)!r}), 'sync'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(30)\n")], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        db = open_db(db_path)
        runs = db.execute("SELECT count(*) FROM sync_runs").fetchone()[0]
        started = time.monotonic()
        with pytest.raises(SyncRefused, match=r"another roster change is running \(sync by pid \d+ since"):
            with writer_lock(db, "sync", wait=1.0):
                pass
        assert time.monotonic() - started >= 1.0  # it waited first
        # the real sync: refused with the same words, and nothing written while another holds the lock
        r = CliRunner(env={"CONSENTGUARD_LOCK_WAIT": "0.5"}).invoke(cli, ["sync", str(export), "--db", str(db_path)])
        assert r.exit_code == 1 and "another roster change is running" in r.output
        assert db.execute("SELECT count(*) FROM sync_runs").fetchone()[0] == runs
    finally:
        holder.kill()
        holder.wait()
    assert sync_roster(open_db(db_path), export).sync_id  # free again once the holder is gone


@pytest.mark.slow
def test_a_killed_sync_is_marked_interrupted_by_the_next(tmp_path, db_path):
    export = write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee", name="Y")])
    sync_roster(open_db(db_path), export)
    # a sync killed after it recorded its start (the portraits can take minutes): its row says 'running'
    victim = subprocess.Popen([sys.executable, "-c", (
        "import os, signal\n"
        "from consentguard import open_db, sync_roster\n"
        "import consentguard.roster.sync as s\n"
        "def die(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "s.read_export = die\n"
        f"sync_roster(open_db({str(db_path)!r}), {str(export)!r})\n")], cwd=ROOT)
    victim.wait(timeout=60)
    db = open_db(db_path)
    assert db.execute("SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1").fetchone()[0] == "running"
    report = sync_roster(db, export)
    rows = db.execute("SELECT id, status, message FROM sync_runs ORDER BY id").fetchall()
    assert [r[1] for r in rows] == ["ok", "interrupted", "ok"] and rows[2][0] == report.sync_id
    assert "stopped before it finished" in rows[1][2] and "nothing of it was applied" in rows[1][2]


def test_rollback_that_restores_a_restriction_without_encodings_exits_3(tmp_path):
    db_path = tmp_path / "cg.db"
    runner = CliRunner()
    restricted = write_export(tmp_path / "a.csv", [student("1", "Ann", "Lee", photo="Y"),
                                                   student("2", "Bo", "Kim", name="Y")])
    cleared = write_export(tmp_path / "b.csv", [student("1", "Ann", "Lee"), student("2", "Bo", "Kim", name="Y")])
    assert runner.invoke(cli, ["sync", str(restricted), "--db", str(db_path)]).exit_code == 3  # no portrait
    assert runner.invoke(cli, ["sync", str(cleared), "--db", str(db_path), "--accept-drop"]).exit_code == 0
    r = runner.invoke(cli, ["roster", "rollback", "1", "--db", str(db_path)])
    assert r.exit_code == 3, r.output
    assert "Warning: rollback done, but protection is weaker: 1 photo-restricted student has no usable portrait" \
        in r.output


@pytest.mark.faces
def test_rollback_restores_the_face_encodings_of_a_restored_restriction(tmp_path, faces):
    """Lifting a restriction purges the encoding; rolling back re-imposes it and re-encodes the
    portrait on record, so the student's photo is blocked again at once (not after the next sync)."""
    import shutil

    from consentguard import Checker

    from conftest import R
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    db_path = tmp_path / "cg.db"
    runner = CliRunner()
    restricted = write_export(tmp_path / "a.csv", [student(R, "Marcus", "Ellery", photo="Y"),
                                                   student("2", "Bo", "Kim", name="Y")])
    cleared = write_export(tmp_path / "b.csv", [student(R, "Marcus", "Ellery"), student("2", "Bo", "Kim", name="Y")])
    assert runner.invoke(cli, ["sync", str(restricted), "--photos", str(portraits), "--db", str(db_path),
                               "--index", "restricted"]).exit_code == 0  # the privacy option: purges when cleared
    assert runner.invoke(cli, ["sync", str(cleared), "--db", str(db_path), "--accept-drop"]).exit_code == 0
    db = open_db(db_path)
    assert db.execute("SELECT count(*) FROM portraits WHERE encoding IS NOT NULL").fetchone()[0] == 0  # purged
    r = runner.invoke(cli, ["roster", "rollback", "1", "--db", str(db_path)])
    assert r.exit_code == 0, r.output
    assert Checker(open_db(db_path), record=False).check_path(faces.restricted_other).verdict == "block"
