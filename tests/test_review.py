"""The review queue (issue #12 part 3): items built from real faces (real dlib encodings, real
close-ups cut with Pillow) in a real SQLite file; decided and undone from the CLI and the page's
API; a confirmed face of a restricted student becomes one of their references; the HTML report
shows the queue first."""

from __future__ import annotations

import io
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from consentguard import open_db
from consentguard.cli import cli

from conftest import C, R
from helpers.photos import face_of
from helpers.review import person_item

pytestmark = pytest.mark.faces


def photo_item(path: Path, item_id="f-meta"):
    from consentguard.inspect.image import sha256_bytes
    from consentguard.review import ReviewItem

    return ReviewItem(id=item_id, kind="photo", summary=f"{path.name}: metadata could not be read",
                      photos=[str(path)], faces=[{"path": str(path), "sha256": sha256_bytes(path.read_bytes()),
                                                  "box": None, "view": None}],
                      reasons=["XMP packet could not be read"])


@pytest.fixture
def db_file(face_roster, tmp_path):
    path = tmp_path / "cg.db"
    shutil.copy(face_roster, path)
    anchor = face_roster.with_name(face_roster.name + ".audit-anchor")  # other tests may have audited in it
    if anchor.exists():
        shutil.copy(anchor, path.with_name(path.name + ".audit-anchor"))
    return path


def cg(db_file, *args):
    return CliRunner().invoke(cli, [*args, "--db", str(db_file)])


def saved(db_file, *items):
    from consentguard.review import save_items

    db = open_db(db_file)
    save_items(db, list(items))
    return db


# -- storing and listing ---------------------------------------------------------------------

def test_items_keep_their_encodings_and_closeups(db_file, real_faces):
    from consentguard.review import load_item

    item = person_item(real_faces)
    db = saved(db_file, item)
    back = load_item(db, item.id)
    assert back.status == "open" and back.faces == item.faces
    assert all(np.array_equal(a, b) for a, b in zip(back.encodings, item.encodings))
    assert back.closeups == item.closeups
    for picture, (_, _, face, _) in zip(back.closeups, real_faces.values()):
        with Image.open(io.BytesIO(picture)) as im:
            assert im.format == "JPEG" and min(im.size) >= 96  # a face a person can judge, not a dot


