"""Face index: the portrait encodings of the students the policy needs.

By default every student with a portrait is indexed (``all``), so that a face
recognised as a permitted student is cleared as that student. ``restricted``
(the privacy option) indexes photo-restricted students alone: no encoding of a
permitted student is ever stored, at the cost of many more reviews. A student
may have several portraits (previous years): each is one row, and a face's
distance to a student is to the closest of them. Encodings are 128 float64
values stored as raw bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlite_utils

from consentguard.roster.consent import State
from consentguard.store import portraits as stored_portraits
from consentguard.store import review as stored_review
from consentguard.store import roster as stored_roster
from consentguard.store import scan_cache
from consentguard.store.db import DEFAULT_INDEX_POLICY, INDEX_POLICIES  # noqa: F401 (a new database's policy)
from consentguard.store.roster import NEEDS_INDEX_SQL  # noqa: F401 (kept importable here)

ENCODING_DTYPE = np.float64


def encoding_to_blob(encoding: np.ndarray) -> bytes:
    return np.asarray(encoding, dtype=ENCODING_DTYPE).tobytes()


def blob_to_encoding(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=ENCODING_DTYPE)


@dataclass
class Student:
    student_number: str
    first_name: str
    last_name: str
    photo_restricted: bool
    name_restricted: bool
    middle_name: str = ""
    school_id: str = ""
    legal_first_name: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def attends(self, school: str | None) -> bool:
        """Whether this student is in the scope of ``school`` (None: every school). A student
        whose school the export leaves blank could be at any school; leading zeros don't count."""
        return school is None or not self.school_id or self.school_id.lstrip("0") == school.lstrip("0")


@dataclass
class FaceIndex:
    """Encodings (one row per portrait) and the student each belongs to."""

    encodings: np.ndarray  # N x 128
    owners: list[str]      # student number per row
    students: dict[str, Student]

    def __post_init__(self) -> None:
        # Rows grouped by student, so the closest portrait per student is one reduceat;
        # squared norms kept, so distances are one matrix-vector product.
        owners = np.asarray(self.owners, dtype=str)
        order = np.argsort(owners, kind="stable")
        self._sorted = self.encodings[order]
        self._norms = np.einsum("ij,ij->i", self._sorted, self._sorted)
        self._numbers, self._starts = np.unique(owners[order], return_index=True)

    @property
    def empty(self) -> bool:
        return len(self.owners) == 0

    def nearest(self, encoding: np.ndarray) -> list[tuple[str, float]]:
        """(student_number, distance) per indexed student, closest portrait, nearest first."""
        if self.empty:
            return []
        squared = self._norms - 2 * (self._sorted @ encoding) + encoding @ encoding
        best = np.sqrt(np.maximum(np.minimum.reduceat(squared, self._starts), 0.0))
        order = np.argsort(best, kind="stable")
        return list(zip(self._numbers[order].tolist(), best[order].tolist()))




def needs_index(consents, index_policy: str = "restricted") -> bool:
    """Index a student's portraits if the policy indexes everyone, if they are
    photo-restricted on any channel, or if a photo permission of theirs can expire
    (so the face is known the day it does)."""
    return index_policy == "all" or any(
        state.restricted or state.until for (scope, _), state in consents.items() if scope == "photo")


def restricted_today(db: sqlite_utils.Database, channel: str | None) -> set[tuple[str, str]]:
    """(student_number, scope) restricted on ``channel`` (None: on any) today, judged by
    :meth:`consentguard.roster.consent.State.restricted_on`, the one home of the expiry rule."""
    today = date.today()
    return {(number, scope) for number, scope, restricted, until in stored_roster.consents_that_may_restrict(db, channel)
            if State.stored(restricted, until).restricted_on(today)}


def load_students(db: sqlite_utils.Database, channel: str | None = None) -> dict[str, Student]:
    """Every student, with restrictions as they stand today for ``channel`` (None: any channel)."""
    students = {r[0]: Student(r[0], r[1], r[2], False, False, r[3], r[4], r[5]) for r in stored_roster.student_rows(db)}
    for number, scope in restricted_today(db, channel):
        if number in students:
            setattr(students[number], f"{scope}_restricted", True)
    return students


