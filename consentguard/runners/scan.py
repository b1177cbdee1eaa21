"""Batch scan: check every photo in a folder tree on all cores, resumably.

Each photo's result is cached in the database by its content hash and by what
the verdict depends on (roster run, channel, policy: ``Checker.version``), the
moment it is known. An interrupted scan run again picks up where it stopped;
a scan after a new roster sync checks everything again.

Worker processes each load the face models once and check photos with
``record=False``, and return each photo's evidence with its result. Results are
reported as they arrive (each photo decided alone); then the whole batch,
cached results included, is decided together (:meth:`Checker.decide`: one
person judged once across the photos, staff decisions in force applied), and
this process records the final verdicts in the audit table, once per photo.
A cached result is never reused as a verdict: its evidence is decided again.
"""

from __future__ import annotations

import base64
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

import numpy as np
import sqlite_utils

from consentguard.decide import Verdict
from consentguard.errors import ImageError
from consentguard.inspect.image import EXTENSIONS, read_file, sha256_bytes
from consentguard.inspect.video import VIDEO_EXTENSIONS, VIDEO_VERSION, is_video, sha256_file
from consentguard.match.names import NameHit
from consentguard.people import PhotoEvidence
from consentguard.policy import Policy
from consentguard.runners.workers import init_worker, worker_checker
from consentguard.store import audit, scan_cache

if TYPE_CHECKING:
    from consentguard.output.report import ScanReports
    from consentguard.review import ReviewItem
    from consentguard.runners.check import Checker

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


#: The first bytes of a macOS AppleDouble file ("._IMG_0001.MOV" beside the clip on a USB stick).
APPLE_DOUBLE = b"\x00\x05\x16\x07"


def _is_hidden_video(path: Path) -> bool:
    """A hidden file with a video extension is a video someone can publish (".IMG_0001.MOV"),
    unless it is a macOS AppleDouble resource fork. Undecodable content is then the check's
    error, never a harmless "other file"."""
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        return False
    with open(path, "rb") as f:
        return f.read(4) != APPLE_DOUBLE


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

    A photo is a file with a photo or video extension (inspect.video), or any other file whose content an
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
                photo = (path.suffix.lower() in (*EXTENSIONS, *VIDEO_EXTENSIONS) and not name.startswith(".")
                         ) or _is_image(path) or _is_hidden_video(path)
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
    ".mkv": "a video", ".3gp": "a video", ".mts": "a video", ".wmv": "a video",
}


def _shows_pictures(path: Path) -> str | None:
    """What kind of picture-carrying file this is (by extension, or an SVG by its content), or None."""
    kind = PICTURE_CARRIERS.get(path.suffix.lower())
    if kind:
        return kind
    with open(path, "rb") as f:
        raw = f.read(1024)
    if _video_content(raw):
        return "a video (by its content)"
    head = raw.lstrip().lower()
    return "an SVG drawing" if head.startswith((b"<svg", b"<?xml")) and b"<svg" in head else None


def _video_content(head: bytes) -> bool:
    """Whether a file's first bytes are a video container's (MP4/MOV/3GP 'ftyp', Matroska/WebM,
    AVI): a clip whose name lost or hides its extension is still a video, never a harmless file."""
    return (head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3")
            or (head.startswith(b"RIFF") and head[8:12] == b"AVI "))


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
    from PIL import Image

    im = Image.fromarray(image.rgb)
    scale = min(1.0, size / max(im.size))
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BILINEAR)
    _draw_boxes(im, faces, scale)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80)
    return out.getvalue()


def plain_thumbnail(image, size: int = THUMBNAIL_PX) -> bytes:
    """The thumbnail without boxes: the scan draws them once the batch has decided (a verdict can
    change when the photo is decided with the others)."""
    return thumbnail(image, [], size)


def boxed_thumbnail(plain: bytes | None, doc: dict) -> bytes | None:
    """``plain`` (see :func:`plain_thumbnail`) with the boxes of ``doc``'s faces in their verdicts' colours."""
    if plain is None or not doc.get("faces") or not doc.get("image", {}).get("width"):
        return plain
    from PIL import Image

    im = Image.open(io.BytesIO(plain)).convert("RGB")
    _draw_boxes(im, doc["faces"], im.width / doc["image"]["width"])
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80)
    return out.getvalue()


def _draw_boxes(im, faces, scale: float) -> None:
    from PIL import ImageDraw

    from consentguard.output.redact import on_photo
    draw = ImageDraw.Draw(im)
    for face in (f for f in faces if on_photo(f)):  # boxes in other frames or pages are not on this one
        box = [round(v * scale) for v in face["box"]]
        draw.rectangle(box, outline=BOX_COLOURS.get(face["verdict"], (0, 0, 0)), width=3)


# -- evidence in the cache ---------------------------------------------------------------

#: Nearest students kept per face in the cache (the decision matches the encoding again anyway).
CACHED_NEAREST = 10


