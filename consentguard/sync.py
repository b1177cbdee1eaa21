"""Roster sync: apply a parsed export to the database, all or nothing.

Order of work: read and check the export (may refuse), find and encode the
portraits the face index needs (slow, outside any transaction), then write
everything in one transaction. A student missing from today's export keeps
every restriction they had: absence never clears an opt-out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from . import index as face_index
from .db import now, os_user, transaction
from .errors import ConsentGuardError, RosterError
from .image import read_file, sha256_bytes
from .policy import Policy
from .roster import Problem, Roster, StudentRecord, read_export

PORTRAIT_EXTENSIONS = (".jpg", ".jpeg", ".png")


@dataclass
class PortraitResult:
    student_number: str
    source: str
    sha256: str
    status: str  # encoded | no_face | many_faces | unreadable | reused
    box: tuple[int, int, int, int] | None = None
    encoding: object = None


@dataclass
class SyncReport:
    sync_id: int
    source: str
    students: int
    photo_restricted: int
    name_restricted: int
    portraits_encoded: int
    portraits_reused: int
    kept_absent: int
    newly_restricted: list[str] = field(default_factory=list)
    newly_cleared: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"sync #{self.sync_id} from {self.source}",
            f"  students in export:     {self.students}",
            f"  photo-restricted:       {self.photo_restricted}",
            f"  name-restricted:        {self.name_restricted}",
            f"  portraits encoded:      {self.portraits_encoded} new, {self.portraits_reused} unchanged",
            f"  absent from export:     {self.kept_absent} (restrictions kept)",
            f"  newly restricted:       {len(self.newly_restricted)}",
            f"  newly cleared:          {len(self.newly_cleared)}",
            f"  problems:               {len(self.problems)}",
        ]
        lines += [f"    - {p}" for p in self.problems]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return dict(self.__dict__)


def find_portraits(photos: Path, student_number: str) -> list[Path]:
    """``DIR/<Student_Number>.jpg|.jpeg|.png`` (extension case ignored)."""
    found = []
    for ext in PORTRAIT_EXTENSIONS:
        for candidate in (photos / f"{student_number}{ext}", photos / f"{student_number}{ext.upper()}"):
            if candidate.is_file() and candidate not in found:
                found.append(candidate)
    return found


def encode_portrait(path: Path, student_number: str, policy: Policy) -> PortraitResult:
    from .faces import encode_face, detect_faces  # loads dlib: only when portraits need it
    from .image import ImageError, decode_image

    data = read_file(path)
    result = PortraitResult(student_number, str(path), sha256_bytes(data), "unreadable")
    try:
        image = decode_image(data, str(path))
    except ImageError:
        return result
    faces = detect_faces(image.rgb, upsample=1 if image.width * image.height < 1_000_000 else 0)
    if not faces:
        result.status = "no_face"
    elif len(faces) > 1:
        result.status = "many_faces"
    else:
        result.status, result.box = "encoded", faces[0].box
        result.encoding = encode_face(image.rgb, faces[0], policy.encode_jitters)
    return result


PORTRAIT_PROBLEMS = {
    "no_face": "no face found in portrait {source}",
    "many_faces": "more than one face in portrait {source}; not used",
    "unreadable": "portrait {source} cannot be read",
}


def _portraits(db, roster: Roster, photos: Path | None, policy: Policy,
               problems: list[Problem]) -> tuple[list[PortraitResult], int]:
    """Encode the portraits of photo-restricted students that are new or changed."""
    if photos is None:
        return [], 0
    if not photos.is_dir():
        raise RosterError(f"{photos}: portrait folder not found")
    known = {(r[0], r[1]) for r in db.execute("SELECT student_number, sha256 FROM portraits "
                                              "WHERE status != 'encoded' OR encoding IS NOT NULL")}
    results, reused = [], 0
    for record in roster.records.values():
        if not record.photo_restricted:
            continue
        paths = find_portraits(photos, record.student_number)
        for path in paths:
            sha = sha256_bytes(read_file(path))
            if (record.student_number, sha) in known:
                reused += 1
                continue
            result = encode_portrait(path, record.student_number, policy)
            results.append(result)
            if result.status in PORTRAIT_PROBLEMS:
                problems.append(Problem(
                    f"{record.full_name} (#{record.student_number}): "
                    + PORTRAIT_PROBLEMS[result.status].format(source=path), None, record.student_number))
    return results, reused


def sync_roster(db: sqlite_utils.Database, export: str | Path, photos: str | Path | None = None,
                policy: Policy | None = None) -> SyncReport:
    """Import ``export`` (and portraits from ``photos``) as one sync run."""
    policy = policy or Policy()
    started = now()
    roster = read_export(export)
    problems = list(roster.problems)
    portraits, reused = _portraits(db, roster, Path(photos) if photos else None, policy, problems)
    try:
        with transaction(db):
            sync_id = db["sync_runs"].insert({
                "started_at": started, "os_user": os_user(), "source": roster.source,
                "source_sha256": roster.sha256, "photos": str(photos) if photos else None,
                "status": "running"}).last_pk
            report = _apply(db, roster, portraits, reused, sync_id, problems)
            db["sync_runs"].update(sync_id, {
                "finished_at": now(), "status": "ok", "students": report.students,
                "restricted": report.photo_restricted + report.name_restricted,
                "portraits_encoded": report.portraits_encoded,
                "report": json.dumps(report.to_json())})
    except ConsentGuardError:
        raise
    except Exception as exc:  # the transaction rolled back: yesterday's roster stays
        raise RosterError(f"{roster.source}: sync failed and was rolled back: {exc}") from exc
    return report


def _apply(db, roster: Roster, portraits: list[PortraitResult], reused: int, sync_id: int,
           problems: list[Problem]) -> SyncReport:
    before = {r[0]: (bool(r[1]), bool(r[2])) for r in db.execute(
        "SELECT student_number, photo_restricted, name_restricted FROM students")}
    newly_restricted, newly_cleared = [], []
    for record in roster.records.values():
        was = before.get(record.student_number)
        now_restricted = record.restricted
        if now_restricted and (was is None or not any(was)):
            newly_restricted.append(record.student_number)
        if was is not None and any(was) and not now_restricted:
            newly_cleared.append(record.student_number)
        db["students"].upsert(_row(record, sync_id, first=was is None), pk="student_number")
    for p in portraits:
        db["portraits"].upsert({
            "student_number": p.student_number, "sha256": p.sha256, "source": p.source,
            "box": face_index.portrait_box(p.box), "status": p.status, "sync_id": sync_id,
            "encoding": face_index.encoding_to_blob(p.encoding) if p.encoding is not None else None,
        }, pk=("student_number", "sha256"))
    face_index.purge_unneeded(db)
    without = [r for r in roster.records.values() if r.photo_restricted and not db.execute(
        "SELECT 1 FROM portraits WHERE student_number = ? AND encoding IS NOT NULL",
        [r.student_number]).fetchone()]
    for record in without:
        problems.append(Problem(f"{record.full_name} (#{record.student_number}) is photo-restricted "
                                "but has no usable portrait: their face cannot be recognised",
                                None, record.student_number))
    records = roster.records.values()
    return SyncReport(
        sync_id=sync_id, source=roster.source, students=len(roster.records),
        photo_restricted=sum(r.photo_restricted for r in records),
        name_restricted=sum(r.name_restricted for r in records),
        portraits_encoded=sum(p.status == "encoded" for p in portraits),
        portraits_reused=reused,
        kept_absent=len(set(before) - set(roster.records)),
        newly_restricted=newly_restricted, newly_cleared=newly_cleared,
        problems=[str(p) for p in problems])


def _row(record: StudentRecord, sync_id: int, first: bool) -> dict:
    row = {
        "student_number": record.student_number, "first_name": record.first_name,
        "middle_name": record.middle_name, "last_name": record.last_name,
        "grade_level": record.grade_level, "school_id": record.school_id,
        "enroll_status": record.enroll_status,
        "photo_restricted": int(record.photo_restricted),
        "name_restricted": int(record.name_restricted),
        "consent_raw": json.dumps(record.consent_raw), "last_seen_sync_id": sync_id,
    }
    if first:
        row["first_sync_id"] = sync_id
    return row