def load_index(db: sqlite_utils.Database, students: dict[str, Student] | None = None,
               index_policy: str = "restricted") -> FaceIndex:
    """Encodings of the photo-restricted students (policy ``restricted``) or of every
    student with a stored encoding (policy ``all``)."""
    students = students if students is not None else load_students(db)
    rows = [r for r in stored_portraits.encoded(db)
            if r[0] in students and (index_policy == "all" or students[r[0]].photo_restricted)]
    # a portrait may hold several encodings (both faces of an ambiguous portrait of a restricted student)
    blocks = [blob_to_encoding(r[1]).reshape(-1, 128) for r in rows]
    encodings = np.concatenate(blocks) if blocks else np.zeros((0, 128))
    owners = [r[0] for r, block in zip(rows, blocks) for _ in range(len(block))]
    return FaceIndex(encodings=encodings, owners=owners, students=students)


def unprotected(db: sqlite_utils.Database, channel: str | None = None,
                school: str | None = None) -> dict[str, str]:
    """Photo-restricted students (today, on ``channel``; of ``school``) with no encoded
    portrait, number -> name: their faces cannot be recognised."""
    students = load_students(db, channel)
    encoded = stored_portraits.encoded_students(db)
    return {n: s.full_name for n, s in sorted(students.items())
            if s.photo_restricted and n not in encoded and s.attends(school)}


def unprotected_warning(count: int, school: str | None = None) -> str:
    """What every sync, rollback, check and scan says while ``count`` photo-restricted students
    (of ``school``) have no usable portrait."""
    many = count > 1
    scope = f" of school {school}" if school else ""
    return (f"{count} photo-restricted student{'s' if many else ''}{scope} {'have' if many else 'has'} no usable "
            f"portrait, so {'their faces' if many else 'their face'} cannot be recognised: until fixed, every face "
            "not recognised as a permitted student goes to review. Fix: add their portraits to the next sync "
            "(--photos); 'consentguard roster list --unprotected' lists them")


def purge_unneeded(db: sqlite_utils.Database, index_policy: str = "restricted") -> int:
    """Delete encodings of students the index no longer needs."""
    if index_policy == "all":
        return 0
    return stored_portraits.purge_unneeded(db)


def purge_all(db: sqlite_utils.Database) -> int:
    """Delete every stored face encoding (portrait hashes are kept for the record), and the faces
    of checked photos kept for later decisions (:func:`purge_photo_faces`). Returns how many
    portrait encodings were deleted."""
    purge_photo_faces(db)
    return stored_portraits.purge_all(db)


def purge_photo_faces(db: sqlite_utils.Database) -> tuple[int, int]:
    """Delete the face encodings and close-ups kept from checked photos: the evidence of cached
    scan results (those photos are then checked again, never passed from the cache) and the
    encodings and close-ups of review items. Returns (cached results, review items) emptied."""
    return scan_cache.purge_evidence(db), stored_review.purge_item_biometrics(db)


def status(db: sqlite_utils.Database) -> dict:
    """What biometric data the database holds, for ``consentguard index status``: stored portrait
    encodings (and faces confirmed in review), the students they cover, and the faces kept from
    checked photos (cached scan evidence, review items), with the settings that decide it."""
    from consentguard.store.db import roster_policies
    from consentguard.store.settings import saved_values

    encodings, students, references = stored_portraits.held(db)
    return {"face_recognition": "off" if saved_values(db).get("face_recognition") is False else "on",
            "index_mode": roster_policies(db)[0], "encodings": encodings, "students_indexed": students,
            "review_references": references, "cached_results_with_faces": scan_cache.with_faces(db),
            "review_items_with_faces": stored_review.items_with_faces(db)}


#: What turning face recognition on again means (config set face_recognition on, or config unset).
FACE_RECOGNITION_ON = ("face recognition is on: portraits are encoded at the next sync ('consentguard sync EXPORT "
                       "--photos ...'); until then every photo with a face is a review")


def save_setting(db: sqlite_utils.Database, name: str, text: str, by: str | None = None,
                 interface: str = "cli"):
    """``consentguard config set``: a setting saved (:func:`consentguard.store.settings.save`), and
    when it turns face recognition off, every stored face encoding and the faces kept from checked
    photos deleted in the same transaction (nothing biometric is kept in that mode)."""
    from consentguard.store.settings import save

    def off(db, value) -> str | None:
        if value is not False:
            return FACE_RECOGNITION_ON
        portraits = stored_portraits.purge_all(db)
        cached, items = purge_photo_faces(db)
        return (f"face recognition is off: deleted {portraits} portrait encoding(s), the faces kept with {cached} "
                f"cached scan result(s) and {items} review item(s); nothing biometric is stored from now on")

    return save(db, name, text, by, interface, then=off if name == "face_recognition" else None)


def portrait_box(box: tuple[int, int, int, int] | None) -> str | None:
    return json.dumps(list(box)) if box else None
