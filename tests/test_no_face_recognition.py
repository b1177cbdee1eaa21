"""Issue #16: a district that may not use face recognition (`config set face_recognition off`).

No portrait is encoded or stored (existing encodings deleted at once), faces are still found but
never identified (a photo with faces is a review), names are checked as before, and nothing
biometric is written: every table of the real SQLite file, and its raw bytes, are searched for the
encodings and face close-ups the same photos give with face recognition on."""

import base64
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from consentguard import Checker, open_db
from consentguard.cli import cli
from consentguard.decide import NO_FR
from consentguard.policy import Policy

from conftest import C, N, R, portrait_folder, student, write_export
from helpers.videos import face_card, make_clip

pytestmark = pytest.mark.faces

ROSTER = [student(R, "Marcus", "Ellery", photo="Y"), student(C, "Jordan", "Whitfield"),
          student(N, "Priya", "Natarajan", name="Yes")]


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


@pytest.fixture
def school(faces, tmp_path):
    portraits = portrait_folder(faces, tmp_path / "portraits")
    db = tmp_path / "data" / "cg.db"
    db.parent.mkdir()
    export = write_export(tmp_path / "export.csv", ROSTER)
    return db, export, portraits


def biometric_values(db_path) -> list[str]:
    """Where the database holds a face encoding (128 numbers, as a blob, JSON list or base64) or a
    face close-up (a small JPEG, raw or base64): "table.column" for each."""
    found = []
    db = open_db(db_path)

    def looks_biometric(value) -> bool:
        if isinstance(value, (bytes, bytearray)):
            if value[:2] == b"\xff\xd8":  # a JPEG: a face close-up is at most 128 px; a photo thumbnail 360
                from io import BytesIO

                from PIL import Image
                return max(Image.open(BytesIO(value)).size) <= 160
            return len(value) > 0 and len(value) % 512 == 0  # 128 float32 or float64, one or more
        if isinstance(value, str):
            if len(value) >= 600:
                try:
                    return looks_biometric(base64.b64decode(value, validate=True))
                except ValueError:
                    pass
            try:
                return looks_biometric(json.loads(value)) if value[:1] in "[{" else False
            except ValueError:
                return False
        if isinstance(value, list):
            if len(value) == 128 and all(isinstance(x, float) for x in value):
                return True
            return any(looks_biometric(v) for v in value)
        if isinstance(value, dict):
            return any(looks_biometric(v) for v in value.values())
        return False

    for table in db.table_names():
        columns = [c.name for c in db[table].columns]
        for row in db.execute(f"SELECT * FROM [{table}]"):
            found += [f"{table}.{col}" for col, value in zip(columns, row) if looks_biometric(value)]
    return sorted(set(found))


def test_turned_off_the_encodings_go_at_once_and_index_status_says_so(school, faces):
    db, export, portraits = school
    assert run("sync", export, "--photos", portraits, "--db", db).exit_code == 0
    Checker(open_db(db)).check_path(faces.group)  # a check keeps nothing biometric; a review item would
    raw = {r[0] for r in open_db(db).execute("SELECT encoding FROM portraits WHERE encoding IS NOT NULL")}
    assert len(raw) == 2 and json.loads(run("index", "status", "--json", "--db", db).output)["encodings"] == 2
    off = run("config", "set", "face_recognition", "off", "--db", db)
    assert off.exit_code == 0, off.output
    assert "face recognition is off: deleted 2 portrait encoding(s)" in off.output
    status = json.loads(run("index", "status", "--json", "--db", db).output)
    assert status == {"face_recognition": "off", "index_mode": "all", "encodings": 0, "students_indexed": 0,
                      "review_references": 0, "cached_results_with_faces": 0, "review_items_with_faces": 0}
    data = db.read_bytes() + (db.with_name(db.name + "-wal").read_bytes() if db.with_name(db.name + "-wal").exists()
                              else b"")
    assert not any(blob in data for blob in raw)  # overwritten, not only unlinked (secure_delete)


