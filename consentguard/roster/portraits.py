"""Portraits: find each student's SIS photos and encode the ones the index needs.

A portrait source is one of:

* a **folder**, searched recursively: ``<Student_Number>.jpg`` and, for more
  photos of one student (previous years), ``<Student_Number>_<anything>.jpg``
  or ``<Student_Number>-<anything>.jpg``, also inside year folders;
* a **zip** of such files;
* PowerSchool's **photo map file**: tab-delimited ``Student_Number<TAB>filename``
  without a header, file names relative to the map file's folder.

Photo vendors often strip leading zeros: a portrait found only by ignoring
leading zeros is used, with a warning.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from consentguard.errors import RosterError
from consentguard.inspect.image import EXTENSIONS, ImageError, decode_image, sha256_bytes


def _loose_number(number: str) -> str:
    """A student number with its leading zeros dropped: a photo vendor may write 00123 as 123."""
    return number.lstrip("0") or "0"


def _owner(filename: str) -> str | None:
    """Student number a portrait file name belongs to, or None."""
    name = PurePosixPath(filename)
    if name.suffix.lower() not in EXTENSIONS or name.name.startswith("."):
        return None
    match = re.match(r"^([^_\-\s.]+)(?:[_\-\s].*)?$", name.stem)
    return match.group(1) if match else None


@dataclass
class PortraitSource:
    """Portrait files by student number, read lazily."""

    where: str
    files: dict[str, list[str]] = field(default_factory=dict)  # number as written → file names
    problems: list[str] = field(default_factory=list)
    reader: object = None  # callable(name) -> bytes

    def add(self, number: str, name: str) -> None:
        self.files.setdefault(number, []).append(name)

    def find(self, number: str, roster: set[str] | frozenset = frozenset()) -> tuple[list[tuple[str, bytes]], str | None]:
        """(name, bytes) of every portrait of ``number``, and a warning if matched loosely. A loose
        match (leading zeros ignored) never takes a file named exactly for another student of
        ``roster``: that is their portrait, and enrolling it as this student's would leave them unprotected."""
        names, note = self.files.get(number), None
        if not names:
            loose = [n for k, v in self.files.items() if _loose_number(k) == _loose_number(number) and k not in roster for n in v]
            if loose:
                names = loose
                note = (f"portrait {Path(loose[0]).name} matched ignoring leading zeros; "
                        "check the photo vendor's student numbers")
        found = []
        for name in sorted(names or []):
            try:
                found.append((name, self.reader(name)))
            except OSError as exc:
                self.problems.append(f"{name}: cannot read portrait: {exc}")
        return found, note


def open_portraits(path: Path) -> PortraitSource:
    if path.is_dir():
        source = PortraitSource(str(path), reader=lambda n: Path(n).read_bytes())
        for file in sorted(path.rglob("*")):
            owner = _owner(file.name) if file.is_file() else None
            if owner:
                source.add(owner, str(file))
        return source
    if not path.exists():
        raise RosterError(f"{path}: portrait folder not found")
    if zipfile.is_zipfile(path):
        return _open_zip(path)
    return _open_map(path)


def _open_zip(path: Path) -> PortraitSource:
    archive = zipfile.ZipFile(path)
    source = PortraitSource(str(path), reader=lambda n: archive.read(n))
    for info in archive.infolist():
        owner = None if info.is_dir() else _owner(PurePosixPath(info.filename).name)
        if owner:
            source.add(owner, info.filename)
    return source


