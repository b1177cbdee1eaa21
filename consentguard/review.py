"""The review queue: what staff must decide, and their decisions (issue #12).

A *review item* is one decision a person must make: a person seen across the
photos of a batch ("appears in 14 photos; resembles Marcus Ellery #100104 at
0.58"), or a photo-level problem (metadata that could not be read). Items are
built by the batch stage (:mod:`consentguard.people`) and stored here, so a
later scan of the same photos finds them again under the same id.

A *decision* is about one face of one photo (its content hash, box and view):
``is`` (this face is student X), ``not`` (this face is not student X), or, for
a photo-level item, ``cleared`` (a person checked the problem by eye). Every
decision and every undo is an event in the audit trail; the decision stage
reads the decisions in force (:func:`decisions_for`) and applies them to every
photo they concern, in this scan and in later ones.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field

import numpy as np
import sqlite_utils

from consentguard.errors import ConsentGuardError
from consentguard.store import audit
from consentguard.store import portraits as stored_portraits
from consentguard.store import review as stored
from consentguard.store import roster as stored_roster
from consentguard.store.connection import now, os_user, transaction

DECISIONS = ("is", "not", "cleared")
#: Shortest side of a stored close-up: big enough for a person to tell two faces apart
#: (a 20 px face in a wide shot is enlarged to it, not shown as a dot).
CLOSEUP_PX = 128
#: A decision about a face applies to a face found again with this much overlap (intersection over union).
SAME_FACE_IOU = 0.5


class ReviewError(ConsentGuardError):
    """A review decision or undo that cannot be made as asked (nothing was changed)."""


@dataclass(frozen=True)
class FaceDecision:
    """A decision in force about one face (``box`` None: about the whole photo)."""

    id: int
    sha256: str
    box: tuple[int, int, int, int] | None
    view: str | None
    decision: str               # is | not | cleared
    student_number: str | None
    decided_by: str
    decided_at: str
    item_id: str | None = None
    #: ``cleared`` on a face: the photo-restricted students in question on its item when a person
    #: looked (kept in the decision's audit row). The look covers them only: a face in review for a
    #: student restricted or matched since is in review again. None: not known (covers none).
    in_question: tuple[str, ...] | None = None


@dataclass
class ReviewItem:
    """One decision staff must make. ``faces``: one dict per face it covers, with the photo's
    path and sha256, the face's box, view and width, and its distance to the student in
    question (keys ``path``, ``sha256``, ``box``, ``view``, ``width``, ``distance``; a photo
    item lists each photo it covers with ``box`` None); ``encodings`` (same order, not in the
    JSON) become a student's references when a person confirms the face is theirs; ``closeups``
    (same order, :func:`closeup`) are what the queue shows. See docs/review.md."""

    id: str
    kind: str                                   # person | photo
    summary: str
    students: list[dict] = field(default_factory=list)   # {"student_number", "name", "distance"}
    photos: list[str] = field(default_factory=list)
    faces: list[dict] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    encodings: list[np.ndarray | None] = field(default_factory=list, repr=False)
    closeups: list[bytes | None] = field(default_factory=list, repr=False)  # small JPEG per face, same order
    status: str = "open"                                  # open | decided (as stored; not in to_json)

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "summary": self.summary, "students": self.students,
                "photos": self.photos, "faces": self.faces, "reasons": self.reasons}


def iou(a, b) -> float:
    """Intersection over union of two boxes (left, top, right, bottom)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _box(text: str | None) -> tuple[int, int, int, int] | None:
    return tuple(json.loads(text)) if text else None


