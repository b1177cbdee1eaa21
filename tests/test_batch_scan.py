"""Issue #12, plumbing: each photo's evidence goes through the Checker, the scan (workers, cache,
reports) and ``check``, and every batch is decided together with the staff decisions in force.

Real photos (the ``faces`` fixture), a real SQLite file, real scans (workers=1). ``people.decide_batch``
may still be the placeholder (each photo decided alone, no items): these tests assert on the plumbing
(what reaches the batch decision, what comes back, what is stored), not on how people are grouped."""

from __future__ import annotations

import io
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from consentguard import open_db
from consentguard.cli import cli
from consentguard.decide import FaceEvidence
from consentguard.match.names import NameHit
from consentguard.people import PhotoEvidence
from consentguard.review import FaceDecision, ReviewItem, record_decision, save_items
from consentguard.runners.check import Checker, apply_decisions, iou
from consentguard.runners.scan import Checked, evidence_from_json, evidence_to_json, run_scan

from conftest import R

pytestmark = pytest.mark.faces


@pytest.fixture
def batch(tmp_path, faces, face_roster):
    """An event folder: the group photo (R blocked), R alone, C alone, a stranger; a copy of the roster."""
    root = tmp_path / "event"
    root.mkdir()
    shutil.copy(faces.group, root / "group.jpg")
    shutil.copy(faces.restricted_other, root / "marcus.jpg")
    shutil.copy(faces.clear_other, root / "jordan.jpg")
    shutil.copy(faces.stranger, root / "stranger.jpg")
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    return root, db


def by_name(scan) -> dict:
    return {Path(r.doc["path"]).name: r for r in scan.results}


def blocked_face(doc: dict) -> dict:
    return next(f for f in doc["faces"] if f["verdict"] == "block")


# -- the Checker ----------------------------------------------------------------------------

def test_a_photo_document_lists_its_review_items_when_the_decision_has_them():
    from consentguard.decide import Decision
    from consentguard.runners.check import decision_json

    assert decision_json(Decision("pass"))["review_items"] == []
    grouped = Decision("review")
    grouped.review_items = [ReviewItem("p-1f2e", "person", "resembles Marcus Ellery")]
    assert decision_json(grouped)["review_items"] == ["p-1f2e"]


def test_checker_keeps_the_evidence_out_of_the_json(face_roster, faces):
    """Each face carries its encoding and an upright close-up cropped from the photo; the JSON
    document (reports, audit) carries neither."""
    checker = Checker(open_db(face_roster), record=False)
    result = checker.check_path(faces.group)
    evidence = result.evidence
    assert isinstance(evidence, PhotoEvidence) and evidence.sha256 == result.sha256
    assert len(evidence.faces) == len(result.decision.faces) >= 2
    for face in evidence.faces:
        assert face.encoding is not None and face.encoding.shape == (128,)
        close = Image.open(io.BytesIO(face.closeup))
        assert close.format == "JPEG" and max(close.size) <= 112 and min(close.size) >= 50
    doc = json.dumps(result.to_json())
    assert "encoding" not in doc and "closeup" not in doc and "evidence" not in doc


def test_a_decision_in_force_reaches_the_face_it_is_about():
    """Boxes found again a few pixels off are the same face (IoU >= 0.5); another view, another
    photo or a far box is not; a photo-level decision reaches no face."""
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0 and iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    near = FaceDecision(1, "a" * 64, (104, 98, 204, 201), None, "not", R, "staff", "2026-11-22")
    framed = FaceDecision(2, "a" * 64, (100, 100, 200, 200), "frame 2 of 3", "is", R, "staff", "2026-11-22")
    photo = FaceDecision(3, "a" * 64, None, None, "cleared", None, "staff", "2026-11-22")
    other = FaceDecision(4, "b" * 64, (100, 100, 200, 200), None, "is", R, "staff", "2026-11-22")
    faces = [FaceEvidence((100, 100, 200, 200), None), FaceEvidence((400, 100, 500, 200), None),
             FaceEvidence((100, 100, 200, 200), None, view="frame 2 of 3")]
    faces[1].decided = [near]  # stale: replaced, never kept
    apply_decisions([PhotoEvidence("x.jpg", "a" * 64, faces)], {"a" * 64: [near, framed, photo], "b" * 64: [other]})
    assert [f.decided for f in faces] == [[near], [], [framed]]


