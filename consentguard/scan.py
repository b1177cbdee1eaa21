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
import shutil
import signal
import stat
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple

import sqlite_utils

from . import audit
from .decide import SEVERITY
from .errors import ImageError
from .image import EXTENSIONS, read_file, sha256_bytes
from .policy import Policy

if TYPE_CHECKING:
    from .report import ScanReports

THUMBNAIL_PX = 360
BOX_COLOURS = {"block": (220, 30, 30), "review": (240, 150, 0), "pass": (30, 160, 60)}


def _is_image(path: Path) -> bool:
    """Whether Pillow recognises the file's content (reads the header only; regular files only).
    A file that cannot be opened raises OSError: unknown content is not "not an image"."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path):
            return True
    except (UnidentifiedImageError, ValueError):
        return False


class Found(NamedTuple):
    """What :func:`find_photos` found: photos to check, other files (not images), and the
    entries it did not enter or read, each with the reason a person will read."""

    photos: list[Path]
    others: list[Path]
    not_checked: list[tuple[Path, str]]


KINDS = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}  # anything else: "not a regular file"


def find_photos(folder: Path) -> Found:
    """Photos, other files and entries not checked below ``folder``, sorted.

    A photo is a file with a photo extension, or any other file whose content an
    image reader recognises (a photo with a wrong or missing extension is still
    checked). Hidden files are photos like any other (".IMG_0001.jpg" can be
    published too) when their content is an image; otherwise they are other files
    (macOS "._" resource forks, ".DS_Store"). Links to files are checked under their
    own path. Nothing is skipped silently: hidden folders, links to folders, folders
    that cannot be read, FIFOs, devices, sockets and broken links are listed as not
    checked; FIFOs and devices are never opened for reading.
    """
    photos, others, skipped = [], [], []

    def unreadable(exc: OSError) -> None:
        skipped.append((Path(exc.filename), f"a folder that cannot be read ({exc.strerror or exc}): not entered"))

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        entered = []
        for name in sorted(dirs):
            path = Path(root) / name
            if path.is_symlink():
                skipped.append((path, "a link to a folder: not followed (it may lead outside the scanned "
                                      "folder, or loop)"))
            elif name.startswith("."):
                skipped.append((path, "a hidden folder: not entered"))
            else:
                entered.append(name)
        dirs[:] = entered
        for name in sorted(files):
            path = Path(root) / name
            why = _not_a_file(path)
            if why:
                skipped.append((path, why))
                continue
            try:
                photo = (path.suffix.lower() in EXTENSIONS and not name.startswith(".")) or _is_image(path)
                kind = None if photo else _shows_pictures(path)
            except OSError as exc:
                skipped.append((path, f"a file that cannot be read ({exc.strerror or exc}): not checked"))
                continue
            if kind:
                skipped.append((path, f"{kind} can show photos of students, and consentguard cannot check it: "
                                      "check it by eye"))
                continue
            (photos if photo else others).append(path)
    return Found(photos, others, sorted(skipped))


#: Files that are not images but can show them: listed as not checked (never as harmless other files).
PICTURE_CARRIERS = {
    ".svg": "an SVG drawing", ".svgz": "an SVG drawing", ".pdf": "a PDF document", ".eps": "an EPS file",
    ".ai": "an Illustrator file", ".psd": "a Photoshop file", ".html": "a web page", ".htm": "a web page",
    ".docx": "a Word document", ".pptx": "a PowerPoint presentation", ".key": "a Keynote presentation",
    ".pages": "a Pages document", ".odt": "a document", ".odp": "a presentation", ".zip": "a ZIP archive",
    ".mp4": "a video", ".mov": "a video", ".m4v": "a video", ".avi": "a video", ".webm": "a video",
    ".mkv": "a video", ".3gp": "a video", ".mts": "a video", ".wmv": "a video",
}


def _shows_pictures(path: Path) -> str | None:
    """What kind of picture-carrying file this is (by extension, or an SVG by its content), or None."""
    kind = PICTURE_CARRIERS.get(path.suffix.lower())
    if kind:
        return kind
    with open(path, "rb") as f:
        head = f.read(1024).lstrip().lower()
    return "an SVG drawing" if head.startswith((b"<svg", b"<?xml")) and b"<svg" in head else None


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` is not read (not a regular file, nor a link to one), or None."""
    try:
        mode = path.lstat().st_mode
        link = stat.S_ISLNK(mode)
        if link:
            mode = path.stat().st_mode
    except FileNotFoundError:
        return "a link to a file that does not exist: not read"
    except OSError as exc:
        return f"cannot be examined ({exc.strerror or exc}): not read"
    if stat.S_ISREG(mode):
        return None
    kind = KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return f"{'a link to ' if link else ''}{kind}: not read"


