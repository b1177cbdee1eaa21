"""Sync stage: all or nothing, and a missing row never clears an opt-out."""

import shutil

import pytest

from consentguard import open_db, sync_roster
from consentguard.errors import SyncRefused

from conftest import C, R, student, write_export


def restrictions(db):
    return {r["student_number"]: (r["photo_restricted"], r["name_restricted"])
            for r in db.query("SELECT * FROM students")}


def test_absent_student_keeps_restriction(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", [student("1", "Ann", "Lee", media="Y"), student("2", "Bo", "Kim")]))
    report = sync_roster(db, write_export(tmp_path / "b.csv", [student("2", "Bo", "Kim")]))
    assert restrictions(db)["1"] == (1, 1)
    assert report.kept_absent == 1


def test_refused_sync_changes_nothing(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", [student("1", "Ann", "Lee", media="Y")]))
    before = restrictions(db)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SyncRefused):
        sync_roster(db, tmp_path / "empty.csv")
    assert restrictions(db) == before
    runs = list(db.query("SELECT status, message FROM sync_runs ORDER BY id"))
    assert [r["status"] for r in runs] == ["ok", "refused"]
    assert runs[1]["message"].endswith("export is empty; nothing imported, yesterday's roster stays in force")


def test_failure_midway_rolls_back(tmp_path, db_path, monkeypatch):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", [student("1", "Ann", "Lee", media="Y")]))
    import consentguard.roster.sync as s
    monkeypatch.setattr(s.face_index, "purge_unneeded", lambda db: 1 / 0)  # fails after the upserts
    with pytest.raises(Exception, match="sync failed and was rolled back"):
        sync_roster(db, write_export(tmp_path / "b.csv", [student("1", "Ann", "Lee")]))
    assert restrictions(db)["1"] == (1, 1)
    assert [r["status"] for r in db.query("SELECT status FROM sync_runs ORDER BY id")] == ["ok", "failed"]
    assert db.execute("SELECT count(*) FROM student_changes WHERE sync_id > 1").fetchone()[0] == 0


def test_change_report(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", [student("1", "Ann", "Lee", media="Y"), student("2", "Bo", "Kim")]))
    report = sync_roster(db, write_export(tmp_path / "b.csv", [student("1", "Ann", "Lee"), student("2", "Bo", "Kim", photo="Y")]))
    assert report.newly_cleared == ["1"] and report.newly_restricted == ["2"]
    run = db["sync_runs"].get(2)
    assert run["status"] == "ok" and run["students"] == 2 and len(run["source_sha256"]) == 64


@pytest.mark.faces
def test_portraits_encoded_once_and_purged_when_cleared(tmp_path, db_path, faces):
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.clear_portrait, portraits / f"{C}.jpg")
    shutil.copy(faces.group, portraits / "900005.jpg")
    (portraits / "900006.png").write_bytes(b"\x89PNG broken")
    rows = [student(R, "Marcus", "Ellery", photo="Y"), student(C, "Jordan", "Whitfield"),
            student("900005", "Group", "Shot", media="Y"), student("900006", "Bad", "File", media="Y")]
    db = open_db(db_path)
    first = sync_roster(db, write_export(tmp_path / "a.csv", rows), portraits, index_policy="restricted")
    # the group shot of a photo-restricted "student": two comparable faces are both enrolled (fail
    # closed); three or more (the shared set's group photo) are a group photo, refused
    both = any("900005.jpg shows two faces, at [" in p and "both enrolled" in p for p in first.problems)
    assert both or any("900005.jpg shows 3 faces, at [" in p and "not used" in p for p in first.problems)
    assert first.portraits_encoded == 1 + both
    assert any("900006.png cannot be read" in p for p in first.problems)
    # Only photo-restricted students are indexed: no encoding of C is stored.
    assert db.execute("SELECT count(*) FROM portraits WHERE student_number = ?", [C]).fetchone()[0] == 0
    again = sync_roster(db, write_export(tmp_path / "b.csv", rows), portraits)
    # a restricted student's portrait refused for its faces is tried again (it may be usable now)
    assert (again.portraits_encoded, again.portraits_reused) == (0, 2 + both)
    rows[0] = student(R, "Marcus", "Ellery")
    sync_roster(db, write_export(tmp_path / "c.csv", rows), portraits)
    assert db.execute("SELECT count(*) FROM portraits WHERE encoding IS NOT NULL AND student_number = ?",
                      [R]).fetchone()[0] == 0


def test_missing_portrait_folder(tmp_path, db_path):
    from consentguard.errors import RosterError
    with pytest.raises(RosterError, match="portrait folder not found"):
        sync_roster(open_db(db_path), write_export(tmp_path / "a.csv", [student("1", "A", "B", media="Y")]),
                    tmp_path / "nope")