def decisions_for(db: sqlite_utils.Database, sha256s) -> dict[str, list[FaceDecision]]:
    """The decisions in force (not undone) about the photos with these content hashes."""
    wanted = sorted({s for s in sha256s if s})
    found: dict[str, list[FaceDecision]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for r in stored.decisions_in_force(db, chunk):
            in_question = tuple(json.loads(r[9])) if r[9] else None
            found.setdefault(r[1], []).append(FaceDecision(r[0], r[1], _box(r[2]), r[3], r[4], r[5], r[6], r[7], r[8],
                                                           in_question))
    return found


def save_items(db: sqlite_utils.Database, items: list[ReviewItem]) -> None:
    """Store (or refresh) the items of a batch. The batch makes items only for what is still in
    review, so an item stored as decided that comes back (the same faces in review again: a sync
    added a restricted student since its "not X") is open again: listed and decidable, never kept
    out of the queue while its photos wait in review. Its earlier decisions stay in force."""
    stamp = now()
    with transaction(db):
        for item in items:
            blob = None
            if any(e is not None for e in item.encodings):
                blob = np.array([np.zeros(128) if e is None else e for e in item.encodings],
                                dtype=np.float64).tobytes()
            closeups = None
            if any(c for c in item.closeups):
                closeups = json.dumps([base64.b64encode(c).decode() if c else None for c in item.closeups])
            stored.save_item(db, {"id": item.id, "kind": item.kind, "summary": item.summary,
                                  "item": json.dumps(item.to_json()), "encodings": blob, "closeups": closeups}, stamp)


def record_decision(db: sqlite_utils.Database, sha256: str, box, view: str | None, decision: str,
                    student_number: str | None, by: str | None = None, item_id: str | None = None,
                    note: str | None = None, interface: str = "cli", in_question=None) -> int:
    """Store one decision about a face (or, ``box`` None, a photo) and record it in the audit trail.
    ``in_question``: for ``cleared`` on a face, the photo-restricted students the person looked for
    (:attr:`FaceDecision.in_question`); kept in the audit row, which nothing can change later."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}; one of {', '.join(DECISIONS)}")
    by = by or os_user()
    what = {"sha256": sha256, "box": list(box) if box else None, "view": view, "decision": decision,
            "student_number": student_number, "item_id": item_id}
    audit_id = audit.record_event(db, {
        "checked_at": now(), "os_user": by, "interface": interface, "file_name": item_id or sha256[:12],
        "sha256": sha256, "verdict": "review", "reasons": json.dumps([f"review decision: {decision} "
                                                                       f"{student_number or ''}".strip()]),
        "student_numbers": json.dumps([student_number] if student_number else []),
        "result": json.dumps(what if in_question is None else {**what, "in_question": sorted(in_question)}),
        "event": "review-decision", "note": note})
    return stored.add_decision(db, {
        **what, "box": json.dumps(list(box)) if box else None, "note": note, "decided_by": by,
        "decided_at": now(), "audit_id": audit_id})


# -- close-ups ----------------------------------------------------------------------------

def closeup(rgb: np.ndarray, box, size: int = CLOSEUP_PX) -> bytes:
    """A JPEG of one face with a quarter face of margin, its shorter side at least ``size`` px:
    what a person looks at to decide (a box on a thumbnail is too small to judge)."""
    import io

    from PIL import Image

    height, width = rgb.shape[:2]
    left, top, right, bottom = (int(v) for v in box)
    margin = max(right - left, bottom - top) // 4
    crop = Image.fromarray(np.ascontiguousarray(rgb[max(0, top - margin):min(height, bottom + margin),
                                                    max(0, left - margin):min(width, right + margin)]))
    scale = max(size / max(1, min(crop.size)), 1.0)
    if scale > 1.0 or max(crop.size) > 2 * size:  # enlarge a small face; shrink a huge one
        scale = size / max(1, min(crop.size))
        crop = crop.resize((max(size, round(crop.width * scale)), max(size, round(crop.height * scale))),
                           Image.LANCZOS)
    out = io.BytesIO()
    crop.convert("RGB").save(out, "JPEG", quality=88)
    return out.getvalue()


# -- reading the queue ----------------------------------------------------------------------

def _item_from_row(row) -> ReviewItem:
    item_id, kind, status, summary, doc, blob, closeups = row
    doc = json.loads(doc)
    faces = doc.get("faces") or []
    encodings: list[np.ndarray | None] = []
    if blob:
        stored = np.frombuffer(blob, dtype=np.float64).reshape(-1, 128)
        encodings = [None if not e.any() else e.copy() for e in stored]  # zeros: that face had none
    pictures = [base64.b64decode(c) if c else None for c in json.loads(closeups)] if closeups else []
    return ReviewItem(id=item_id, kind=kind, summary=summary, students=doc.get("students") or [],
                      photos=doc.get("photos") or [], faces=faces, reasons=doc.get("reasons") or [],
                      encodings=encodings + [None] * (len(faces) - len(encodings)),
                      closeups=pictures + [None] * (len(faces) - len(pictures)), status=status)


def load_item(db: sqlite_utils.Database, item_id: str) -> ReviewItem | None:
    """One stored item (with its encodings and close-ups, if not purged), or None."""
    row = stored.item_row(db, item_id)
    return _item_from_row(row) if row else None


def list_items(db: sqlite_utils.Database, include_decided: bool = False) -> list[ReviewItem]:
    """The items staff must decide (``include_decided``: every item), oldest first."""
    return [_item_from_row(r) for r in stored.item_rows(db, include_decided)]


def item_decisions(db: sqlite_utils.Database, item_id: str) -> list[dict]:
    """Every decision made on an item, undone ones too, oldest first (the JSON of a decision)."""
    rows = stored.item_decision_rows(db, item_id)
    for row in rows:
        row["box"] = list(_box(row["box"])) if row["box"] else None
    return rows


def item_json(db: sqlite_utils.Database, item: ReviewItem, closeups: bool = False) -> dict:
    """An item as ``review list --json`` and the page give it: ``to_json`` plus its status, its
    decisions and, if asked, its close-ups as data: URLs (one per face, null where none)."""
    doc = {**item.to_json(), "status": item.status, "decisions": item_decisions(db, item.id)}
    if closeups:
        doc["closeups"] = [None if c is None else "data:image/jpeg;base64," + base64.b64encode(c).decode()
                           for c in item.closeups]
    return doc


# -- deciding -----------------------------------------------------------------------------

MAX_BY, MAX_NOTE = 80, 2000  # the audit trail is append-only: names and notes are bounded
#: One decision or undo at a time in this process: two people deciding the same item on the page
#: at once get one decision and one "already decided", not two contradictory ones.
_deciding = threading.Lock()


def _clean_by(by: str | None) -> str:
    """Who decided: a name a person can read (no control or direction characters)."""
    import unicodedata

    by = (by or "").strip()
    if not by or len(by) > MAX_BY or any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in by):
        raise ReviewError(f"a review decision needs the name of the person who decided (at most {MAX_BY} "
                          "characters, no control characters)")
    return by


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise ReviewError(f"the note is too long ({len(note)} characters; at most {MAX_NOTE})")
    return note


def _targets(item: ReviewItem, decision: str, chosen) -> list[tuple[int, dict]]:
    """(index, face) the decision is about: the chosen faces (numbered from 1 as ``review show``
    lists them) or all of them; for a photo item, one entry per photo (box None)."""
    if item.kind == "photo":
        entries = [f for f in item.faces if f.get("sha256")]
        if not entries:  # an item that lists its photos only: decide about their content as it is now
            from consentguard.inspect.image import sha256_bytes
            entries = []
            for path in item.photos:
                try:
                    entries.append({"path": path, "sha256": sha256_bytes(open(path, "rb").read()), "box": None})
                except OSError as exc:
                    raise ReviewError(f"{path}: cannot read the photo to record the decision about it: "
                                      f"{exc.strerror or exc}") from exc
        return [(i, {**f, "box": None}) for i, f in enumerate(entries)]
    numbers = list(chosen or range(1, len(item.faces) + 1))
    bad = [n for n in numbers if not 1 <= n <= len(item.faces)]
    if bad:
        raise ReviewError(f"item {item.id} has faces 1 to {len(item.faces)}; no face {bad[0]}")
    missing = [n for n in numbers if not item.faces[n - 1].get("sha256")]
    if missing:
        raise ReviewError(f"item {item.id}: face {missing[0]} has no photo hash, so no decision can be kept for it")
    return [(n - 1, item.faces[n - 1]) for n in sorted(set(numbers))]


def decide_item(db: sqlite_utils.Database, item_id: str, decision: str, student_number: str | None,
                by: str, note: str | None = None, faces=None, interface: str = "cli") -> list[int]:
    """Decide an item: one :func:`record_decision` per face it covers (or per chosen face; per
    photo for a photo item). A face confirmed as a student the index keeps (photo-restricted)
    becomes one of their references (:func:`add_reference`). The item is ``decided`` once every
    face of it has a decision in force. The ids of the decisions recorded."""
    with _deciding:
        return _decide_item(db, item_id, decision, student_number, by, note, faces, interface)


def _decide_item(db, item_id, decision, student_number, by, note, faces, interface) -> list[int]:
    by, note = _clean_by(by), _clean_note(note)
    item = load_item(db, item_id)
    if item is None:
        raise ReviewError(f"no review item {item_id!r} (consentguard review list shows the open ones)")
    if item.status != "open":
        raise ReviewError(f"item {item_id} is already decided; an admin can undo its decision "
                          "(consentguard review undo DECISION_ID)")
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}; one of {', '.join(DECISIONS)}")
    if item.kind == "photo" and decision != "cleared":
        raise ReviewError(f"item {item_id} is about a photo, not a face: decide it with --cleared "
                          "after checking the photo by eye")
    if decision == "cleared":
        student_number = None
    else:
        student_number = (student_number or "").strip()
        if stored_roster.student_name(db, student_number) is None:
            raise ReviewError(f"student number {student_number!r} is not on the roster")
    targets = _targets(item, decision, faces)
    if not faces:  # the faces still undecided (after an undo reopened the item, only those)
        done = _decided(db, item.id)
        targets = [(i, f) for i, f in targets if _face_key(f) not in done] or targets
    if decision == "is":
        _one_face_per_picture(db, item, targets, student_number)
    in_question = None
    if decision == "cleared" and item.kind != "photo":  # what the person looked for: those the item showed
        in_question = [s["student_number"] for s in item.students if s.get("student_number")]
    ids = []
    for index, face in targets:
        box = tuple(face["box"]) if face.get("box") else None
        ids.append(record_decision(db, face["sha256"], box, face.get("view"), decision, student_number, by,
                                   item.id, note, interface, in_question))
        if decision == "is" and box is not None:
            add_reference(db, item, index, student_number)
    _refresh_status(db, item)
    return ids


def _one_face_per_picture(db: sqlite_utils.Database, item: ReviewItem, targets, student_number: str) -> None:
    """Refuse an ``is`` that would make two faces of one picture (photo and view) the same student:
    one student is never twice in one picture, and an item of several faces of one photo ("3 faces
    in wide.jpg") holds several people, one of whom may be photo-restricted. The face must be chosen."""
    seen: dict[tuple, int] = {}
    for index, face in targets:
        where = (face["sha256"], face.get("view"))
        if where in seen:
            raise ReviewError(f"item {item.id}: faces {seen[where] + 1} and {index + 1} are in one picture "
                              f"({face.get('photo') or face.get('path') or face['sha256'][:12]}); one student is "
                              "never twice in one picture: choose the face (--face N)")
        seen[where] = index
    for index, face in targets:
        for d in decisions_for(db, [face["sha256"]]).get(face["sha256"], []):
            if (d.decision == "is" and d.student_number == student_number and d.box is not None
                    and d.view == face.get("view") and iou(d.box, face["box"]) < SAME_FACE_IOU):
                raise ReviewError(f"item {item.id}: face {index + 1} is in a picture where another face is already "
                                  f"confirmed as {student_number} (decision #{d.id}); one student is never twice "
                                  "in one picture: undo that decision first")


def _refresh_status(db: sqlite_utils.Database, item: ReviewItem) -> str:
    """``decided`` when every face (photo) of the item has a decision in force from it, else ``open``."""
    done = _decided(db, item.id)
    if item.kind == "photo":
        complete = bool(done)
    else:
        complete = bool(item.faces) and all(_face_key(f) in done for f in item.faces)
    status = "decided" if complete else "open"
    stored.set_item_status(db, item.id, status)
    return status


def _face_key(face: dict) -> tuple:
    """Which face of which photo a review item's face is: (content hash, box)."""
    return face.get("sha256"), tuple(face["box"]) if face.get("box") else None


def _decided(db: sqlite_utils.Database, item_id: str) -> set[tuple]:
    """(sha256, box) of the faces of an item with a decision in force from it."""
    return {(sha, tuple(json.loads(box)) if box else None) for sha, box in stored.decided_faces(db, item_id)}


def reference_source(item_id: str) -> str:
    """The ``portraits.source`` of a reference a review decision added."""
    return f"review:{item_id}"


def add_reference(db: sqlite_utils.Database, item: ReviewItem, index: int, student_number: str) -> bool:
    """Store the face ``index`` of ``item``, confirmed as ``student_number``, as one of their
    references (a row in ``portraits``, like a portrait from the SIS): the index matches their face
    from it from the next check on, a roster sync keeps it, ``index purge`` deletes its encoding
    like a portrait's. Only for students the index keeps (photo-restricted, or a release that can
    expire): a permitted student's face is never stored. False if not stored (not needed, no
    encoding kept, or this photo is already one of theirs)."""
    from consentguard.match.index import encoding_to_blob, portrait_box
    from consentguard.store.db import latest_sync_id

    encoding = item.encodings[index] if index < len(item.encodings) else None
    if encoding is None:
        return False
    if not stored_portraits.needs_index(db, student_number):
        return False
    face = item.faces[index]
    return stored_portraits.add_reference(db, student_number, face["sha256"], reference_source(item.id),
                                          portrait_box(tuple(face["box"])), encoding_to_blob(encoding),
                                          latest_sync_id(db))


def undo_decision(db: sqlite_utils.Database, decision_id: int, by: str, note: str | None = None,
                  interface: str = "cli") -> int:
    """Undo a decision (an admin's act): mark it undone, record a ``review-undo`` audit event,
    remove the reference it added and reopen its item. The audit row's id."""
    with _deciding:
        return _undo_decision(db, decision_id, by, note, interface)


def _undo_decision(db, decision_id: int, by: str, note: str | None, interface: str) -> int:
    by, note = _clean_by(by), _clean_note(note)
    row = stored.decision_row(db, decision_id)
    if row is None:
        raise ReviewError(f"no review decision #{decision_id}")
    sha, box, decision, number, item_id, audit_id, undone_at = row
    if undone_at:
        raise ReviewError(f"review decision #{decision_id} was already undone at {undone_at}")
    undo_id = audit.record_event(db, {
        "checked_at": now(), "os_user": by, "interface": interface, "file_name": item_id or sha[:12],
        "sha256": sha, "verdict": "review",
        "reasons": json.dumps([f"review decision #{decision_id} undone: {decision} {number or ''}".strip()]),
        "student_numbers": json.dumps([number] if number else []),
        "result": json.dumps({"decision_id": decision_id, "item_id": item_id}), "event": "review-undo",
        "ref_id": audit_id, "note": note})
    with transaction(db):
        stored.mark_undone(db, decision_id, by, now(), undo_id)
        if decision == "is" and item_id:
            _drop_reference(db, number, sha, item_id)
        if item_id:
            stored.set_item_status(db, item_id, "open")
    return undo_id


def _drop_reference(db: sqlite_utils.Database, number: str, sha: str, item_id: str) -> None:
    """Remove the reference an undone ``is`` added, unless another ``is`` of the same student in the
    same photo is still in force: a photo gives a student one reference (the first confirmation's),
    which then stays, as that decision's, so undoing one of two never leaves the other without it."""
    other = stored.other_confirmation(db, number, sha, item_id)
    if other:
        stored_portraits.move_reference(db, number, sha, reference_source(item_id), reference_source(other))
    else:
        stored_portraits.delete_reference(db, number, sha, reference_source(item_id))

