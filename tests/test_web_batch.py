"""The photos of one drop on the page decided together (issue #12 parts 2 and 3): the real app
with a real worker process, real face photos and a real database. A small face of a restricted
student, only 'review' alone, is blocked once a clear photo of them is in the same drop; the
earlier card gets an update, the audit trail a new row, the Review tab the drop's items; a safe
copy is made again only from the very bytes checked; the batch memory is bounded."""

import base64
import io
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from consentguard import open_db
from consentguard.web.batches import IDLE_SECONDS, MAX_PER_SESSION, MAX_PHOTOS, BatchFull, BatchStore

pytestmark = pytest.mark.faces


@pytest.fixture
def client(db_file, pool):
    from consentguard.web import create_app

    app = create_app(db_file, pool=pool)
    c = app.test_client()
    page = c.get("/")
    c.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text).group(1)
    return c


def post(client, data, name, batch=None, **fields):
    form = {"photo": (io.BytesIO(data), name), **fields}
    if batch is not None:
        form["batch"] = batch
    return client.post("/api/check", data=form, headers={"X-CSRF-Token": client.csrf},
                       content_type="multipart/form-data")


def safe_copy(client, data, name, check_id, batch):
    return client.post("/api/safe-copy", data={"photo": (io.BytesIO(data), name), "check_id": str(check_id),
                                               "batch": batch},
                       headers={"X-CSRF-Token": client.csrf}, content_type="multipart/form-data")


def session_of(client) -> str:
    return client.get_cookie("cg_session").value


def test_a_drop_keeps_evidence_and_answers_with_updates_and_items(client, drop):
    clear, small = drop
    first = post(client, small.read_bytes(), small.name, batch="drop-1")
    assert first.status_code == 200, first.text
    one = first.get_json()
    assert one["result"]["verdict"] == "review"  # alone: too small to identify
    assert one["batch"] == "drop-1" and one["revision"] == 1 and one["updates"] == []
    assert isinstance(one["review_items"], list) and one["preview"].startswith("data:image/jpeg;base64,")
    second = post(client, clear.read_bytes(), clear.name, batch="drop-1").get_json()
    assert second["result"]["verdict"] == "block" and second["revision"] == 2
    assert {"updates", "review_items", "changed", "safe_copy_stale"} <= set(second)

    batch = client.application.extensions["consentguard_batches"].find(session_of(client), "drop-1")
    assert [p.check_id for p in batch.photos] == [one["check_id"], second["check_id"]]
    faces = [f for p in batch.photos for f in p.evidence.faces]
    assert faces and all(isinstance(f.encoding, np.ndarray) and f.closeup for f in faces)  # kept in memory
    assert batch.photos[0].plain is not None
    # another session does not see this drop
    assert client.application.extensions["consentguard_batches"].find("someone-else", "drop-1") is None


def test_a_small_face_is_blocked_once_a_clear_photo_of_them_is_in_the_drop(client, drop, db_file):  # noqa: F811
    clear, small = drop
    one = post(client, small.read_bytes(), small.name, batch="drop-2").get_json()
    assert one["result"]["verdict"] == "review"
    item = one["review_items"][0]
    assert item["closeups"][0].startswith("data:image/jpeg;base64,")
    queue = [i["id"] for i in client.get("/api/review").get_json()["review_items"]]
    assert item["id"] in queue  # the Review tab lists the drop's items

    two = post(client, clear.read_bytes(), clear.name, batch="drop-2").get_json()
    assert two["result"]["verdict"] == "block"
    (update,) = two["updates"]
    assert update["check_id"] == one["check_id"] and update["result"]["verdict"] == "block"
    assert any("is the same person" in r and clear.name in r for r in update["changed"])
    assert update["audit_id"] > two["check_id"]  # the changed verdict is recorded
    row = open_db(db_file).execute("SELECT interface, verdict, file_name FROM checks WHERE id = ?",
                                   [update["audit_id"]]).fetchone()
    assert row == ("web", "block", small.name)
    queue = [i["id"] for i in client.get("/api/review").get_json()["review_items"]]
    assert item["id"] not in queue  # the person is decided now: their item left the queue

    # the old 'review' row can no longer be released: the verdict in force is the block
    refused = client.post("/api/override", json={"check_id": one["check_id"], "user": "Dana",
                                                 "reason": "a parent volunteer, not a student"},
                          headers={"X-CSRF-Token": client.csrf})
    assert refused.status_code == 400 and "decided again with the other photos of its drop" in refused.get_json()["error"]

    # a safe copy made from the drop's latest result hides the face it names
    made = safe_copy(client, small.read_bytes(), small.name, one["check_id"], "drop-2")
    assert made.status_code == 200, made.text
    assert made.get_json()["verdict"] == "block"
    left, top, right, bottom = update["result"]["faces"][0]["box"]
    before = np.asarray(Image.open(small).convert("L"), dtype=float)[top:bottom, left:right]
    after = np.asarray(Image.open(io.BytesIO(base64.b64decode(made.get_json()["safe_copy"].split(",", 1)[1])))
                       .convert("L"), dtype=float)[top:bottom, left:right]
    assert np.abs(np.diff(after, axis=1)).mean() < 0.5 * np.abs(np.diff(before, axis=1)).mean()  # detail gone