def test_decide_together_replaces_each_decision_and_audits_once(face_roster, faces, tmp_path):
    shutil.copy(face_roster, tmp_path / "cg.db")
    checker = Checker(open_db(tmp_path / "cg.db"), record=True, interface="cli")
    # the session's roster may hold checks other tests recorded: count from here
    last = checker.db.execute("SELECT coalesce(max(id), 0) FROM checks").fetchone()[0]
    results = [checker.check_path(p, record=False) for p in (faces.group, faces.clear_other)]
    assert checker.db.execute("SELECT count(*) FROM checks WHERE id > ?", [last]).fetchone()[0] == 0
    before = [r.decision for r in results]
    items = checker.decide_together(results)
    assert isinstance(items, list) and all(isinstance(i, ReviewItem) for i in items)
    assert [r.decision is not d for r, d in zip(results, before)] == [True, True]  # decided again
    assert [r.verdict for r in results] == ["block", "pass"]
    rows = checker.db.execute("SELECT file_name, verdict FROM checks WHERE id > ? ORDER BY id", [last]).fetchall()
    assert rows == [(faces.group.name, "block"), (faces.clear_other.name, "pass")]


# -- evidence across processes and in the cache --------------------------------------------

def test_evidence_survives_the_worker_pickle_and_the_cache(face_roster, faces):
    """What a worker returns crosses the process boundary (pickle) whole, and what the cache keeps
    comes back the same: boxes, quality, encodings bit for bit, close-ups, names; the nearest
    students cut to the 10 nearest."""
    checker = Checker(open_db(face_roster), record=False)
    result = checker.check_path(faces.group, caption=None)
    result.evidence.names.append(NameHit(R, "Marcus Ellery", "ocr", "full", "review", 3, 16, (1, 2, 3, 4),
                                         "photo", None, "frame 2 of 3"))
    result.evidence.unchecked.append("metadata could not be read")
    sent = Checked(str(faces.group), result.to_json(), b"jpeg", "v1", result.evidence)
    got = pickle.loads(pickle.dumps(sent)).evidence
    stored = evidence_from_json(json.loads(json.dumps(evidence_to_json(result.evidence))), "moved.jpg",
                                result.sha256)
    for back in (got, stored):
        assert back.sha256 == result.sha256 and back.names == result.evidence.names
        assert back.unchecked == ["metadata could not be read"] and back.error is None
        for a, b in zip(result.evidence.faces, back.faces, strict=True):
            assert (a.box, a.view, a.sharpness, a.confirmed, a.rotation, a.on_photo) == \
                   (b.box, b.view, b.sharpness, b.confirmed, b.rotation, b.on_photo)
            assert np.array_equal(a.encoding, b.encoding) and a.closeup == b.closeup
            assert b.nearest == a.nearest[:10]
    assert stored.path == "moved.jpg"


def test_evidence_comes_back_from_worker_processes(batch, face_roster):
    """Two worker processes: each photo's evidence arrives whole in the scan (encodings as the
    same check in this process finds them) and is cached."""
    root, db_path = batch
    (root / "stranger.jpg").unlink()
    (root / "jordan.jpg").unlink()
    scan = run_scan(open_db(db_path), str(db_path), root, workers=2)
    here = Checker(open_db(face_roster), record=False)
    for r in scan.results:
        local = here.check_path(r.doc["path"]).evidence
        assert [f.box for f in r.evidence.faces] == [f.box for f in local.faces]
        assert all(np.allclose(a.encoding, b.encoding) for a, b in zip(r.evidence.faces, local.faces))
        assert all(f.closeup for f in r.evidence.faces)
    assert open_db(db_path).execute("SELECT count(*) FROM scan_cache WHERE evidence IS NOT NULL").fetchone()[0] == 2


def test_the_cache_keeps_the_10_nearest_students():
    """The cache keeps 10 nearest students per face (the scan matches the encoding against the
    index again before deciding: test_cached_photo_is_rematched_against_the_index)."""
    encoding = np.linspace(-0.1, 0.1, 128)
    face = FaceEvidence((0, 0, 100, 100), [(f"s{i}", 0.3 + i / 100) for i in range(15)], 120.0, encoding=encoding)
    kept = evidence_to_json(PhotoEvidence("x.jpg", "a" * 64, [face]))
    assert len(kept["faces"][0]["nearest"]) == 10 and kept["faces"][0]["width"] == 100


