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

import json
from dataclasses import dataclass, field

import numpy as np
import sqlite_utils

from .db import now, os_user

DECISIONS = ("is", "not", "cleared")


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


@dataclass
class ReviewItem:
    """One decision staff must make. ``faces``: one dict per face it covers, with the photo's
    path and sha256, the face's box, view and width, and its distance to the student in
    question; ``encodings`` (same order, not in the JSON) become a student's references when a
    person confirms the face is theirs."""

    id: str
    kind: str                                   # person | photo
    summary: str
    students: list[dict] = field(default_factory=list)   # {"student_number", "name", "distance"}
    photos: list[str] = field(default_factory=list)
    faces: list[dict] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    encodings: list[np.ndarray | None] = field(default_factory=list, repr=False)
    closeups: list[bytes | None] = field(default_factory=list, repr=False)  # small JPEG per face, same order

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "summary": self.summary, "students": self.students,
                "photos": self.photos, "faces": self.faces, "reasons": self.reasons}


def _box(text: str | None) -> tuple[int, int, int, int] | None:
    return tuple(json.loads(text)) if text else None


def decisions_for(db: sqlite_utils.Database, sha256s) -> dict[str, list[FaceDecision]]:
    """The decisions in force (not undone) about the photos with these content hashes."""
    wanted = sorted({s for s in sha256s if s})
    found: dict[str, list[FaceDecision]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        rows = db.execute(
            "SELECT id, sha256, box, view, decision, student_number, decided_by, decided_at, item_id "
            f"FROM face_decisions WHERE undone_at IS NULL AND sha256 IN ({', '.join('?' * len(chunk))}) ORDER BY id",
            chunk)
        for r in rows:
            found.setdefault(r[1], []).append(FaceDecision(r[0], r[1], _box(r[2]), r[3], r[4], r[5], r[6], r[7], r[8]))
    return found


def save_items(db: sqlite_utils.Database, items: list[ReviewItem]) -> None:
    """Store (or refresh) the items of a batch; an item already decided keeps its status."""
    from .db import transaction

    stamp = now()
    with transaction(db):
        for item in items:
            blob = None
            if any(e is not None for e in item.encodings):
                blob = np.array([np.zeros(128) if e is None else e for e in item.encodings],
                                dtype=np.float64).tobytes()
            db.execute(
                "INSERT INTO review_items (id, kind, status, summary, item, encodings, first_seen, last_seen) "
                "VALUES (?, ?, 'open', ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET summary = excluded.summary, "
                "item = excluded.item, encodings = excluded.encodings, last_seen = excluded.last_seen",
                [item.id, item.kind, item.summary, json.dumps(item.to_json()), blob, stamp, stamp])


def record_decision(db: sqlite_utils.Database, sha256: str, box, view: str | None, decision: str,
                    student_number: str | None, by: str | None = None, item_id: str | None = None,
                    note: str | None = None, interface: str = "cli") -> int:
    """Store one decision about a face (or, ``box`` None, a photo) and record it in the audit trail."""
    from . import audit

    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}; one of {', '.join(DECISIONS)}")
    by = by or os_user()
    what = {"sha256": sha256, "box": list(box) if box else None, "view": view, "decision": decision,
            "student_number": student_number, "item_id": item_id}
    audit_id = audit._append(db, {
        "checked_at": now(), "os_user": by, "interface": interface, "file_name": item_id or sha256[:12],
        "sha256": sha256, "verdict": "review", "reasons": json.dumps([f"review decision: {decision} "
                                                                       f"{student_number or ''}".strip()]),
        "student_numbers": json.dumps([student_number] if student_number else []), "result": json.dumps(what),
        "event": "review-decision", "note": note})
    return db["face_decisions"].insert({
        **what, "box": json.dumps(list(box)) if box else None, "note": note, "decided_by": by,
        "decided_at": now(), "audit_id": audit_id}).last_pk