def test_closeup_enlarges_a_small_face(faces):
    """A 24 px face of a wide shot becomes a 128 px close-up."""
    from consentguard.review import closeup

    rgb, face = face_of(faces.restricted_other)
    small = np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] // 8, rgb.shape[0] // 8)))
    box = tuple(v // 8 for v in face.box)
    with Image.open(io.BytesIO(closeup(small, box))) as im:
        assert min(im.size) == 128


def test_review_list_and_show(db_file, real_faces, tmp_path):
    item = person_item(real_faces)
    saved(db_file, item)
    listed = cg(db_file, "review", "list")
    assert listed.exit_code == 0, listed.output
    assert item.id in listed.output and "Marcus Ellery #900001 (0.58)" in listed.output
    as_json = json.loads(cg(db_file, "review", "list", "--json").stdout)
    (doc,) = as_json["review_items"]
    assert doc["id"] == item.id and doc["kind"] == "person" and doc["status"] == "open"
    assert doc["students"][0]["student_number"] == R and len(doc["faces"]) == 2 and doc["decisions"] == []
    shown = cg(db_file, "review", "show", item.id, "--closeups", str(tmp_path / "close"))
    assert shown.exit_code == 0, shown.output
    assert f"face 1: {real_faces['r'][0]} box {list(real_faces['r'][2].box)}" in shown.output
    assert "distance 0.58" in shown.output
    written = sorted((tmp_path / "close").iterdir())
    assert [p.name for p in written] == [f"{item.id}-face1.jpg", f"{item.id}-face2.jpg"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in written)  # faces of minors: owner only
    assert cg(db_file, "review", "show", "nope").output.strip() == \
        "Error: no review item 'nope' (consentguard review list shows the open ones)"


# -- deciding ------------------------------------------------------------------------------

def test_decide_not_is_recorded_per_face_audited_and_leaves_the_queue(db_file, real_faces):
    from consentguard.review import decisions_for

    item = person_item(real_faces)
    db = saved(db_file, item)
    result = cg(db_file, "review", "decide", item.id, "--not", R, "--by", "Dana Office", "--note", "a parent")
    assert result.exit_code == 0, result.output
    assert "2 decisions recorded" in result.output and "item decided" in result.output
    found = decisions_for(db, [f["sha256"] for f in item.faces])
    got = sorted((d.sha256, d.box, d.decision, d.student_number, d.decided_by, d.item_id)
                 for ds in found.values() for d in ds)
    assert got == sorted((f["sha256"], tuple(f["box"]), "not", R, "Dana Office", item.id) for f in item.faces)
    events = db.execute("SELECT event, os_user, note FROM checks WHERE event = 'review-decision'").fetchall()
    assert events == [("review-decision", "Dana Office", "a parent")] * 2
    assert item.id not in cg(db_file, "review", "list").output
    assert item.id in cg(db_file, "review", "list", "--all").output
    again = cg(db_file, "review", "decide", item.id, "--is", R, "--by", "Dana Office")
    assert again.exit_code == 1 and "already decided" in again.output
    assert db.execute("SELECT count(*) FROM portraits WHERE source LIKE 'review:%'").fetchone()[0] == 0


def test_a_student_not_on_the_roster_is_refused_in_one_line(db_file, real_faces):
    item = person_item(real_faces)
    db = saved(db_file, item)
    result = cg(db_file, "review", "decide", item.id, "--is", "123456", "--by", "Dana Office")
    assert result.exit_code == 1
    assert result.output == "Error: student number '123456' is not on the roster\n"
    assert db.execute("SELECT count(*) FROM face_decisions").fetchone()[0] == 0
    assert db.execute("SELECT status FROM review_items").fetchone()[0] == "open"
    both = cg(db_file, "review", "decide", item.id, "--is", R, "--not", R, "--by", "x")
    assert both.exit_code == 2 and "exactly one of" in both.output
    nameless = cg(db_file, "review", "decide", item.id, "--is", R, "--by", " ")
    assert nameless.exit_code == 1 and "name of the person" in nameless.output


def test_confirmed_face_of_a_restricted_student_becomes_a_reference(db_file, real_faces, face_roster):
    """The face confirmed as R is stored like a portrait: the index matches it from the next check,
    a roster sync keeps it, index purge --all deletes its encoding (and the item's biometrics)."""
    from consentguard import Checker, sync_roster
    from consentguard.match.index import load_index
    from consentguard.store.db import latest_sync_id

    item = person_item(real_faces, keys=("r",))
    db = saved(db_file, item)
    before = load_index(db)
    running = Checker(db, record=False)
    assert running.current() is running
    first = running.check_path(real_faces["r"][0])
    assert min(f.distance for f in first.decision.faces if f.student_number == R) > 0.2
    result = cg(db_file, "review", "decide", item.id, "--is", R, "--by", "Dana Office")
    assert result.exit_code == 0, result.output
    assert "1 face added to the student's references" in result.output
    (row,) = db.execute("SELECT student_number, sha256, source, box, status, sync_id, encoding FROM portraits "
                        "WHERE source LIKE 'review:%'").fetchall()
    path, sha, face, _ = real_faces["r"]
    assert row[:6] == (R, sha, f"review:{item.id}", json.dumps(list(face.box)), "encoded", latest_sync_id(db))
    assert np.array_equal(np.frombuffer(row[6]), face.encoding)
    after = load_index(db)
    assert after.owners.count(R) == before.owners.count(R) + 1
    assert after.nearest(face.encoding)[0] == (R, pytest.approx(0.0, abs=1e-6))
    assert running.current() is not running  # a server's checker picks the reference up at once
    checked = Checker(db, record=False).check_path(path)  # the next check matches the photo to it
    assert min(f.distance for f in checked.decision.faces if f.student_number == R) < 1e-6
    assert checked.verdict == "block"

    export = face_roster.parent / "export.csv"
    report = sync_roster(db, export, face_roster.parent / "portraits")
    assert report.sync_id == latest_sync_id(db)
    assert db.execute("SELECT count(*) FROM portraits WHERE source = ? AND encoding IS NOT NULL",
                      [f"review:{item.id}"]).fetchone()[0] == 1  # a sync keeps it

    purged = cg(db_file, "index", "purge")  # only what the policy no longer needs: R is restricted
    assert purged.exit_code == 0 and db.execute(
        "SELECT count(*) FROM portraits WHERE source LIKE 'review:%' AND encoding IS NOT NULL").fetchone()[0] == 1
    assert cg(db_file, "index", "purge", "--all").exit_code == 0
    assert db.execute("SELECT count(*) FROM portraits WHERE encoding IS NOT NULL").fetchone()[0] == 0
    assert db.execute("SELECT encodings, closeups FROM review_items").fetchall() == [(None, None)]
    assert db.execute("SELECT count(*) FROM face_decisions").fetchone()[0] == 1  # the decision stays


def test_a_permitted_students_face_is_never_stored(db_file, real_faces):
    item = person_item(real_faces, keys=("s",))
    item.students = [{"student_number": C, "name": "Jordan Whitfield", "distance": 0.55}]
    db = saved(db_file, item)
    assert cg(db_file, "review", "decide", item.id, "--is", C, "--by", "Dana Office").exit_code == 0
    assert db.execute("SELECT count(*) FROM portraits WHERE source LIKE 'review:%'").fetchone()[0] == 0


def test_chosen_faces_only_and_the_item_stays_open_until_every_face_is_decided(db_file, real_faces):
    item = person_item(real_faces)
    db = saved(db_file, item)
    first = cg(db_file, "review", "decide", item.id, "--is", R, "--face", "1", "--by", "Dana Office")
    assert first.exit_code == 0 and "1 decision recorded" in first.output and "item open" in first.output
    assert cg(db_file, "review", "decide", item.id, "--not", R, "--face", "3", "--by", "D").output.strip() == \
        f"Error: item {item.id} has faces 1 to 2; no face 3"
    rest = cg(db_file, "review", "decide", item.id, "--not", R, "--by", "Dana Office")
    assert "1 decision recorded" in rest.output and "item decided" in rest.output  # only the face left
    rows = db.execute("SELECT decision FROM face_decisions ORDER BY id").fetchall()
    assert rows == [("is",), ("not",)]


def test_photo_item_is_cleared_for_the_whole_photo(db_file, faces):
    from consentguard.review import decisions_for

    item = photo_item(faces.group)
    db = saved(db_file, item)
    wrong = cg(db_file, "review", "decide", item.id, "--not", R, "--by", "Dana Office")
    assert wrong.exit_code == 1 and "--cleared" in wrong.output
    done = cg(db_file, "review", "decide", item.id, "--cleared", "--by", "Dana Office")
    assert done.exit_code == 0, done.output
    (decision,) = decisions_for(db, [item.faces[0]["sha256"]])[item.faces[0]["sha256"]]
    assert decision.box is None and decision.decision == "cleared" and decision.student_number is None


def test_undo_reopens_the_item_removes_the_reference_and_is_audited(db_file, real_faces):
    from consentguard.review import decisions_for
    from consentguard.store.audit import verify

    item = person_item(real_faces, keys=("r",))
    db = saved(db_file, item)
    cg(db_file, "review", "decide", item.id, "--is", R, "--by", "Dana Office")
    (decision_id,) = db.execute("SELECT id FROM face_decisions").fetchone()
    undone = cg(db_file, "review", "undo", str(decision_id), "--by", "A. Admin")
    assert undone.exit_code == 0, undone.output
    assert db.execute("SELECT undone_by, undone_at IS NOT NULL, undo_audit_id IS NOT NULL FROM face_decisions"
                      ).fetchone() == ("A. Admin", 1, 1)
    assert db.execute("SELECT count(*) FROM portraits WHERE source LIKE 'review:%'").fetchone()[0] == 0
    assert db.execute("SELECT status FROM review_items").fetchone()[0] == "open"
    assert decisions_for(db, [real_faces["r"][1]]) == {}
    (event,) = db.execute("SELECT event, os_user, ref_id FROM checks WHERE event = 'review-undo'").fetchall()
    assert event[:2] == ("review-undo", "A. Admin") and event[2] is not None
    assert verify(db).ok
    twice = cg(db_file, "review", "undo", str(decision_id), "--by", "A. Admin")
    assert twice.exit_code == 1 and "already undone" in twice.output
    assert item.id in cg(db_file, "review", "list").output


# -- the HTML report ---------------------------------------------------------------------------

def test_html_report_puts_the_decisions_first(db_file, real_faces, faces):
    from consentguard.output.report import html_report

    items = [person_item(real_faces), photo_item(faces.group)]
    page = html_report([], "scan", review_items=items)
    assert page.index("Decisions to make (2)") < page.index('id="photos"')
    first = page[page.index('id="item-p-marcus"'):page.index('id="item-f-meta"')]
    closeups = re.findall(r'<img alt="close-up of face \d in [^"]+" src="data:image/jpeg;base64,([^"]+)"', first)
    assert len(closeups) == 2
    import base64
    for data in closeups:
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            assert min(im.size) >= 96
    assert f"Marcus Ellery #{R}, distance 0.58" in first
    assert f'consentguard review decide p-marcus --not {R} --by &quot;YOUR NAME&quot;' in first
    assert f'href="{Path(real_faces["s"][0]).as_uri()}"' in first
    assert 'consentguard review decide f-meta --cleared' in page
    assert "Decisions to make" not in html_report([], "scan")  # nothing to decide: no section


def test_html_report_takes_items_as_json_too(db_file, real_faces):
    """The scan may carry items as their JSON (the page's form, close-ups as data: URLs); once the
    close-ups are purged the block says so instead of showing none silently."""
    from consentguard.output.report import html_report
    from consentguard.review import item_json

    db = open_db(db_file)
    doc = item_json(db, person_item(real_faces), closeups=True)
    page = html_report([], "scan", review_items=[doc])
    assert len(re.findall(r'<img alt="close-up of face', page)) == 2
    doc["closeups"] = [None, None]
    assert "No close-ups kept (purged): look at the photos." in html_report([], "scan", review_items=[doc])


def test_scan_reports_read_review_items_when_the_scan_has_them(tmp_path, real_faces):
    from consentguard.output.report import ScanReports

    class Scan:  # the attributes ScanReports reads; review_items as the plumbing sets it
        results, total, interrupted, warnings, skipped, not_photos = [], 0, False, [], [], []
        review_items = [person_item(real_faces)]

        def not_checked(self, running=False):
            return []

        def worst_first(self):
            return []

    ScanReports(html=tmp_path / "r.html").write(Scan())
    assert "Decisions to make (1)" in (tmp_path / "r.html").read_text()


# -- the page's API --------------------------------------------------------------------------

@pytest.fixture
def web(db_file):
    from consentguard.web import create_app

    def client(**kwargs):
        app = create_app(db_file, pool=ThreadPoolExecutor(1), **kwargs)
        c = app.test_client()
        page = c.get("/review")
        assert page.status_code == 200, page.text
        c.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text).group(1)
        return c

    return client