def test_cached_photo_is_rematched_against_the_index(batch):
    root, db_path = batch
    db = open_db(db_path)
    first = run_scan(db, str(db_path), root, workers=1)
    assert db.execute("SELECT count(*) FROM scan_cache WHERE evidence IS NOT NULL").fetchone()[0] == 4
    again = run_scan(db, str(db_path), root, workers=1)
    assert again.cached == 4
    checker = Checker(db, record=False)
    for r in again.results:
        fresh = by_name(first)[Path(r.doc["path"]).name]
        for face, was in zip(r.evidence.faces, fresh.evidence.faces, strict=True):
            assert face.nearest == checker.index.nearest(face.encoding) == was.nearest
        assert r.doc == fresh.doc


def test_a_damaged_cache_entry_is_checked_again(batch):
    root, db_path = batch
    db = open_db(db_path)
    first = run_scan(db, str(db_path), root, workers=1)
    db.execute("UPDATE scan_cache SET evidence = '{\"faces\": 1}'")
    again = run_scan(db, str(db_path), root, workers=1)
    assert again.cached == 0
    assert {n: r.verdict for n, r in by_name(again).items()} == {n: r.verdict for n, r in by_name(first).items()}


# -- the scan decides its batch ---------------------------------------------------------------

def test_scan_decides_the_batch_and_audits_each_photo_once(batch):
    root, db_path = batch
    db = open_db(db_path)
    scan = run_scan(db, str(db_path), root, workers=1)
    verdicts = {name: r.verdict for name, r in by_name(scan).items()}
    assert verdicts == {"group.jpg": "block", "marcus.jpg": "block", "jordan.jpg": "pass", "stranger.jpg": "pass"}
    assert all(r.evidence is not None for r in scan.results) and isinstance(scan.review_items, list)
    rows = db.execute("SELECT file_name, verdict FROM checks WHERE interface = 'scan'").fetchall()
    assert sorted(rows) == sorted(verdicts.items())  # the final verdict, once per photo
    again = run_scan(db, str(db_path), root, workers=1)
    assert again.cached == 4 and {n: r.verdict for n, r in by_name(again).items()} == verdicts
    assert db.execute("SELECT count(*) FROM checks WHERE interface = 'scan'").fetchone()[0] == 8


def test_a_decision_made_between_scans_reaches_the_cached_photo(batch):
    """Staff decide about the blocked face in the group photo; the next scan takes the group photo
    from the cache, yet its face carries the decision into the batch decision."""
    root, db_path = batch
    db = open_db(db_path)
    first = run_scan(db, str(db_path), root, workers=1)
    group = by_name(first)["group.jpg"]
    face = blocked_face(group.doc)
    wider = [face["box"][0] - 3, face["box"][1] + 2, face["box"][2] + 3, face["box"][3] + 1]  # drawn by hand
    decision_id = record_decision(db, group.doc["sha256"], wider, None, "not", R, by="staff", interface="cli")
    again = run_scan(db, str(db_path), root, workers=1)
    cached = by_name(again)["group.jpg"]
    assert cached.cached
    decided = [f for f in cached.evidence.faces if f.decided]
    assert [(f.box, [d.id for d in f.decided]) for f in decided] == [(tuple(face["box"]), [decision_id])]
    assert not any(f.decided for r in again.results if r is not cached for f in r.evidence.faces)


def test_a_not_decision_lifts_the_block_of_the_cached_photo(batch):
    root, db_path = batch
    db = open_db(db_path)
    first = run_scan(db, str(db_path), root, workers=1)
    group = by_name(first)["group.jpg"]
    record_decision(db, group.doc["sha256"], blocked_face(group.doc)["box"], None, "not", R, by="staff")
    again = run_scan(db, str(db_path), root, workers=1)
    assert by_name(again)["group.jpg"].cached and by_name(again)["group.jpg"].verdict != "block"


