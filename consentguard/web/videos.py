"""The page's routes for videos (issue #14): upload a clip, poll its check, its safe copy, forget it.

``POST /api/video`` (``video``, ``caption``, ``channel``, ``school``) streams the clip into its
job's private folder (:mod:`.video_jobs`) and answers at once (202) with the job; the check runs in
the app's worker processes, started from a server thread that writes the audit row when it ends.
``GET /api/video/<id>`` answers its state and progress, and once done the result document, the
parts not checked and a thumbnail per moment. ``POST /api/video/<id>/safe-copy`` makes its safe copy
(``output.redact_video``) in a worker, polled the same way, and ``GET`` it downloads the file.
``POST /api/video/<id>/delete`` forgets it now.
Every route is behind the page's guard (:mod:`.security`: token, CSRF and origin for POST, host
names); a job is only ever found by the session that uploaded it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request, send_file

from consentguard.errors import ConsentGuardError
from consentguard.roster.consent import CHANNELS
from consentguard.store.audit import record_doc
from consentguard.store.db import open_db
from consentguard.web import video_jobs
from consentguard.web.security import SESSION_COOKIE, video_too_large
from consentguard.web.state import state
from consentguard.web.video_jobs import JOB_ID, Job, JobsFull, VideoJobs

#: Room in a video request for the form's other fields (caption: at most MAX_CAPTION characters).
FORM_SLACK = 1024 * 1024
MB = 1024 * 1024

video_page = Blueprint("videos", __name__)


def jobs() -> VideoJobs:
    return current_app.extensions["consentguard_videos"]


def upload_limit() -> int:
    """The largest clip the page accepts, in bytes (``video_max_upload_mb``)."""
    return state().policy.video_max_upload_mb * MB


def too_large_message() -> str:
    return video_too_large(state().policy.video_max_upload_mb)


def session() -> str:
    return request.cookies.get(SESSION_COOKIE, "")


class _Upload:
    """The stream factory of the video form: the one file part goes straight into a new job's
    private folder (never into memory or a shared temporary file); anything else is refused."""

    def __init__(self, store: VideoJobs, owner: str):
        self.store, self.owner = store, owner
        self.job: Job | None = None
        self.problem: tuple[int, str] | None = None
        self.out = None

    def __call__(self, total_content_length=None, content_type=None, filename=None, content_length=None):
        name = Path(filename or "").name[:200]
        if self.job is not None or self.problem is not None:
            self.problem = self.problem or (400, "send exactly one video per request (field 'video')")
        elif not name or not video_jobs.is_clip_name(name):
            self.problem = (400, f"{name or 'the file'}: not a video this page checks (MP4, MOV, M4V, WebM or AVI)")
        else:
            try:
                self.job = self.store.new(self.owner, name)
            except JobsFull as exc:
                self.problem = (429, str(exc))
        if self.problem is not None:
            return open(os.devnull, "w+b")  # the rest of the request is read and dropped
        fd = os.open(self.job.clip, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self.out = os.fdopen(fd, "w+b")
        return self.out

    def drop(self) -> None:
        if self.out is not None:
            self.out.close()
        if self.job is not None:
            self.store.forget(self.job)


@video_page.route("/api/video", methods=["POST"])
def upload():
    from werkzeug.exceptions import RequestEntityTooLarge
    from werkzeug.formparser import parse_form_data

    from consentguard.web.routes import MAX_CAPTION

    limit = upload_limit()
    if (request.content_length or 0) > limit + FORM_SLACK:
        abort(413, too_large_message())
    receiver = _Upload(jobs(), session())
    try:
        _, form, files = parse_form_data(request.environ, stream_factory=receiver, max_form_memory_size=FORM_SLACK,
                                         max_content_length=limit + FORM_SLACK, max_form_parts=16)
    except RequestEntityTooLarge:
        receiver.drop()
        abort(413, too_large_message())
    except BaseException:
        receiver.drop()
        raise
    job = receiver.job
    try:
        if receiver.problem is not None:
            abort(*receiver.problem)
        if job is None or list(files) != ["video"]:
            abort(400, "send exactly one video per request (field 'video')")
        receiver.out.close()
        if job.clip.stat().st_size > limit:
            abort(413, too_large_message())
        if job.clip.stat().st_size == 0:
            abort(400, f"{job.name}: the file is empty: not checked")
        channel = form.get("channel") or None
        if channel is not None and channel not in CHANNELS:
            abort(400, f"unknown channel {channel!r}")
        caption = form.get("caption") or None
        if caption is not None and len(caption) > MAX_CAPTION:
            abort(400, f"the caption is too long ({len(caption):,} characters; at most {MAX_CAPTION:,})")
        school = form.get("school") or None
    except BaseException:
        receiver.drop()
        raise
    job.state = "checking"
    app = current_app._get_current_object()
    threading.Thread(target=run_check, args=(app, job, caption, channel, school), daemon=True,
                     name=f"video-{job.id}").start()
    return jsonify(job.json()), 202


def found() -> Job:
    job_id = request.view_args["job_id"]
    job = jobs().find(session(), job_id) if JOB_ID.fullmatch(job_id) else None
    if job is None:
        abort(404, "this video is no longer kept (videos are forgotten when the page is done with them, "
                   f"after {video_jobs.IDLE_SECONDS // 60} minutes unused, or when the server stops): drop it again")
    return job


@video_page.route("/api/video/<job_id>")
def progress(job_id: str):
    return jsonify(found().json())


@video_page.route("/api/video/<job_id>/delete", methods=["POST"])
def delete(job_id: str):
    jobs().forget(found())
    return jsonify({"deleted": job_id})


@video_page.route("/api/video/<job_id>/safe-copy", methods=["POST"])
def make_safe_copy(job_id: str):
    job = found()
    if job.state != "done" or job.doc is None:
        abort(400, f"{job.name}: not checked yet: the safe copy is made from its result")
    if job.doc["verdict"] == "pass":
        abort(400, f"{job.name}: passed: nothing to hide, post the clip itself")
    if not job.copyable:
        abort(400, f"{job.name}: no safe copy: " + ("parts of the clip were not checked, so a copy would look safe "
                                                    "when it may not be; edit it by hand" if job.unchecked else
                                                    "the check ended in an error"))
    if job.safe not in ("making", "ready") and not job.clip.is_file():
        abort(404, f"{job.name}: the clip is no longer kept: drop it again")
    if job.safe not in ("making", "ready"):
        job.safe, job.safe_error = "making", None
        app = current_app._get_current_object()
        threading.Thread(target=run_safe_copy, args=(app, job), daemon=True, name=f"safe-{job.id}").start()
    return jsonify(job.json()), 202


@video_page.route("/api/video/<job_id>/safe-copy")
def download_safe_copy(job_id: str):
    job = found()
    if job.safe != "ready" or not job.safe_path.is_file():
        abort(404, f"{job.name}: no safe copy made (yet)")
    return send_file(job.safe_path, mimetype="video/mp4", as_attachment=True, download_name=job.safe_path.name)


# -- in a server thread ----------------------------------------------------------------------

def in_worker(app, function, *args):
    """``function(*args)`` in one of the app's worker processes; a pool whose worker died is
    replaced (as for photos) and the job fails saying so."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return app.extensions["consentguard_pool"].submit(function, *args).result()
    except BrokenProcessPool:
        start = app.extensions["consentguard"].start_pool
        if start is not None:
            app.extensions["consentguard_pool"] = start()
        raise ConsentGuardError("the checker's worker stopped while checking this video (out of memory?); it has "
                                "been restarted: check the video again") from None