def test_page_api_lists_decides_and_undoes(db_file, real_faces, web):
    item = person_item(real_faces, keys=("r",))
    db = saved(db_file, item)
    c = web()
    (doc,) = c.get("/api/review").get_json()["review_items"]
    assert doc["id"] == item.id and doc["closeups"][0].startswith("data:image/jpeg;base64,")
    body = {"decision": "is", "student_number": R, "by": "Dana Office"}
    assert c.post(f"/api/review/{item.id}/decide", json=body).status_code == 403  # no CSRF token
    bad = c.post(f"/api/review/{item.id}/decide", json={**body, "student_number": "42"},
                 headers={"X-CSRF-Token": c.csrf})
    assert bad.status_code == 400 and bad.get_json()["error"] == "student number '42' is not on the roster"
    ok = c.post(f"/api/review/{item.id}/decide", json=body, headers={"X-CSRF-Token": c.csrf})
    assert ok.status_code == 200, ok.text
    (decision_id,) = ok.get_json()["decision_ids"]
    assert c.get("/api/review").get_json()["review_items"] == []
    assert db.execute("SELECT interface FROM checks WHERE event = 'review-decision'").fetchone()[0] == "web"
    assert db.execute("SELECT count(*) FROM portraits WHERE source LIKE 'review:%'").fetchone()[0] == 1
    undo = c.post(f"/api/review/decisions/{decision_id}/undo", json={"by": "A. Admin"},
                  headers={"X-CSRF-Token": c.csrf})
    assert undo.status_code == 200, undo.text
    assert [i["id"] for i in c.get("/api/review").get_json()["review_items"]] == [item.id]


