"""Videos dropped on the page (issue #14): each is a *job*, checked in the background while the
page polls its progress, and forgotten as soon as it is no longer needed.

A clip cannot travel in memory like a photo (up to ``video_max_upload_mb``) and PyAV reads files,
so the upload is written to a **private temporary folder** (0700, made per server process, the
clip 0600) and deleted:

* right after the check, unless a safe copy can be made from it (:attr:`Job.copyable`), else as
  soon as its safe copy is made (the copy stays until the job is forgotten);
* when the page says it is done with it (a new drop, the tab closed: ``POST .../delete``);
* when nobody has asked about it for ``IDLE_SECONDS``, or the session's or server's job limit
  makes room for a new one (the oldest finished job first);
* when the server stops (:meth:`VideoJobs.close`, also ``atexit``); the folders of a server that
  was killed are removed by the next one that starts (:func:`sweep_stale`).

A job belongs to the signed-in browser session that uploaded it: another session cannot see its
progress, result or thumbnails. Its result (reasons, thumbnails of the moments) is kept in memory
only; the audit row is written by the server when the check ends. The check itself runs in the
app's worker processes (:func:`check_in_worker`), which write their progress to a small file in the
job's folder (``progress``: seconds checked and the clip's duration) that the server reads when the
page polls.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from consentguard.errors import ConsentGuardError
from consentguard.inspect.video import VIDEO_EXTENSIONS

#: Videos being checked per session, and jobs kept in all (finished ones are forgotten first).
MAX_PER_SESSION, MAX_JOBS = 2, 16
#: A job nobody asked about for this long is forgotten, its files deleted (seconds).
IDLE_SECONDS = 15 * 60
#: Thumbnails: long side (px) and how many moments get one (the timeline lists every moment).
THUMB_PX, MAX_THUMBS = 320, 24
#: The prefix of the per-process temporary folder: consentguard-videos-<pid>-<random>.
ROOT_PREFIX = "consentguard-videos-"
JOB_ID = re.compile(r"[0-9]{24}")


class JobsFull(Exception):
    """No room for another video now: the message says what to do."""


@dataclass
class Job:
    """One uploaded clip and what the page is told about it."""

    id: str
    session: str
    name: str                  # the file name as uploaded (shown; searched for names)
    folder: Path               # private, 0700: the clip, its progress file, its safe copy
    state: str = "uploading"   # uploading, checking, done, failed
    used: float = 0.0
    doc: dict | None = None            # the result document (done)
    unchecked: list[str] = field(default_factory=list)  # the parts of the clip not checked (each a review)
    thumbnails: list[str | None] = field(default_factory=list)  # per face of doc: a data: URL or None
    check_id: int | None = None        # its audit row
    error: str | None = None           # failed: one line
    safe: str | None = None            # the safe copy: None, making, ready, failed
    safe_error: str | None = None

    @property
    def clip(self) -> Path:
        return self.folder / self.name

    @property
    def safe_path(self) -> Path:
        return self.folder / "safe" / f"{Path(self.name).stem}.safe.mp4"

    @property
    def copyable(self) -> bool:
        """Whether a safe copy can be made from it: checked whole, and not a pass (nothing to hide)
        or an error (``output.redact_video`` refuses those, and a clip not read whole)."""
        return (self.state == "done" and self.doc is not None and not self.unchecked
                and self.doc["verdict"] in ("block", "review"))

    @property
    def busy(self) -> bool:
        return self.state in ("uploading", "checking") or self.safe == "making"

    def progress(self, of: str = "progress") -> tuple[float | None, float | None]:
        """(seconds checked, duration) as the worker last wrote them; (None, None) before it starts.
        ``of``: "safe-progress" for the safe copy being made."""
        try:
            seconds, duration = json.loads((self.folder / of).read_text())
        except (OSError, ValueError, TypeError):
            return None, None
        return seconds, duration

    def delete_clip(self) -> None:
        """The clip and its progress file gone (the safe copy, if any, stays until the job is forgotten)."""
        for path in (self.clip, self.folder / "progress", self.folder / "safe-progress"):
            path.unlink(missing_ok=True)

    def json(self) -> dict:
        """What the page polls: state, progress, and once done the result with its moments."""
        seconds, duration = self.progress()
        if self.state == "done":  # the worker's file is gone with the clip: the whole clip was read
            seconds = duration = ((self.doc or {}).get("video") or {}).get("duration")
        body = {"id": self.id, "name": self.name, "state": self.state, "seconds": seconds, "duration": duration,
                "safe_copies": self.copyable, "safe_copy": self.safe}
        if self.safe == "making":
            body["safe_seconds"] = self.progress("safe-progress")[0]
        if self.state == "done":
            body.update(result=self.doc, unchecked=self.unchecked, thumbnails=self.thumbnails,
                        check_id=self.check_id, audit_id=self.check_id)
        if self.error:
            body["error"] = self.error
        if self.safe_error:
            body["safe_copy_error"] = self.safe_error
        if self.safe == "ready":
            body["safe_copy_url"] = f"/api/video/{self.id}/safe-copy"
            body["safe_copy_name"] = self.safe_path.name
        return body


class VideoJobs:
    """Every video job of this server process, bounded (see the module's docstring)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._root: Path | None = None
        atexit.register(self.close)

    def root(self) -> Path:
        """The private folder of this process's uploads (made on first use, 0700)."""
        with self._lock:
            if self._root is None or not self._root.is_dir():
                sweep_stale()
                self._root = Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-"))
                self._root.chmod(0o700)
            return self._root

    def new(self, session: str, name: str) -> Job:
        """A job for a clip about to be uploaded, with its own private folder. Raises
        :class:`JobsFull` when the session already has MAX_PER_SESSION clips being checked or the
        server MAX_JOBS jobs none of which can be forgotten."""
        root = self.root()
        with self._lock:
            now = self._clock()
            self._forget_idle(now)
            if sum(1 for j in self._jobs.values() if j.session == session and j.busy) >= MAX_PER_SESSION:
                raise JobsFull(f"{name}: {MAX_PER_SESSION} videos are being checked already; not checked: "
                               "drop it again when they are done")
            done = sorted((j for j in self._jobs.values() if not j.busy), key=lambda j: j.used)
            while len(self._jobs) >= MAX_JOBS and done:
                self._forget(done.pop(0))
            if len(self._jobs) >= MAX_JOBS:
                raise JobsFull(f"{name}: the server is checking {MAX_JOBS} videos already; not checked: "
                               "try again in a few minutes")
            job_id = "".join(secrets.choice("0123456789") for _ in range(24))  # digits: no name in a folder name
            folder = root / job_id
            folder.mkdir(mode=0o700)
            job = Job(job_id, session, name, folder, used=now)
            self._jobs[job_id] = job
            return job

    def find(self, session: str, job_id: str) -> Job | None:
        """The session's job (another session's is None, as if it did not exist); marks it used."""
        with self._lock:
            now = self._clock()
            self._forget_idle(now)
            job = self._jobs.get(job_id)
            if job is None or not secrets.compare_digest(job.session, session):
                return None
            job.used = now
            return job

    def forget(self, job: Job) -> None:
        with self._lock:
            self._forget(job)

    def __len__(self) -> int:
        return len(self._jobs)

    def close(self) -> None:
        """Forget every job and delete every file (the server stops)."""
        with self._lock:
            self._jobs.clear()
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        job.doc, job.thumbnails = None, []
        shutil.rmtree(job.folder, ignore_errors=True)

    def _forget_idle(self, now: float) -> None:
        for job in list(self._jobs.values()):
            if not job.busy and now - job.used > IDLE_SECONDS:
                self._forget(job)


def sweep_stale(tmp: str | Path | None = None) -> list[Path]:
    """Delete the upload folders of servers of this user that are no longer running (killed, so
    their ``close`` never ran): clips of children must not outlive the server that checked them."""
    removed = []
    for folder in Path(tmp or tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*"):
        found = re.match(rf"{ROOT_PREFIX}(\d+)-", folder.name)
        try:
            if not found or folder.stat().st_uid != os.getuid() or _running(int(found.group(1))):
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def save_upload(job: Job, stream, limit: int) -> int:
    """Write an uploaded clip to the job's folder (0600) in chunks; the number of bytes, or
    ValueError when it is larger than ``limit`` (what was written is deleted)."""
    fd = os.open(job.clip, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    size = 0
    with os.fdopen(fd, "wb") as out:
        while block := stream.read(1 << 20):
            size += len(block)
            if size > limit:
                break
            out.write(block)
    if size > limit:
        job.clip.unlink(missing_ok=True)
        raise ValueError("too large")
    return size


def is_clip_name(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


# -- in the worker processes ---------------------------------------------------------------

class ProgressFile:
    """``progress(seconds, duration)`` for ``Checker.check_video``: written (atomically, at most
    five times a second) to a file the server reads when the page polls."""

    def __init__(self, path: str | Path):
        self.path, self.last = Path(path), 0.0

    def __call__(self, seconds: float, duration: float | None) -> None:
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        part = self.path.with_name(self.path.name + ".part")
        try:
            part.write_text(json.dumps([round(seconds, 2), None if duration is None else round(duration, 2)]))
            os.replace(part, self.path)
        except OSError:  # the page forgot the job meanwhile: the check still ends and is recorded
            pass


def check_in_worker(path: str, caption: str | None, channel: str | None,
                    school: str | None) -> tuple[dict, list[str], list[bytes | None]]:
    """Check one clip in a worker: its result document (naming the clip by its file name, not the
    private folder it is stored in), the parts not checked, and a thumbnail per face of the result that did not pass
    (the frame at its ``time`` with its box; None for the others and past MAX_THUMBS)."""
    from consentguard.runners.workers import worker_checker

    checker = worker_checker((channel, school))
    result = checker.check_video(path, caption, record=False, progress=ProgressFile(Path(path).parent / "progress"))
    folder = str(Path(path).parent) + os.sep
    doc = json.loads(json.dumps(result.to_json()).replace(json.dumps(folder)[1:-1], ""))
    unchecked = [part.replace(folder, "") for part in (result.evidence.unchecked if result.evidence else [])]
    thumbs = moments(path, doc, checker.policy) if doc["verdict"] != "error" else [None] * len(doc["faces"])
    return doc, unchecked, thumbs


def safe_copy_in_worker(src: str, dst: str, doc: dict) -> None:
    """The safe copy of a checked clip, from its result document (``output.redact_video``), its
    progress written beside the clip for the page."""
    from consentguard.output.redact_video import redact_video
    from consentguard.runners.workers import worker_checker

    redact_video(src, dst, doc, worker_checker(None).policy, progress=ProgressFile(Path(src).parent / "safe-progress"))


def moments(path: str, doc: dict, policy) -> list[bytes | None]:
    """A small JPEG per face of ``doc`` that did not pass (the first MAX_THUMBS in time order): the
    clip's frame at the face's ``time``, found by seeking, with the face's box drawn. A moment that
    cannot be decoded again gets None (the timeline still names it)."""
    from consentguard.inspect.video import open_video

    wanted = sorted((i for i, f in enumerate(doc["faces"]) if f["verdict"] != "pass" and f.get("time") is not None),
                    key=lambda i: doc["faces"][i]["time"])[:MAX_THUMBS]
    thumbs: list[bytes | None] = [None] * len(doc["faces"])
    if not wanted:
        return thumbs
    try:
        with open_video(path, policy.video_max_seconds, policy.video_max_side) as video:
            for i in wanted:
                face = doc["faces"][i]
                rgb = frame_at(video, face["time"])
                if rgb is not None:
                    thumbs[i] = _boxed(rgb, face)
    except ConsentGuardError:  # the clip went meanwhile (the page forgot it): the verdict stands without pictures
        pass
    return thumbs


def frame_at(video, seconds: float):
    """The upright frame of an open clip (:func:`consentguard.inspect.video.open_video`) shown at
    ``seconds`` from its first frame (the sampled frame a face entry's ``time`` names), by seeking
    to the key frame before it and decoding forward; None if the clip ends before it."""
    import av

    from consentguard.inspect.video import _upright

    stream = video.stream
    start = video.start or 0.0
    half = 0.5 / (video.fps or 25.0)
    target = start + seconds
    try:
        video.container.seek(max(0, int(target / stream.time_base)), stream=stream, backward=True)
        for frame in video.container.decode(stream):
            if frame.time is not None and frame.time >= target - half:
                return _upright(frame.to_ndarray(format="rgb24"), frame.rotation or 0)
    except av.error.FFmpegError:
        return None
    return None


def _boxed(rgb, face: dict) -> bytes:
    """The frame small, with the face's box in its verdict's colour."""
    from types import SimpleNamespace

    from consentguard.runners.scan import thumbnail

    return thumbnail(SimpleNamespace(rgb=rgb), [{**face, "on_photo": True}], THUMB_PX)
