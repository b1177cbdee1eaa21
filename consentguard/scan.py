"""Batch scan: check every photo in a folder tree on all cores, resumably.

Each photo's result is cached in the database by its content hash and by what
the verdict depends on (roster run, channel, policy: ``Checker.version``), the
moment it is known. An interrupted scan run again picks up where it stopped;
a scan after a new roster sync checks everything again.

Worker processes each load the face models once and check photos with
``record=False``; this process records every result in the audit table.
"""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import sqlite_utils

from . import audit
from .decide import SEVERITY
from .image import EXTENSIONS, ImageError, read_file, sha256_bytes
from .policy import Policy

THUMBNAIL_PX = 360
BOX_COLOURS = {"block": (220, 30, 30), "review": (240, 150, 0), "pass": (30, 160, 60)}


def _is_image(path: Path) -> bool:
    """Whether Pillow recognises the file's content (reads the header only)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path):
            return True
    except (UnidentifiedImageError, OSError, ValueError):
        return False


def find_photos(folder: Path) -> tuple[list[Path], list[Path]]:
    """(photos, other files) below ``folder``, sorted; hidden files and folders skipped.

    A photo is a file with a photo extension, or any other file whose content an
    image reader recognises (a photo with a wrong or missing extension is still
    checked). What is left is reported, never silently ignored.
    """
    photos, others = [], []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            path = Path(root) / name
            (photos if path.suffix.lower() in EXTENSIONS or _is_image(path) else others).append(path)
    return photos, others


def thumbnail(image, faces, size: int = THUMBNAIL_PX) -> bytes:
    """A small JPEG of the photo with each face's box in its verdict's colour."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(image.rgb)
    scale = min(1.0, size / max(im.size))
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BILINEAR)
    draw = ImageDraw.Draw(im)
    for face in (f for f in faces if not f.get("view")):  # boxes in other frames or pages are not on this one
        box = [round(v * scale) for v in face["box"]]
        draw.rectangle(box, outline=BOX_COLOURS.get(face["verdict"], (0, 0, 0)), width=3)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80)
    return out.getvalue()


# -- worker processes --------------------------------------------------------------------

_checker = None


def _init_worker(db_path: str, policy: Policy, channel: str | None, school: str | None = None,
                 root: str | None = None) -> None:
    global _checker
    from .check import Checker
    from .db import open_db
    from .models import face_models

    import cv2

    cv2.setNumThreads(1)  # one worker per core already; more threads only contend
    os.environ["CONSENTGUARD_OCR_THREADS"] = "1"
    _checker = Checker(open_db(db_path, create=False), policy, record=False, channel=channel, school=school,
                       root=root)
    face_models()  # load once per worker, before the first photo


def _check_one(path: str) -> tuple[str, dict, bytes | None]:
    try:
        data = read_file(path)
    except ImageError:  # vanished or unreadable: an error result, never a pass
        return path, _checker.check_path(path).to_json(), None
    result, image = _checker.check_decoded(data, path)
    doc = result.to_json()
    return path, doc, thumbnail(image, doc["faces"]) if image is not None else None


# -- the scan ----------------------------------------------------------------------------

@dataclass
class ScanResult:
    doc: dict
    thumbnail: bytes | None
    cached: bool

    @property
    def verdict(self) -> str:
        return self.doc["verdict"]


@dataclass
class Scan:
    folder: Path
    results: list[ScanResult] = field(default_factory=list)
    total: int = 0
    interrupted: bool = False
    not_photos: list[Path] = field(default_factory=list)  # files found that are not images

    @property
    def cached(self) -> int:
        return sum(r.cached for r in self.results)

    def worst_first(self) -> list[ScanResult]:
        return sorted(self.results, key=lambda r: (-SEVERITY[r.verdict], r.doc["path"]))

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        return counts


def run_scan(db: sqlite_utils.Database, db_path: str, folder: Path, policy: Policy | None = None,
             channel: str | None = None, workers: int | None = None,
             progress: Callable[[int], None] | None = None,
             found: tuple[list[Path], list[Path]] | None = None, school: str | None = None) -> Scan:
    """Check every photo below ``folder``; results cached and audited as they arrive.

    ``KeyboardInterrupt`` stops the scan cleanly: what finished is kept (and
    cached), ``Scan.interrupted`` is set. ``found`` is :func:`find_photos`'s
    answer if the caller already has it.
    """
    from .check import Checker

    policy = policy or Policy()
    checker = Checker(db, policy, record=False, channel=channel, school=school, root=folder)
    base_version = checker.version
    photos, others = found or find_photos(folder)
    scan = Scan(folder, total=len(photos), not_photos=others)
    todo = []
    for path in photos:
        try:
            sha = sha256_bytes(read_file(path))
        except Exception:
            sha = None
        version = _cache_version(base_version, folder, path)
        row = db.execute("SELECT result, thumbnail FROM scan_cache WHERE sha256 = ? AND version = ?",
                         [sha, version]).fetchone() if sha else None
        if row:
            doc = json.loads(row[0])
            doc["path"] = str(path)
            _keep(db, scan, ScanResult(doc, row[1], True), None, version)
            if progress:
                progress(1)
        else:
            todo.append(str(path))
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    try:
        for path, doc, thumb in _results(todo, workers, db_path, policy, (channel, school, str(folder))):
            _keep(db, scan, ScanResult(doc, thumb, False), doc["sha256"], _cache_version(base_version, folder, path))
            if progress:
                progress(1)
    except KeyboardInterrupt:
        scan.interrupted = True
    return scan


def _results(todo: list[str], workers: int, db_path: str, policy: Policy,
             scope: tuple[str | None, str | None, str]) -> Iterator[tuple[str, dict, bytes | None]]:
    if not todo:
        return
    if workers == 1:
        _init_worker(db_path, policy, *scope)
        for path in todo:
            yield _check_one(path)
        return
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(workers, initializer=_init_worker, initargs=(db_path, policy, *scope))
    try:
        yield from pool.imap_unordered(_check_one, todo)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _cache_version(version: str, folder: Path, path) -> str:
    """A result depends on the file's place too: its file and folder names are checked for names."""
    return f"{version}|{Path(path).relative_to(folder).as_posix()}"


def _keep(db, scan: Scan, result: ScanResult, sha: str | None, version: str) -> None:
    scan.results.append(result)
    if sha and not result.cached and result.verdict != "error":
        db["scan_cache"].upsert({"sha256": sha, "version": version, "result": json.dumps(result.doc),
                                 "thumbnail": result.thumbnail}, pk=("sha256", "version"))
    audit.record_doc(db, result.doc, "scan")