def test_undo_on_the_page_needs_the_admin_token(db_file, real_faces, web):
    item = person_item(real_faces, keys=("r",))
    db = saved(db_file, item)
    c = web(admin_token="admin only, sixteen+ chars")
    ok = c.post(f"/api/review/{item.id}/decide", json={"decision": "not", "student_number": R, "by": "Dana"},
                headers={"X-CSRF-Token": c.csrf})
    assert ok.status_code == 200  # deciding is for every signed-in member of staff
    (decision_id,) = ok.get_json()["decision_ids"]
    refused = c.post(f"/api/review/decisions/{decision_id}/undo", json={"by": "Dana"},
                     headers={"X-CSRF-Token": c.csrf})
    assert refused.status_code == 401 and "admin token" in refused.get_json()["error"]
    assert db.execute("SELECT undone_at FROM face_decisions").fetchone()[0] is None
    signed = c.post("/login", data={"token": "admin only, sixteen+ chars", "next": "/review"})
    assert signed.status_code == 303 and signed.headers["Location"] == "/review"
    undo = c.post(f"/api/review/decisions/{decision_id}/undo", json={"by": "A. Admin"},
                  headers={"X-CSRF-Token": c.csrf})
    assert undo.status_code == 200, undo.text


def test_two_people_deciding_one_item_at_once_make_one_decision(db_file):
    """The page serves several requests at once: of two decisions of one item started together,
    one is recorded and the other refused (without the lock, both were in 4 of 20 runs)."""
    import threading

    from consentguard.review import ReviewError, ReviewItem, decide_item

    faces = [{"path": p, "sha256": p * 64, "box": [0, 0, 90, 90]} for p in "ab"]
    items = [ReviewItem(id=f"race-{n}", kind="person", summary="s", photos=["a", "b"], faces=faces)
             for n in range(20)]
    saved(db_file, *items)
    for item in items:
        barrier, outcomes = threading.Barrier(2), []

        def decide(decision):
            db = open_db(db_file)
            barrier.wait()
            try:
                outcomes.append(decide_item(db, item.id, decision, R, "Dana Office", interface="web"))
            except ReviewError as exc:
                outcomes.append(str(exc))

        threads = [threading.Thread(target=decide, args=(d,)) for d in ("is", "not")]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert sorted(type(o).__name__ for o in outcomes) == ["list", "str"], outcomes
        assert "already decided" in next(o for o in outcomes if isinstance(o, str))