def run_check(app, job: Job, caption: str | None, channel: str | None, school: str | None) -> None:
    """Check the job's clip in a worker, record the verdict in the audit trail, keep the result
    for the page. Any failure is the job's one-line error (the page shows "Could not check"),
    never a pass. The clip is deleted once checked unless a safe copy can be made from it."""
    settings = app.extensions["consentguard"]
    try:
        doc, unchecked, thumbs = in_worker(app, video_jobs.check_in_worker, str(job.clip), caption, channel, school)
        db = open_db(settings.db_path, create=False)
        try:
            job.check_id = record_doc(db, doc, "web")
        finally:
            db.close()
        if settings.keep_blocked is not None and doc["verdict"] == "block":
            keep_clip(Path(settings.keep_blocked), doc["sha256"], job)
        job.doc, job.unchecked = doc, unchecked
        job.thumbnails = [None if t is None else _data_url(t) for t in thumbs]
        job.state = "done"
    except ConsentGuardError as exc:
        job.error, job.state = f"{job.name}: {exc}" if job.name not in str(exc) else str(exc), "failed"
    except Exception as exc:  # noqa: BLE001 - whatever it was, the clip was not checked: say so
        job.error, job.state = f"{job.name}: could not be checked ({type(exc).__name__}: {exc}): do not post it", "failed"
    finally:
        if not job.copyable:
            job.delete_clip()


def run_safe_copy(app, job: Job) -> None:
    """Make the job's safe copy in a worker (``output.redact_video``) from its recorded result."""
    try:
        job.safe_path.parent.mkdir(mode=0o700, exist_ok=True)
        in_worker(app, video_jobs.safe_copy_in_worker, str(job.clip), str(job.safe_path), job.doc)
        job.safe = "ready"
        job.delete_clip()  # the copy is what the page offers now: the clip itself is no longer needed
    except Exception as exc:  # noqa: BLE001 - no safe copy: say why (never naming the private folder)
        why = str(exc).replace(str(job.folder) + os.sep, "")
        job.safe_error, job.safe = why if why.startswith(job.name) else f"{job.name}: no safe copy: {why}", "failed"


def keep_clip(folder: Path, sha256: str, job: Job) -> None:
    """Keep a blocked clip as a record, where a blocked photo is kept (:func:`.uploads.kept_path`),
    copied streamed, 0600 and whole (:func:`copy_atomic`)."""
    from consentguard.output.report import copy_atomic
    from consentguard.web.uploads import kept_path

    copy_atomic(job.clip, kept_path(folder, sha256, job.name))


def _data_url(jpeg: bytes) -> str:
    import base64

    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
