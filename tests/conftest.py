"""Shared fixtures: real SQLite files, real face photos, real exports.

Face photos come from ``../shared/faces`` (or ``$CONSENTGUARD_FACES``). On a
machine without it, the face tests use the photos in face_recognition's PyPI
sdist (fetched and cached by scripts/fetch_test_photos.py) instead of skipping.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
SHARED_FACES = Path(os.environ.get("CONSENTGUARD_FACES", ROOT.parent / "shared" / "faces"))
PYPI_FACES = ROOT / ".cache" / "pypi_faces"

HEADER = ["Student_Number", "First_Name", "Middle_Name", "Last_Name", "Grade_Level", "SchoolID",
          "Enroll_Status", "Media_Opt_Out", "Photo_Opt_Out", "Name_Opt_Out"]


def write_export(path: Path, rows: list[dict], header: list[str] = HEADER, encoding="utf-8",
                 delimiter=",", lineterminator="\r\n") -> Path:
    """Write a PowerSchool-style export; missing cells are blank."""
    with open(path, "w", newline="", encoding=encoding) as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator=lineterminator)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, "") for h in header])
    return path


def student(number, first, last, media="", photo="", name="", **extra) -> dict:
    return {"Student_Number": number, "First_Name": first, "Last_Name": last,
            "Media_Opt_Out": media, "Photo_Opt_Out": photo, "Name_Opt_Out": name,
            "Grade_Level": "6", "SchoolID": "1201", "Enroll_Status": "0", **extra}


@dataclass
class FaceSet:
    """Real photos with known people, whichever source is available."""

    source: str
    restricted_portrait: Path  # person R's enrolment photo
    clear_portrait: Path       # person C's enrolment photo
    restricted_other: Path     # another photo of R
    clear_other: Path          # another photo of C
    stranger: Path             # someone else entirely
    group: Path                # R and C (and maybe others) together
    restricted_x: tuple[int, int]  # x range of R's face centre in the group photo
    partial: Path              # R's face cut by the image edge


def _pypi_faces() -> Path:
    if not (PYPI_FACES / "astronaut.png").is_file():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_test_photos.py"), str(PYPI_FACES)],
                       check=True)
    return PYPI_FACES


@pytest.fixture(scope="session")
def faces(tmp_path_factory) -> FaceSet:
    s = SHARED_FACES
    if (s / "people" / "obama").is_dir() and (s / "groups" / "fr-obama_and_biden.jpg").is_file():
        return FaceSet("shared", s / "people/obama/obama.jpg", s / "people/biden/biden.jpg",
                       s / "people/obama/obama1.jpg", s / "people/biden/biden2.jpg",
                       s / "lfw/Jean_Charest/Jean_Charest_0002.jpg",
                       s / "groups/fr-obama_and_biden.jpg", (1100, 1380),
                       s / "odd/obama_partial_face.jpg")
    p = _pypi_faces()
    work = tmp_path_factory.mktemp("pypi_group")
    # No group photo in the sdist: put R (obama2) and C (biden) side by side.
    left = ImageOps.exif_transpose(Image.open(p / "obama2.jpg")).convert("RGB")
    right = ImageOps.exif_transpose(Image.open(p / "biden.jpg")).convert("RGB")
    right.thumbnail((left.width * 2, left.height))
    group = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    group.paste(left, (0, 0))
    group.paste(right, (left.width, 0))
    group.save(work / "group.jpg", quality=92)
    mirrored = ImageOps.mirror(right)
    mirrored.save(work / "biden_mirrored.jpg", quality=92)
    return FaceSet("pypi", p / "obama.jpg", p / "biden.jpg", p / "obama2.jpg",
                   work / "biden_mirrored.jpg", p / "astronaut.png", work / "group.jpg",
                   (0, left.width), p / "obama_partial_face.jpg")


R, C, N = "900001", "900002", "900003"  # restricted face, clear face, restricted name


@pytest.fixture(scope="session")
def face_roster(tmp_path_factory, faces) -> Path:
    """A real database synced from an export with R photo-restricted, C clear, N name-restricted;
    indexed with the privacy option (only R's portrait encoded), as the tests using it expect."""
    from consentguard import open_db, sync_roster

    work = tmp_path_factory.mktemp("face_roster")
    portraits = work / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.clear_portrait, portraits / f"{C}.jpg")
    export = write_export(work / "export.csv", [
        student(R, "Marcus", "Ellery", photo="Y"),
        student(C, "Jordan", "Whitfield"),
        student(N, "Priya", "Natarajan", name="Yes"),
        student("900004", "Amelia", "Hartley"),
    ])
    db_path = work / "cg.db"
    report = sync_roster(open_db(db_path), export, portraits, index_policy="restricted")
    assert report.portraits_encoded == 1, report.problems
    return db_path


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "consentguard.db"