def test_an_item_in_review_again_after_its_decision_is_open_again(db_file, real_faces):
    """Red team (#12): staff decided "not Marcus" on a face; a later sync adds a photo-restricted
    student with no portrait, so the same face is in review again (it could be them). The batch
    builds the same item (same faces, same id): it must be open again, listed and decidable, not
    kept "decided" out of the queue while its photo waits in review (before: hidden, and
    'review decide' refused it as already decided)."""
    from dataclasses import replace

    from consentguard.decide import FaceEvidence
    from consentguard.people import PhotoEvidence
    from consentguard.review import save_items
    from consentguard.runners.check import Checker

    path, sha, face, _ = real_faces["r"]
    db = open_db(db_file)
    checker = Checker(db, record=False)

    def batch():
        return [PhotoEvidence(path, sha, [FaceEvidence(tuple(face.box), [(R, 0.56), (C, 0.70)],
                                                       encoding=face.encoding)])]

    [decision], [item] = checker.decide(batch())
    assert decision.verdict == "review"
    save_items(db, [item])
    assert cg(db_file, "review", "decide", item.id, "--not", R, "--by", "Dana Office").exit_code == 0
    [decision], items = checker.decide(batch())
    assert decision.verdict == "pass" and items == []
    checker.context = replace(checker.context, photo_restricted=2, unprotected_here=1)  # one without a portrait
    [decision], [again] = checker.decide(batch())
    assert decision.verdict == "review" and again.id == item.id and "no usable portrait" in decision.reasons[0]
    save_items(db, [again])
    assert item.id in cg(db_file, "review", "list").output
    done = cg(db_file, "review", "decide", item.id, "--cleared", "--by", "Dana Office")
    assert done.exit_code == 0, done.output
    assert checker.decide(batch())[0][0].verdict == "pass"