def test_with_it_off_faces_are_reviews_names_are_checked_and_nothing_biometric_is_written(school, faces, tmp_path):
    db, export, portraits = school
    assert run("config", "set", "face_recognition", "off", "--db", db).exit_code == 0
    synced = run("sync", export, "--photos", portraits, "--db", db)
    assert synced.exit_code == 0, synced.output  # not "protection is weaker": no face is identified by design
    assert "portraits encoded:      0 new" in synced.output and "face recognition is off: the portraits" in synced.output

    checker = Checker(open_db(db), Policy())  # a caller's default policy: the saved "off" still wins
    assert checker.policy.face_recognition is False
    marcus = checker.check_path(faces.restricted_other)
    assert marcus.verdict == "review" and marcus.reasons[0].endswith(NO_FR), marcus.reasons
    assert all(f.student_number is None for f in marcus.decision.faces)
    group = checker.check_path(faces.group)
    assert group.verdict == "review" and any(r.endswith("faces: " + NO_FR) for r in group.reasons), group.reasons
    from PIL import Image
    Image.new("RGB", (64, 64), "white").save(tmp_path / "empty.png")
    assert checker.check_path(tmp_path / "empty.png", "Priya Natarajan wins").verdict == "block"  # names as before
    assert checker.check_path(tmp_path / "empty.png", "The science fair").verdict == "pass"  # no face, no name

    folder = tmp_path / "event"
    folder.mkdir()
    shutil.copy(faces.group, folder / "group.jpg")
    shutil.copy(faces.restricted_other, folder / "marcus.jpg")
    make_clip(folder / "clip.mp4", 2, [(0.5, 1.5, face_card(faces.restricted_other))], fps=10)
    scanned = run("scan", folder, "--workers", "1", "--json", "--db", db, "-q")
    assert scanned.exit_code in (1, 2, 3), scanned.output  # reviews
    doc = json.loads(scanned.output)
    assert {r["verdict"] for r in doc["results"]} == {"review"}
    assert biometric_values(db) == []
    status = json.loads(run("index", "status", "--json", "--db", db).output)
    assert status["encodings"] == 0 and status["cached_results_with_faces"] == 0
    assert sorted(p.name for p in db.parent.iterdir() if not p.name.startswith(db.name)) == [], list(db.parent.iterdir())


def test_the_check_for_biometric_data_finds_it_when_face_recognition_is_on(school, faces, tmp_path):
    """The search above can fail: the same scan with face recognition on leaves encodings and close-ups."""
    db, export, portraits = school
    assert run("sync", export, "--photos", portraits, "--db", db).exit_code == 0
    folder = tmp_path / "event"
    folder.mkdir()
    shutil.copy(faces.group, folder / "group.jpg")
    run("scan", folder, "--workers", "1", "--db", db, "-q")
    assert {"portraits.encoding", "scan_cache.evidence"} <= set(biometric_values(db))


def test_turned_on_again_photos_with_faces_stay_reviews_until_the_next_sync(school, faces):
    db, export, portraits = school
    run("sync", export, "--photos", portraits, "--db", db)
    run("config", "set", "face_recognition", "off", "--db", db)
    on = run("config", "unset", "face_recognition", "--db", db)
    assert "portraits are encoded at the next sync" in on.output
    assert Checker(open_db(db)).check_path(faces.clear_other).verdict == "review"  # nobody can be recognised yet
    run("sync", export, "--photos", portraits, "--db", db)
    assert Checker(open_db(db)).check_path(faces.restricted_other).verdict == "block"
    assert json.loads(run("index", "status", "--json", "--db", db).output)["encodings"] == 2
    np.testing.assert_equal(len(open_db(db).execute("SELECT * FROM portraits").fetchall()) >= 2, True)


def test_a_running_checker_stops_recognising_as_soon_as_it_is_turned_off(school, faces):
    """A server's worker keeps its checker for weeks: turned off with nothing to purge, it still
    rebuilds (and no longer encodes) at the next photo."""
    db, export, portraits = school
    run("sync", export, "--db", db)  # no portraits: nothing to purge when it is turned off
    checker = Checker(open_db(db))
    assert checker.policy.face_recognition is True
    run("config", "set", "face_recognition", "off", "--db", db)
    fresh = checker.current()
    assert fresh is not checker and fresh.policy.face_recognition is False
    assert fresh.check_path(faces.clear_other).decision.faces[0].kind == "no-fr"