def evidence_to_json(evidence: PhotoEvidence) -> dict:
    """A photo's evidence for the scan cache: per face its box, view, width, sharpness, detector
    confirmation, rotation, place, 10 nearest students, encoding (base64 float64) and close-up
    (base64 JPEG); the names found, the parts not checked, the error; a video's facts and tracks. Biometric: emptied by
    ``consentguard index purge --all``."""
    def b64(data: bytes | None) -> str | None:
        return None if data is None else base64.b64encode(data).decode("ascii")

    return {
        "faces": [{"box": list(f.box), "view": f.view, "width": f.width, "sharpness": f.sharpness,
                   "confirmed": f.confirmed, "rotation": f.rotation, "on_photo": f.on_photo,
                   "nearest": None if f.nearest is None else [[n, d] for n, d in f.nearest[:CACHED_NEAREST]],
                   "encoding": None if f.encoding is None else b64(np.asarray(f.encoding, np.float64).tobytes()),
                   "closeup": b64(f.closeup)} for f in evidence.faces],
        "names": [{**vars(h), "box": None if h.box is None else list(h.box)} for h in evidence.names],
        "unchecked": list(evidence.unchecked), "error": evidence.error, "video": evidence.video}


def evidence_from_json(doc: dict, path: str, sha256: str | None) -> PhotoEvidence:
    """The evidence :func:`evidence_to_json` stored (``path``: where the photo is now)."""
    from consentguard.decide import FaceEvidence

    def raw(text: str | None) -> bytes | None:
        return None if text is None else base64.b64decode(text)

    faces = [FaceEvidence(tuple(f["box"]), None if f["nearest"] is None else [(n, d) for n, d in f["nearest"]],
                          f["sharpness"], f["confirmed"], f["view"], f["rotation"], f["on_photo"],
                          encoding=None if f["encoding"] is None else np.frombuffer(raw(f["encoding"]), np.float64),
                          closeup=raw(f["closeup"]))
             for f in doc["faces"]]
    names = [NameHit(**{**h, "box": None if h["box"] is None else tuple(h["box"])}) for h in doc["names"]]
    return PhotoEvidence(path, sha256, faces, names, list(doc["unchecked"]), doc["error"], doc.get("video"))


# -- worker processes (started by consentguard.runners.workers) -----------------------------

class Checked(NamedTuple):
    """What a worker returns for one photo (pickled between processes)."""

    path: str
    doc: dict                       # the result document, the photo decided alone
    plain: bytes | None             # thumbnail without boxes (see plain_thumbnail)
    version: str                    # the cache version it was judged under
    evidence: PhotoEvidence | None  # what it was decided from


def _check_one(path: str) -> Checked:
    """A photo's result document, thumbnail, the cache version it was judged under (a sync
    landing during the scan: the photos after it are judged against the new roster), and its
    evidence, so the batch can be decided together."""
    checker = worker_checker()
    if is_video(path):  # streamed from the file, never read whole; no thumbnail yet
        result = checker.check_path(path)
        return Checked(path, result.to_json(), None, checker.version, result.evidence)
    try:
        data = read_file(path)
    except ImageError:  # vanished or unreadable: an error result, never a pass
        result = checker.check_path(path)
        return Checked(path, result.to_json(), None, checker.version, result.evidence)
    result, image = checker.check_decoded(data, path, location=os.path.abspath(path))
    return Checked(path, result.to_json(), plain_thumbnail(image) if image is not None else None,
                   checker.version, result.evidence)


# -- the scan ----------------------------------------------------------------------------

@dataclass
class ScanResult:
    doc: dict
    thumbnail: bytes | None
    cached: bool
    #: what the photo was decided from (None: not known, the photo keeps its own verdict)
    evidence: PhotoEvidence | None = field(default=None, repr=False)
    plain: bytes | None = field(default=None, repr=False)  # the thumbnail without boxes

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
    #: what staff must decide about the batch (people.decide_batch), once the scan has decided it together
    review_items: list["ReviewItem"] = field(default_factory=list)

    @property
    def cached(self) -> int:
        return sum(r.cached for r in self.results)

    def worst_first(self) -> list[ScanResult]:
        return sorted(self.results, key=lambda r: (-Verdict(r.verdict).severity, r.doc["path"]))
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
             reports: "ScanReports | None" = None, engine: str = "local",
             ray_address: str | None = None) -> Scan:
    """Check every photo below ``folder``; results cached as they arrive, then the whole batch
    decided together and its final verdicts audited.

    ``KeyboardInterrupt``, SIGINT, SIGTERM and SIGHUP stop the scan cleanly: what finished
    is kept (and cached), decided together and audited, ``Scan.interrupted`` is set. ``found`` is
    :func:`find_photos`'s answer if the caller already has it. ``reports`` are
    written before the first photo (every photo "not checked yet") and rewritten
    as results arrive (each photo decided alone until the batch is), so a scan killed outright
    still leaves reports that say they are incomplete; the caller writes the final version.
    ``engine``: "local" (a pool of worker processes) or "ray" (Ray actors, :mod:`~consentguard.runners.cluster`;
    ``ray_address``: a running cluster, else Ray in local mode on ``workers`` cores).
    """
    from consentguard.runners.check import Checker

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
                    sha = sha256_file(path) if is_video(path) else sha256_bytes(read_file(path))
                except Exception:
                    sha = None
                version = _cache_version(base_version, folder, path)
                row = scan_cache.cached(db, sha, version) if sha else None
                cached = _from_cache(checker, row, str(path), sha) if row else None
                if cached:
                    arrived(cached, None, version)
                else:
                    todo.append(str(path))
            workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
            scope = (channel, school, str(folder))
            if engine == "ray":
                from consentguard.runners.cluster import ray_results
                checked = ray_results(todo, workers, db_path, policy, scope, ray_address, _check_one, Checked)
            else:
                checked = _results(todo, workers, db_path, policy, scope)
            for done in checked:
                doc = done.doc
                if doc["roster_sync_id"] != checker.sync_id:
                    scan.roster_changed = doc["roster_sync_id"]
                arrived(ScanResult(doc, boxed_thumbnail(done.plain, doc), False, done.evidence, done.plain),
                        doc["sha256"], _cache_version(done.version, folder, done.path))
        except KeyboardInterrupt:
            scan.interrupted = True
        _finish_batch(db, scan, checker)
    return scan