def thumbnail(image, faces, size: int = THUMBNAIL_PX) -> bytes:
    """A small JPEG of the photo with each face's box in its verdict's colour."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(image.rgb)
    scale = min(1.0, size / max(im.size))
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BILINEAR)
    draw = ImageDraw.Draw(im)
    from .redact import on_photo
    for face in (f for f in faces if on_photo(f)):  # boxes in other frames or pages are not on this one
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
    from .check import Checker, limit_worker_memory
    from .db import open_db
    from .models import face_models

    import cv2

    cv2.setNumThreads(1)  # one worker per core already; more threads only contend
    os.environ["CONSENTGUARD_OCR_THREADS"] = "1"
    if mp.current_process().name != "MainProcess":  # a pool worker (workers=1 runs in the scan itself)
        limit_worker_memory()
    _checker = Checker(open_db(db_path, create=False), policy, record=False, channel=channel, school=school,
                       root=root)
    face_models()  # load once per worker, before the first photo


def _check_one(path: str) -> tuple[str, dict, bytes | None, str]:
    """A photo's result document, thumbnail and the cache version it was judged under (a sync
    landing during the scan: the photos after it are judged against the new roster)."""
    global _checker
    _checker = _checker.current()
    try:
        data = read_file(path)
    except ImageError:  # vanished or unreadable: an error result, never a pass
        return path, _checker.check_path(path).to_json(), None, _checker.version
    result, image = _checker.check_decoded(data, path)
    doc = result.to_json()
    return path, doc, thumbnail(image, doc["faces"]) if image is not None else None, _checker.version


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
    photos: list[Path] = field(default_factory=list)  # every photo found, checked or not
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # entries not entered or read, and why
    stopped_by: int | None = None  # the signal that interrupted the scan
    warnings: list[str] = field(default_factory=list)  # what weakened every check (Checker.warnings)
    roster_changed: int | None = None  # a sync that landed during the scan (later photos judged against it)

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

    def pending(self) -> list[Path]:
        """Photos found but not checked (yet)."""
        done = {r.doc["path"] for r in self.results}
        return [p for p in self.photos if str(p) not in done]

    def not_checked(self, running: bool = False) -> list[tuple[Path, str]]:
        """Everything below the folder that was not checked, with the reason a person will read."""
        why = ("not checked yet: the scan is still running, or was stopped before it reached this photo"
               if running else "not checked: the scan was interrupted before it reached this photo; "
                                "run the same command again to check it")
        return [(p, why) for p in self.pending()] + self.skipped

    @property
    def exit_signal(self) -> int:
        return self.stopped_by or signal.SIGINT


@contextmanager
def _stop_on_signals(scan: Scan):
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed) stop the scan like Ctrl-C always
    did: the photos checked so far are kept, reported and cached. The signal is remembered for the
    reports and the exit status (128 + signal)."""
    def stop(signum, frame):
        scan.stopped_by = signum
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # signals only reach the main thread
        yield
        return
    signals = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, stop) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_scan(db: sqlite_utils.Database, db_path: str, folder: Path, policy: Policy | None = None,
             channel: str | None = None, workers: int | None = None,
             progress: Callable[[int], None] | None = None,
             found: Found | None = None, school: str | None = None,
             reports: "ScanReports | None" = None) -> Scan:
    """Check every photo below ``folder``; results cached and audited as they arrive.

    ``KeyboardInterrupt``, SIGINT, SIGTERM and SIGHUP stop the scan cleanly: what finished
    is kept (and cached), ``Scan.interrupted`` is set. ``found`` is
    :func:`find_photos`'s answer if the caller already has it. ``reports`` are
    written before the first photo (every photo "not checked yet") and rewritten
    as results arrive, so a scan killed outright still leaves reports that say
    they are incomplete; the caller writes the final version.
    """
    from .check import Checker

    policy = policy or Policy()
    checker = Checker(db, policy, record=False, channel=channel, school=school, root=folder)
    base_version = checker.version
    photos, others, skipped = found or find_photos(folder)
    scan = Scan(folder, total=len(photos), not_photos=others, photos=photos, skipped=skipped,
                warnings=checker.warnings)

    def arrived(result: ScanResult, sha: str | None, version: str) -> None:
        _keep(db, scan, result, sha, version)
        if progress:
            progress(1)
        if reports:
            reports.update(scan)

    with _stop_on_signals(scan):
        try:
            if reports:
                reports.write(scan, running=True)
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
                    arrived(ScanResult(doc, row[1], True), None, version)
                else:
                    todo.append(str(path))
            workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
            for path, doc, thumb, version in _results(todo, workers, db_path, policy, (channel, school, str(folder))):
                if doc["roster_sync_id"] != checker.sync_id:
                    scan.roster_changed = doc["roster_sync_id"]
                arrived(ScanResult(doc, thumb, False), doc["sha256"], _cache_version(version, folder, path))
        except KeyboardInterrupt:
            scan.interrupted = True
    return scan


def copy_passed_photos(scan: Scan, to: Path) -> list[tuple[Path, str]]:
    """Copy the photos that passed into ``to`` (same sub-folders), each only if its bytes are still
    the ones that were checked (same SHA-256): the bytes hashed are the bytes written. A photo
    changed or unreadable since its check is not copied; it is returned with the reason."""
    refused = []
    for r in scan.worst_first():
        if r.verdict != "pass":
            continue
        source = Path(r.doc["path"])
        try:
            data = read_file(source)
        except ImageError as exc:
            refused.append((source, f"passed, but could not be read again to copy it ({exc}): not copied"))
            continue
        if sha256_bytes(data) != r.doc["sha256"]:
            refused.append((source, "passed, but the file changed after it was checked: not copied; "
                                    "run the scan again to check the new version"))
            continue
        target = to / source.relative_to(scan.folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        shutil.copystat(source, target)
    return refused


def _results(todo: list[str], workers: int, db_path: str, policy: Policy,
             scope: tuple[str | None, str | None, str]) -> Iterator[tuple[str, dict, bytes | None, str]]:
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