def test_a_face_cleared_by_eye_is_in_review_again_for_a_student_restricted_since(db_file, real_faces):
    """Red team (#12): staff looked at a face that resembled Marcus Ellery (restricted) and cleared it:
    no photo-restricted student. A later sync restricts Amelia Hartley, whom the same face resembles
    at 0.52. The person never compared the face with Amelia: the 'cleared' covers the students that
    were in question when it was made, so the face is in review again and says why (before: the
    photo passed on the old look)."""
    from dataclasses import replace

    from consentguard.decide import FaceEvidence
    from consentguard.people import PhotoEvidence
    from consentguard.review import save_items
    from consentguard.runners.check import Checker

    amelia = "900004"
    path, sha, face, _ = real_faces["r"]
    db = open_db(db_file)
    checker = Checker(db, record=False)

    def batch():
        nearest = [(amelia, 0.52), (R, 0.56), (C, 0.70)]
        return [PhotoEvidence(path, sha, [FaceEvidence(tuple(face.box), nearest, encoding=face.encoding)])]

    [decision], [item] = checker.decide(batch())
    assert decision.verdict == "review" and "Marcus Ellery" in decision.reasons[0]
    save_items(db, [item])
    assert cg(db_file, "review", "decide", item.id, "--cleared", "--by", "Dana Office").exit_code == 0
    assert checker.decide(batch())[0][0].verdict == "pass"
    students = {**checker.context.students, amelia: replace(checker.context.students[amelia], photo_restricted=True)}
    checker.context = replace(checker.context, students=students, photo_restricted=2, indexed=2)
    [decision], [again] = checker.decide(batch())
    assert decision.verdict == "review"
    assert "resembles photo-restricted Amelia Hartley (#900004): distance 0.52" in decision.reasons[0]
    assert "not in question when Dana Office checked it by eye" in decision.reasons[0]


def test_is_on_an_item_of_several_faces_of_one_photo_must_choose_the_face(db_file, faces):
    """Red team (#12): an item of several faces in one photo ("2 faces in group.jpg"). 'review decide
    ID --is JORDAN' without --faces would confirm every face of the photo as Jordan, Marcus's face
    too, and the photo would pass (a student is never twice in one picture). Refused in one line,
    nothing recorded; with the face chosen, it is recorded for that face only."""
    from consentguard.inspect.image import sha256_bytes
    from consentguard.review import ReviewItem, decisions_for

    rgb, _ = face_of(faces.group)
    from consentguard.inspect.faces import find_and_encode

    found = sorted(find_and_encode(rgb), key=lambda f: f.box[0])[:2]
    sha = sha256_bytes(faces.group.read_bytes())
    item = ReviewItem("f-group", "faces", "2 faces in group.jpg; resembles Marcus Ellery", [], [str(faces.group)],
                      [{"photo": str(faces.group), "sha256": sha, "box": list(f.box), "view": None} for f in found],
                      encodings=[f.encoding for f in found])
    db = saved(db_file, item)
    refused = cg(db_file, "review", "decide", item.id, "--is", C, "--by", "Dana Office")
    assert refused.exit_code == 1 and "choose the face" in refused.output
    assert decisions_for(db, [sha]) == {}
    chosen = cg(db_file, "review", "decide", item.id, "--is", C, "--face", "2", "--by", "Dana Office")
    assert chosen.exit_code == 0, chosen.output
    [decision] = decisions_for(db, [sha])[sha]
    assert decision.box == tuple(found[1].box) and decision.student_number == C
    assert cg(db_file, "review", "decide", item.id, "--not", R, "--by", "Dana Office").exit_code == 0  # 'not': all


def test_undoing_one_confirmation_keeps_the_reference_another_still_in_force_needs(db_file, real_faces):
    """Red team (#12): Marcus's face is confirmed twice in one file (the photo, and frame 2 of it, in two
    items). A photo gives a student one reference (one row per student and photo), stored by the first
    confirmation. Undoing that one must keep the reference while the other confirmation is in force
    (before: deleted, so Marcus's other photos were matched without it); undoing both removes it."""
    first = person_item(real_faces, "p-photo", keys=("r",))
    framed = person_item(real_faces, "p-frame", keys=("r",))
    framed.faces = [{**framed.faces[0], "view": "frame 2 of 3"}]
    db = saved(db_file, first, framed)
    sha = real_faces["r"][1]

    def references():
        return db.execute("SELECT source FROM portraits WHERE student_number = ? AND sha256 = ? AND source LIKE "
                          "'review:%'", [R, sha]).fetchall()

    for item in (first, framed):
        assert cg(db_file, "review", "decide", item.id, "--is", R, "--by", "Dana Office").exit_code == 0
    assert references() == [("review:p-photo",)]
    (decision_id,) = db.execute("SELECT id FROM face_decisions WHERE item_id = 'p-photo'").fetchone()
    assert cg(db_file, "review", "undo", str(decision_id), "--by", "A. Admin").exit_code == 0
    assert references() == [("review:p-frame",)]
    (decision_id,) = db.execute("SELECT id FROM face_decisions WHERE item_id = 'p-frame'").fetchone()
    assert cg(db_file, "review", "undo", str(decision_id), "--by", "A. Admin").exit_code == 0
    assert references() == []