def test_a_restricted_student_in_two_photos_is_one_person(batch):
    """The scan groups their faces across the two photos (one person label) and blocks both; a blocked
    person is no decision left to staff, so no review item is about them."""
    root, db_path = batch
    scan = run_scan(open_db(db_path), str(db_path), root, workers=1)
    docs = {name: r.doc for name, r in by_name(scan).items()}
    persons = {blocked_face(docs[name])["person"] for name in ("group.jpg", "marcus.jpg")}
    assert len(persons) == 1 and None not in persons
    assert not any(R in {s["student_number"] for s in i.students} for i in scan.review_items)


def test_an_interrupted_scan_decides_what_it_checked(batch):
    root, db_path = batch
    db = open_db(db_path)
    seen = []

    def progress(_):
        seen.append(1)
        if len(seen) == 2:
            raise KeyboardInterrupt

    scan = run_scan(db, str(db_path), root, workers=1, progress=progress)
    assert scan.interrupted and len(scan.results) == 2
    rows = db.execute("SELECT file_name FROM checks WHERE interface = 'scan'").fetchall()
    assert sorted(r[0] for r in rows) == sorted(Path(r.doc["path"]).name for r in scan.results)


def test_scan_json_lists_the_review_items(batch, tmp_path):
    root, db = batch
    report = tmp_path / "r.json"
    r = CliRunner().invoke(cli, ["scan", str(root), "--workers", "1", "--json", "--json-file", str(report),
                                 "--db", str(db)])
    assert r.exit_code == 4, r.output
    for doc in (json.loads(r.stdout), json.loads(report.read_text())):
        assert isinstance(doc["review_items"], list)
        assert all({"id", "kind", "summary", "students", "photos", "faces", "reasons"} <= set(i)
                   for i in doc["review_items"])
        assert "encoding" not in json.dumps(doc) and "closeup" not in json.dumps(doc)
        assert [x["verdict"] for x in doc["results"]] == ["block", "block", "pass", "pass"]


def test_purge_all_empties_the_faces_kept_from_photos(batch):
    """The cached evidence and the review items' encodings are biometric: purge --all empties them,
    and the photos are then checked again (never passed from a cache without evidence)."""
    root, db_path = batch
    db = open_db(db_path)
    run_scan(db, str(db_path), root, workers=1)
    save_items(db, [ReviewItem("p1", "person", "resembles Marcus", encodings=[np.ones(128)])])
    db.execute("UPDATE review_items SET closeups = '[\"abc\"]'")
    r = CliRunner().invoke(cli, ["index", "purge", "--all", "--db", str(db_path)])
    assert r.exit_code == 0, r.output
    assert "4 cached scan result(s), 1 review item(s)" in r.output
    assert db.execute("SELECT count(*) FROM scan_cache WHERE evidence IS NOT NULL").fetchone()[0] == 0
    assert db.execute("SELECT encodings, closeups FROM review_items").fetchall() == [(None, None)]
    assert "cached scan results" in CliRunner().invoke(cli, ["index", "purge", "--help"]).output


def test_migration_7_drops_cache_rows_without_evidence(tmp_path):
    import sqlite3

    import sqlite_utils

    from consentguard.store.db import MIGRATIONS, SCHEMA_VERSION, _statements, migrate, schema_version


    db = sqlite_utils.Database(sqlite3.connect(tmp_path / "old.db", isolation_level=None))
    for number, script in enumerate(MIGRATIONS[:6]):
        if callable(script):
            script(db)
        else:
            for statement in _statements(script):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {number + 1}")
    db.execute("INSERT INTO scan_cache VALUES ('a', 'v', '{}', NULL)")
    migrate(db)
    assert schema_version(db) == SCHEMA_VERSION and "evidence" in db["scan_cache"].columns_dict
    assert db.execute("SELECT count(*) FROM scan_cache").fetchone()[0] == 0


# -- check, several photos ----------------------------------------------------------------------