def _open_map(path: Path) -> PortraitSource:
    """PowerSchool's photo map: Student_Number<TAB>filename per line, no header."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise RosterError(f"{path}: cannot read photo map file: {exc.strerror or exc}") from exc
    folder = path.parent
    source = PortraitSource(str(path), reader=lambda n: Path(n).read_bytes())
    for line_no, row in enumerate(csv.reader(io.StringIO(text), delimiter="\t"), 1):
        if not any(c.strip() for c in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            source.problems.append(f"{path}: line {line_no}: expected Student_Number<TAB>filename")
            continue
        file = folder / row[1].strip()
        if not file.is_file():
            source.problems.append(f"{path}: line {line_no}: portrait file {row[1].strip()} not found")
            continue
        source.add(row[0].strip(), str(file))
    if not source.files and not source.problems:
        raise RosterError(f"{path}: not a folder, zip or photo map file of portraits")
    return source


PROBLEMS = {
    "no_face": "no face found in portrait {source}",
    "many_faces": "portrait {source} shows {detail}; not used (crop it to the student's face)",
    "unreadable": "portrait {source} cannot be read",
}

#: A portrait's second face is a stray (a partial face at the edge, a poster, a parent's
#: shoulder) when its weight is below this share of the main face's; at or above it the two
#: faces are comparable and the portrait is refused, since enrolling the wrong one would
#: leave the student unprotected.
STRAY_SHARE = 0.6


def _weight(face, width: int, height: int) -> float:
    """How much a face looks like the portrait's subject: its width, discounted when it is
    off-centre, cut by the frame, or not confirmed by dlib (turned, covered, partial)."""
    left, top, right, bottom = face.box
    dx = ((left + right) / 2 - width / 2) / (width / 2)
    dy = ((top + bottom) / 2 - height / 2) / (height / 2)
    centrality = 1.0 - 0.5 * min(1.0, (dx * dx + dy * dy) ** 0.5 / 2 ** 0.5)
    return face.width * centrality * (1.0 if face.confirmed else 0.7) * (0.7 if _cut(face, width, height) else 1.0)


#: A second face that dlib confirms, that the frame does not cut and that is at least this share
#: of the main face's width is a real person, not a stray: a child beside a parent has the smaller
#: face, so "largest" would enrol the parent. Such a portrait is refused (15 more of 457 LFW photos).
FULL_FACE_SHARE = 0.35


def _cut(face, width: int, height: int) -> bool:
    left, top, right, bottom = face.box
    return left <= 0 or top <= 0 or right >= width or bottom >= height


def dominant_face(faces: list, width: int, height: int):
    """(the face to enrol, None) or (None, the main face and every other face that could be the student)."""
    ranked = sorted(faces, key=lambda f: _weight(f, width, height), reverse=True)
    main = ranked[0]
    rivals = [other for other in ranked[1:]
              if _weight(other, width, height) >= STRAY_SHARE * _weight(main, width, height)
              or (other.confirmed and not _cut(other, width, height) and other.width >= FULL_FACE_SHARE * main.width)]
    return (None, [main, *rivals]) if rivals else (main, None)


def _box(box) -> str:
    return "[{}, {}, {}, {}]".format(*box)


@dataclass
class PortraitResult:
    student_number: str
    source: str
    sha256: str
    data: bytes = field(repr=False, default=b"")
    jitters: int = 1
    status: str = "pending"  # encoded | no_face | many_faces | unreadable
    box: tuple[int, int, int, int] | None = None
    encoding: object = None
    detail: str = ""  # which faces: the two comparable ones, or the one used and those ignored
    rivals: bool = False  # both of two comparable faces enrolled (a photo-restricted student's portrait)

    @property
    def problem(self) -> str | None:
        return PROBLEMS[self.status].format(source=self.source, detail=self.detail) if self.status in PROBLEMS else None

    @property
    def note(self) -> str | None:
        """Which face was enrolled when the portrait had more than one."""
        return self.detail if self.status == "encoded" and self.detail and not self.rivals else None

    def encode(self, enrol_rivals: bool = False) -> "PortraitResult":
        """Detect the faces and encode the dominant one (loads dlib). ``enrol_rivals`` (a
        photo-restricted student): a portrait with two faces either of which could be the student
        enrols both (``encoding`` is then 2 x 128) rather than none, so the student is protected
        whichever face is theirs; the other person's face is flagged as them too (fail closed)."""
        import numpy as np

        from consentguard.inspect.faces import detect_faces, encode_face

        try:
            image = decode_image(self.data, self.source)
        except ImageError:
            self.status = "unreadable"
            return self
        faces = detect_faces(image.rgb)
        chosen, rivals = dominant_face(faces, image.width, image.height) if faces else (None, None)
        if not faces:
            self.status = "no_face"
        elif rivals and enrol_rivals and len(rivals) == 2:  # three or more: a group photo, not a portrait
            self.status, self.box, self.rivals = "encoded", rivals[0].box, True
            self.encoding = np.array([encode_face(image.rgb, face, self.jitters) for face in rivals])
            self.detail = (f"portrait {self.source} shows two faces, at {_box(rivals[0].box)} and "
                           f"{_box(rivals[1].box)}, either of which could be the student: both enrolled, so the "
                           "student is protected, but the other person's face will be flagged as them too "
                           "(crop the portrait to the student's face)")
        elif rivals:
            self.status = "many_faces"
            self.detail = (f"{'two' if len(rivals) == 2 else len(rivals)} faces, at "
                           f"{', '.join(_box(f.box) for f in rivals[:-1])} and {_box(rivals[-1].box)}, "
                           f"{'either' if len(rivals) == 2 else 'any'} of which could be the student")
        else:
            self.status, self.box = "encoded", chosen.box
            self.encoding = encode_face(image.rgb, chosen, self.jitters)
            others = [f for f in faces if f is not chosen]
            if others:
                self.detail = (f"portrait {self.source}: enrolled the main face at {_box(chosen.box)}; "
                               f"ignored {len(others)} smaller or off-centre face{'s' if len(others) > 1 else ''} "
                               f"at {', '.join(_box(f.box) for f in others)}")
        self.data = b""
        return self


def prepare_portrait(data: bytes, name: str, student_number: str, policy) -> PortraitResult:
    """A portrait ready to encode (call ``.encode()``), identified by its content hash."""
    return PortraitResult(student_number, name, sha256_bytes(data), data, policy.encode_jitters)