def test_a_safe_copy_is_refused_for_other_bytes(client, drop, faces):
    clear, small = drop
    one = post(client, small.read_bytes(), small.name, batch="drop-3").get_json()
    other = safe_copy(client, faces.stranger.read_bytes(), small.name, one["check_id"], "drop-3")
    assert other.status_code == 400 and "not the photo checked" in other.get_json()["error"]
    unknown = safe_copy(client, small.read_bytes(), small.name, one["check_id"], "never-dropped")
    assert unknown.status_code == 404 and "no longer kept" in unknown.get_json()["error"]
    elsewhere = safe_copy(client, small.read_bytes(), small.name, one["check_id"] + 999, "drop-3")
    assert elsewhere.status_code == 404
    same = safe_copy(client, small.read_bytes(), small.name, one["check_id"], "drop-3")
    assert same.status_code == 200 and same.get_json()["safe_copy"].startswith("data:image/jpeg;base64,")


def test_a_photo_without_a_batch_is_decided_alone_and_bad_batch_ids_are_refused(client, drop):
    clear, small = drop
    alone = post(client, small.read_bytes(), small.name).get_json()
    assert alone["result"]["verdict"] == "review" and "updates" not in alone
    assert len(client.application.extensions["consentguard_batches"]) == 0  # nothing kept
    for bad in ("x" * 65, "../etc", "a b", "é"):
        refused = post(client, small.read_bytes(), small.name, batch=bad)
        assert refused.status_code == 400 and "batch id" in refused.get_json()["error"]
    post(client, small.read_bytes(), small.name, batch="drop-4", channel="social")
    other = post(client, small.read_bytes(), small.name, batch="drop-4", channel="website")
    assert other.status_code == 400 and "one channel and school" in other.get_json()["error"]


def test_the_101st_photo_of_a_drop_is_refused(client, faces):
    store = client.application.extensions["consentguard_batches"]
    batch = store.reserve(session_of(client), "full", (None, None))
    batch.reserved = MAX_PHOTOS  # 100 photos being checked (checking them for real takes minutes)
    refused = post(client, faces.stranger.read_bytes(), "101.jpg", batch="full")
    assert refused.status_code == 400
    assert refused.get_json()["error"] == ("101.jpg: this drop already has 100 photos checked together; not "
                                           "checked: drop at most 100 photos at once (or use 'consentguard scan' "
                                           "for a whole event folder)")
    batch.reserved = 0
    assert post(client, faces.stranger.read_bytes(), "1.jpg", batch="full").status_code == 200


def test_batches_are_bounded_per_session_and_forgotten_when_idle():
    now = [0.0]
    store = BatchStore(clock=lambda: now[0])
    for n in range(MAX_PER_SESSION + 1):
        now[0] += 1
        store.release(store.reserve("s1", f"b{n}", (None, None)))
    assert store.find("s1", "b0") is None and store.find("s1", f"b{MAX_PER_SESSION}") is not None
    assert len(store) == MAX_PER_SESSION
    store.release(store.reserve("s2", "b0", (None, None)))
    now[0] += IDLE_SECONDS + 1
    assert store.find("s2", "b0") is None and len(store) == 0
    busy = store.reserve("s3", "b", (None, None))  # a photo being checked keeps its batch
    now[0] += IDLE_SECONDS + 1
    assert store.find("s3", "b") is busy
    for n in range(MAX_PHOTOS - 1):
        store.reserve("s3", "b", (None, None))
    with pytest.raises(BatchFull):
        store.reserve("s3", "b", (None, None))


def test_a_safe_copy_is_stale_only_when_the_result_hides_other_areas():
    from consentguard.web.batches import safe_copy_stale

    def doc(verdict, *boxes):
        return {"verdict": verdict, "image": {"width": 900}, "names": [],
                "faces": [{"box": list(b), "verdict": "block" if verdict != "pass" else "pass"} for b in boxes]}

    face, other = (10, 10, 40, 40), (100, 10, 130, 40)
    assert safe_copy_stale(doc("pass", face), doc("block", face))       # it had no safe copy
    assert safe_copy_stale(None, doc("review", face))                   # none was made
    assert not safe_copy_stale(doc("review", face), doc("block", face))  # the same face hidden
    assert safe_copy_stale(doc("block", face), doc("block", face, other))
    assert not safe_copy_stale(doc("block", face), doc("pass", face))   # no safe copy needed
    assert not safe_copy_stale(None, {**doc("error"), "image": {"width": None}})  # nothing to copy


def test_items_a_drop_outgrew_leave_the_queue_but_not_others(tmp_path, face_roster):
    """A person's item grows (a new id) as photos of the drop arrive: the smaller one the drop
    created is deleted while open and undecided; an item a scan made, or one someone decided, stays."""
    from consentguard import review
    from consentguard.web.batches import Batch, save_items

    db_path = tmp_path / "cg.db"
    shutil.copy(face_roster, db_path)
    db = open_db(db_path)

    def item(item_id):
        return review.ReviewItem(item_id, "person", f"item {item_id}", photos=["a.jpg"],
                                 faces=[{"path": "a.jpg", "sha256": "ab" * 32, "box": [1, 2, 3, 4], "view": None}])

    review.save_items(db, [item("from-scan")])
    batch = Batch("s", "b", (None, None))
    batch.items = [item("from-scan"), item("grew-1")]
    save_items(batch, db)
    batch.items = [item("grew-2")]
    save_items(batch, db)
    assert {i.id for i in review.list_items(db)} == {"from-scan", "grew-2"}
    review.record_decision(db, "ab" * 32, (1, 2, 3, 4), None, "not", None, "Dana", "grew-2")
    batch.items = []
    save_items(batch, db)
    assert {i.id for i in review.list_items(db, include_decided=True)} == {"from-scan", "grew-2"}