def test_check_decides_its_photos_together(face_roster, faces, tmp_path):
    """Two photos in one check: the same verdicts as each alone (until grouping lands), the batch's
    review items in the JSON, each photo's final verdict audited once."""
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    alone = {}
    start = open_db(db).execute("SELECT count(*) FROM checks").fetchone()[0]
    for photo in (faces.restricted_other, faces.clear_other):
        r = CliRunner().invoke(cli, ["check", str(photo), "--json", "--no-ocr", "--db", str(db)])
        alone[str(photo)] = json.loads(r.stdout)["results"][0]["verdict"]
    count = open_db(db).execute("SELECT count(*) FROM checks").fetchone()[0]
    assert count == start + 2
    r = CliRunner().invoke(cli, ["check", str(faces.restricted_other), str(faces.clear_other), "--json",
                                 "--no-ocr", "--db", str(db)])
    assert r.exit_code == 4, r.output
    doc = json.loads(r.stdout)
    assert {x["path"]: x["verdict"] for x in doc["results"]} == alone
    assert isinstance(doc["review_items"], list)
    rows = open_db(db).execute("SELECT file_name, verdict FROM checks WHERE id > ? ORDER BY id", [count]).fetchall()
    assert rows == [(faces.restricted_other.name, "block"), (faces.clear_other.name, "pass")]
    text = CliRunner().invoke(cli, ["check", str(faces.restricted_other), str(faces.clear_other), "--no-ocr",
                                    "--db", str(db)])
    assert text.output.splitlines()[0].startswith("BLOCK") and "2 photos: 1 block, 1 pass" in text.output


def test_a_decision_about_one_face_never_reaches_an_overlapping_other_face():
    """Red team (#12): two faces overlapping by IoU >= 0.5 (a child half in front of another in a crowd).
    Staff confirmed the face in front as permitted Ben; the one behind matches photo-restricted Ana
    closely. The decision is about one face: it reaches the face that overlaps its box most, only,
    so the restricted face still blocks (before: both faces took it, and the photo passed)."""
    from consentguard.decide import RosterContext
    from consentguard.match.index import Student
    from consentguard.people import decide_batch
    from consentguard.policy import Policy

    students = {"1": Student("1", "Ana", "Ruiz", True, False), "2": Student("2", "Ben", "Cole", False, False)}
    context = RosterContext(students, 1, 1, 1)
    front, behind = (100, 100, 200, 200), (130, 100, 230, 200)
    assert iou(front, behind) >= 0.5
    ben = FaceDecision(1, "a" * 64, front, None, "is", "2", "Dana Office", "2026-11-22T03:00:00")
    faces = [FaceEvidence(front, [("2", 0.62), ("1", 0.70)]), FaceEvidence(behind, [("1", 0.30), ("2", 0.75)])]
    photos = [PhotoEvidence("crowd.jpg", "a" * 64, faces)]
    apply_decisions(photos, {"a" * 64: [ben]})
    assert [f.decided for f in faces] == [[ben], []]
    [decision], _ = decide_batch(photos, context, Policy(), {"a" * 64: [ben]})
    assert decision.verdict == "block" and [f.verdict for f in decision.faces] == ["pass", "block"]
    assert "matches photo-restricted Ana Ruiz (#1)" in decision.reasons[0]


def test_a_reference_added_during_a_scan_reaches_every_photo_of_its_batch(batch):
    """Red team (#12): staff confirm a face as Marcus (photo-restricted) in review while a scan runs,
    which adds one of his references. The batch is decided at the end against the index as it is
    then: every photo is matched again, the cached ones the scan took before the reference landed
    too (before: matched against the index at the start, so the stranger.jpg face, which is that
    very face, passed)."""
    from consentguard.match.index import encoding_to_blob
    from consentguard.store.db import latest_sync_id

    root, db_path = batch
    db = open_db(db_path)
    first = run_scan(db, str(db_path), root, workers=1)
    stranger = by_name(first)["stranger.jpg"]
    assert stranger.verdict == "pass"
    face = stranger.evidence.faces[0]

    def confirm_in_review(_):
        if not db.execute("SELECT 1 FROM portraits WHERE source = 'review:mid-scan'").fetchone():
            db.execute("INSERT INTO portraits (student_number, sha256, source, box, encoding, status, sync_id) "
                       "VALUES (?, ?, 'review:mid-scan', ?, ?, 'encoded', ?)",
                       [R, stranger.doc["sha256"], json.dumps(list(face.box)), encoding_to_blob(face.encoding),
                        latest_sync_id(db)])

    again = run_scan(db, str(db_path), root, workers=1, progress=confirm_in_review)
    assert again.cached == 4
    assert by_name(again)["stranger.jpg"].verdict == "block"