def _from_cache(checker: "Checker", row, path: str, sha: str) -> ScanResult | None:
    """A cached result, decided again from its evidence (matched against the index again, with the
    staff decisions in force now): a cached verdict is never reused as such. None: the entry cannot
    be read back (the photo is checked again)."""
    from consentguard.runners.check import decision_json

    try:
        doc = json.loads(row[0])
        evidence = evidence_from_json(json.loads(row[2]), path, sha)
    except (ValueError, KeyError, TypeError):  # damaged cache entry: the photo is checked again
        return None
    doc["path"], doc["location"] = path, os.path.abspath(path)
    (decision,), _ = checker.decide([evidence], rematch=True)
    doc.update(decision_json(decision))
    return ScanResult(doc, boxed_thumbnail(row[1], doc), True, evidence, row[1])


def _finish_batch(db: sqlite_utils.Database, scan: Scan, checker: "Checker") -> None:
    """Decide every photo checked (cached ones included) together, store the review items, and
    record each photo's final verdict in the audit trail (once). Photos judged against different
    roster runs (a sync landed during the scan) are decided in one batch per run; a run that is
    neither the first nor the last is judged against the last. Every face is matched again against
    the judging checker's index, so a reference added while the scan ran reaches every photo."""
    from consentguard import review
    from consentguard.runners.check import decision_json

    try:
        final = checker.current()
        judges = {checker.sync_id: checker, final.sync_id: final}
        groups: dict[int | None, list[ScanResult]] = {}
        for r in scan.results:
            if r.evidence is not None:
                groups.setdefault(r.doc["roster_sync_id"], []).append(r)
        updates, items = [], []
        for sync_id, results in groups.items():
            judge = judges.get(sync_id, final)
            # every face matched again against the index as it is now: a reference added during the scan
            # (a face confirmed in review) reaches the photos checked or taken from the cache before it
            decisions, found = judge.decide([r.evidence for r in results], rematch=True)
            updates += [(r, judge.sync_id, d) for r, d in zip(results, decisions)]
            items += found
    except KeyboardInterrupt:  # stopped again while deciding: each photo keeps its own verdict
        scan.interrupted = True
        updates, items = [], []
    for r, sync_id, decision in updates:
        r.doc.update(decision_json(decision), roster_sync_id=sync_id)
        r.thumbnail = boxed_thumbnail(r.plain, r.doc) if r.plain is not None else r.thumbnail
    scan.review_items = items
    if items:
        review.save_items(db, items)
    for r in scan.results:
        audit.record_doc(db, r.doc, "scan")


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
             scope: tuple[str | None, str | None, str]) -> Iterator[Checked]:
    if not todo:
        return
    if workers == 1:
        init_worker(db_path, policy, *scope)
        for path in todo:
            yield _check_one(path)
        return
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(workers, initializer=init_worker, initargs=(db_path, policy, *scope))
    try:
        yield from pool.imap_unordered(_check_one, todo)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _cache_version(version: str, folder: Path, path) -> str:
    """A result depends on the file's place too: its file and folder names are checked for names;
    a clip's on the video reader (VIDEO_VERSION: a clip read better is checked again) and the
    tracker's numbers (a clip judged from other faces is checked again)."""
    from consentguard.inspect import track

    place = Path(path).relative_to(folder).as_posix()
    return f"{version}|{place}|{VIDEO_VERSION}|{track.version()}" if is_video(path) else f"{version}|{place}"


def _keep(db, scan: Scan, result: ScanResult, sha: str | None, version: str) -> None:
    """Keep a result and cache it with its evidence (its verdict is audited once the batch is decided)."""
    scan.results.append(result)
    if sha and not result.cached and result.verdict != "error" and result.evidence is not None:
        scan_cache.save(db, sha, version, json.dumps(result.doc), result.plain,
                        json.dumps(evidence_to_json(result.evidence)))
