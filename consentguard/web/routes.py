"""The checker page's routes: the page, checking a photo (alone or with the other photos of its
drop), a safe copy, an override, and the audit trail (page and CSV).

Face work runs in the app's worker processes (:func:`_check_in_worker`); the audit row is written
here, by the server. Every route uses the request's one database connection (:func:`get_db`).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, jsonify, make_response, render_template, request

from consentguard.errors import ConsentGuardError
from consentguard.inspect.image import sha256_bytes
from consentguard.match import index as face_index
from consentguard.output.report import export_audit_csv
from consentguard.roster.consent import CHANNELS
from consentguard.runners.check import OCR_SAVED_OFF, ocr_saved_off
from consentguard.runners.scan import boxed_thumbnail
from consentguard.runners.workers import worker_checker
from consentguard.store.audit import OverrideError, count, query, record_doc, record_override, web_checks_since
from consentguard.store.roster import school_ids
from consentguard.web import batches as drops
from consentguard.web.security import MAX_UPLOAD_BYTES, SESSION_COOKIE
from consentguard.web.state import get_db, state
from consentguard.web.takedown_routes import keep_posted_note
from consentguard.web.uploads import keep_upload, one_photo

#: Longest caption checked: far above any social post (Facebook allows 63,206) yet bounded, so one
#: pasted document cannot hold a worker for minutes.
MAX_CAPTION = 70_000
PREVIEW_PX = 960

checker_page = Blueprint("checker", __name__)


# -- in the worker processes ---------------------------------------------------------------

def _check_in_worker(data: bytes, name: str, caption: str | None, channel: str | None,
                     school: str | None, keep: bool = False, people: str | None = None) -> tuple:
    """Check one photo: its result document, a preview with boxes, and a safe copy (if not a pass).
    ``keep`` (a photo of a drop decided together): also its evidence (encodings, close-ups) and a
    preview without boxes, so the server can decide it again with the other photos of its drop.
    ``people``: who staff say is shown (decided with the photo; an unknown name is an error)."""
    from consentguard.output.redact import safe_copy
    from consentguard.runners.scan import plain_thumbnail, thumbnail

    checker = worker_checker((channel, school))
    declared = checker.declared(people) if people else []
    result, image = checker.check_decoded(data, name, caption, record=False)
    if declared and result.evidence is not None:
        result.evidence.declared = declared
        (result.decision,), result.review_items = checker.decide([result.evidence])
    doc = result.to_json()
    evidence = result.evidence if keep else None
    if image is None:
        return doc, None, None, evidence, None, []
    preview = thumbnail(image, doc["faces"], PREVIEW_PX)
    safe = safe_copy(image.rgb, doc, grow=checker.policy.redact_grow) if doc["verdict"] != "pass" else None
    return (doc, preview, safe, evidence, plain_thumbnail(image, PREVIEW_PX) if keep else None,
            face_closeups(image, doc["faces"]))  # shown beside the reasons; never stored


#: Close-ups sent with a photo's result at most (a crowd photo: the rest are counted, not shown).
MAX_CLOSEUPS = 40


def face_closeups(image, faces: list[dict]) -> list[str | None]:
    """A close-up (data: URL) of each face on the photo as shown, in the order of ``faces`` (None for
    a face in another frame or page, and after MAX_CLOSEUPS): the page shows a face in question
    beside its reason, not a box of a few pixels on the preview. Sent with the answer, never stored."""
    from consentguard.runners.check import closeup

    out = []
    for face in faces:
        picture = (closeup(image.rgb, face["box"], face.get("rotation") or 0)
                   if face.get("view") is None and sum(x is not None for x in out) < MAX_CLOSEUPS else None)
        out.append(_data_url(picture))
    return out


def _safe_copy_in_worker(data: bytes, name: str, doc: dict) -> bytes:
    """The safe copy of a photo from a result document made elsewhere (its drop's latest decision):
    only for the very bytes that document is about."""
    from consentguard.inspect.image import decode_image
    from consentguard.output.redact import safe_copy

    image = decode_image(data, name)
    if image.sha256 != doc["sha256"]:
        raise ConsentGuardError(f"{name}: not the photo that was checked (its content differs): no safe copy")
    return safe_copy(image.rgb, doc, grow=worker_checker(None).policy.redact_grow)


# -- the page ---------------------------------------------------------------------------------

@checker_page.route("/")
def index():
    db = get_db()
    schools = school_ids(db)
    unprotected = len(face_index.unprotected(db))
    ocr_off = OCR_SAVED_OFF if ocr_saved_off(db, state().policy) else None
    return state().security.page_session(lambda csrf: render_template(
        "index.html", csrf=csrf, channels=CHANNELS, schools=schools, max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
        unprotected=unprotected, ocr_off=ocr_off, video_max_mb=state().policy.video_max_upload_mb,
        keep_posted_note=keep_posted_note(),
        video_max_minutes=_length(state().policy.video_max_seconds)))


def in_worker(name: str, function, *args):
    from concurrent.futures.process import BrokenProcessPool

    try:
        return current_app.extensions["consentguard_pool"].submit(function, *args).result()
    except ConsentGuardError as exc:
        abort(400, str(exc))
    except BrokenProcessPool:  # a worker died (out of memory, killed): start fresh ones
        if state().start_pool is not None:
            current_app.extensions["consentguard_pool"] = state().start_pool()
        abort(503, f"{name}: the checker's worker stopped while checking this photo; it has been "
                   "restarted: check the photo again")


def batch_id() -> str | None:
    value = request.form.get("batch") or None
    if value is not None and not drops.BATCH_ID.fullmatch(value):
        abort(400, "a batch id is 1 to 64 letters, digits, '-' or '_'")
    return value


def batches() -> drops.BatchStore:
    return current_app.extensions["consentguard_batches"]


@checker_page.route("/api/check", methods=["POST"])
def check():
    data, name = one_photo()
    channel = request.form.get("channel") or None
    if channel is not None and channel not in CHANNELS:
        abort(400, f"unknown channel {channel!r}")
    caption = request.form.get("caption") or None
    if caption is not None and len(caption) > MAX_CAPTION:
        abort(400, f"the caption is too long ({len(caption):,} characters; at most {MAX_CAPTION:,})")
    school = request.form.get("school") or None
    people = (request.form.get("people") or "").strip()[:2000] or None
    drop = batch_id()
    if drop is None:  # decided alone
        doc, preview, safe, _, _, closeups = in_worker(name, _check_in_worker, data, name, caption, channel, school,
                                                       False, people)
        keep(doc, name, data)
        del data
        check_id = record_doc(get_db(), doc, "web", state().security.actor("") or None)
        return jsonify({
            "check_id": check_id, "result": doc, "closeups": closeups,
            "preview": _data_url(preview), "safe_copy": _data_url(safe),
            "safe_copy_name": f"{Path(name).stem}.safe.jpg",
        })
    try:
        batch = batches().reserve(request.cookies.get(SESSION_COOKIE, ""), drop, (channel, school))
    except (drops.BatchFull, ValueError) as exc:
        abort(400, f"{name}: {exc}")
    try:
        doc, _, safe, evidence, plain, closeups = in_worker(name, _check_in_worker, data, name, caption, channel,
                                                            school, True, people)
        with batch.lock:
            return jsonify({**decide_with_batch(batch, name, data, doc, safe, evidence, plain), "closeups": closeups})
    finally:
        batches().release(batch)


def keep(doc: dict, name: str, data: bytes) -> None:
    if state().keep_blocked is not None and doc["verdict"] == "block":
        keep_upload(Path(state().keep_blocked), doc["sha256"], name, data)


def decide_with_batch(batch: drops.Batch, name: str, data: bytes, doc: dict, safe, evidence, plain) -> dict:
    """Add a checked photo to its drop, decide the drop together, record and answer: the photo's
    grouped result, the earlier photos whose result changed, and the drop's review items."""
    db = get_db()
    alone = doc
    photo = drops.Photo(0, name, evidence, doc, plain)
    earlier = [(p, p.doc) for p in batch.photos]
    batch.photos.append(photo)
    try:
        changes = drops.decide(batch, db, state().policy)
        photo.check_id = record_doc(db, photo.doc, "web", state().security.actor("") or None)
    except BaseException:  # not decided or not recorded: the drop is as it was before this photo
        batch.photos.remove(photo)
        for p, before in earlier:
            p.doc = before
        raise
    photo.rows = [photo.check_id]
    keep(photo.doc, name, data)
    updates = []
    for change in changes:
        earlier = change.photo
        if earlier is photo:
            continue
        if earlier.doc["verdict"] != change.before["verdict"]:
            earlier.rows.append(record_doc(db, earlier.doc, "web", state().security.actor("") or None))
        updates.append({
            "check_id": earlier.check_id, "audit_id": earlier.audit_id, "result": earlier.doc,
            "preview": _data_url(boxed_thumbnail(earlier.plain, earlier.doc)),
            "changed": drops.new_reasons(change.before, earlier.doc),
            "safe_copy_stale": drops.safe_copy_stale(change.before, earlier.doc),
        })
    drops.save_items(batch, db)
    stale = drops.safe_copy_stale(alone if safe is not None else None, photo.doc)
    return {
        "check_id": photo.check_id, "audit_id": photo.audit_id, "batch": batch.id, "result": photo.doc,
        "preview": _data_url(boxed_thumbnail(plain, photo.doc)),
        "safe_copy": None if stale or photo.doc["verdict"] == "pass" else _data_url(safe),
        "safe_copy_stale": stale, "safe_copy_name": f"{Path(name).stem}.safe.jpg",
        "changed": drops.new_reasons(alone, photo.doc),
        "revision": batch.revision, "updates": updates, "review_items": drops.items_json(batch, db),
    }


@checker_page.route("/api/safe-copy", methods=["POST"])
def batch_safe_copy():
    """A safe copy made from the latest result of a photo of a drop (decided with the others):
    the page sends the photo again, since the server keeps no photo."""
    data, name = one_photo()
    drop = batch_id()
    try:
        check_id = int(request.form.get("check_id", ""))
    except ValueError:
        abort(400, "check_id must be a number")
    batch = batches().find(request.cookies.get(SESSION_COOKIE, ""), drop or "")
    if batch is None:
        abort(404, f"{name}: its drop is no longer kept (drops are forgotten after "
                   f"{drops.IDLE_SECONDS // 3600} hours unused): drop the photos again")
    with batch.lock:
        photo = batch.photo(check_id)
        doc = None if photo is None else dict(photo.doc)
    if doc is None:
        abort(404, f"{name}: check #{check_id} is not a photo of this drop")
    if sha256_bytes(data) != doc["sha256"]:
        abort(400, f"{name}: not the photo checked as #{check_id} (its content differs): no safe copy")
    safe = in_worker(name, _safe_copy_in_worker, data, name, doc)
    return jsonify({"check_id": check_id, "audit_id": photo.audit_id, "verdict": doc["verdict"],
                    "safe_copy": _data_url(safe), "safe_copy_name": f"{Path(name).stem}.safe.jpg"})


@checker_page.route("/api/override", methods=["POST"])
def override():
    if (request.content_length or 0) > 16 * 1024:
        abort(413, "an override is a reason and a name, not a file")
    body = request.get_json(silent=True) or {}
    try:
        check_id = int(body.get("check_id"))
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        abort(400, "check_id must be a number")
    if not 1 <= check_id < 2 ** 63:  # SQLite's integer range: a larger one is a 400, not a 500
        abort(400, f"check #{check_id} does not exist")
    user = state().security.actor(str(body.get("user") or ""))
    if not user:
        abort(400, "an override needs the name of the person who decided")
    later = batches().superseded(request.cookies.get(SESSION_COOKIE, ""), check_id)
    if later is not None:
        abort(400, f"check #{check_id} was decided again with the other photos of its drop: its verdict "
                   f"now is {later.doc['verdict']!r} (check #{later.audit_id})")
    try:
        row = record_override(get_db(), check_id, str(body.get("reason") or ""), user)
    except OverrideError as exc:
        abort(400, str(exc))
    return jsonify({"override_id": row})


@checker_page.route("/api/caption", methods=["POST"])
def caption_only():
    """Only the caption of a drop changed: the drop is decided again with the new caption from what
    the server keeps of its photos (no photo sent again), and each photo gets a new audit row with the
    new caption (what a later post and re-check refer to)."""
    if (request.content_length or 0) > MAX_CAPTION * 4 + 1024:
        abort(413, "a caption, not a file")
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not drops.BATCH_ID.fullmatch(str(body.get("batch") or "")):
        abort(400, "send the drop's batch id and the caption as a JSON object")
    caption = str(body.get("caption") or "") or None
    if caption is not None and len(caption) > MAX_CAPTION:
        abort(400, f"the caption is too long ({len(caption):,} characters; at most {MAX_CAPTION:,})")
    batch = batches().find(request.cookies.get(SESSION_COOKIE, ""), body["batch"])
    if batch is None or not batch.photos:
        abort(404, "the photos of this drop are no longer kept here: check them again")
    db, by = get_db(), state().security.actor("") or None
    with batch.lock:
        drops.recaption(batch, db, state().policy, caption)
        for photo in batch.photos:
            photo.rows.append(record_doc(db, photo.doc, "web", by))
        drops.save_items(batch, db)
        return jsonify({"revision": batch.revision, "review_items": drops.items_json(batch, db), "results": [
            {"check_id": p.check_id, "audit_id": p.audit_id, "result": p.doc,
             "preview": _data_url(boxed_thumbnail(p.plain, p.doc))} for p in batch.photos]})


@checker_page.route("/api/today")
def today():
    """Today's checks made on the page (by the signed-in account; without accounts, on this machine),
    newest first, so staff can reopen them after a reload or later in the day."""
    from datetime import datetime, time, timezone

    midnight = datetime.combine(datetime.now().astimezone().date(), time(), datetime.now().astimezone().tzinfo)
    account = state().security.account() if state().security.accounts_on() else None
    found = web_checks_since(get_db(), midnight.astimezone(timezone.utc).isoformat(timespec="seconds"),
                             account.name if account is not None else None)
    return jsonify({"checks": found})


@checker_page.route("/api/people")
def people_search():
    """Students whose name (or number) starts with what was typed, for the "People shown" field: at
    most 20, never the whole roster."""
    from consentguard.match.names import fold

    typed = fold((request.args.get("q") or "").strip().lstrip("#"))[:100]
    if len(typed) < 2:
        return jsonify({"people": []})
    found = []
    for student in worker_roster().values():
        names = (student.full_name, student.last_name, f"{student.legal_first_name} {student.last_name}")
        if student.student_number.startswith(typed) or any(fold(n).startswith(typed) for n in names if n.strip()):
            found.append({"student_number": student.student_number, "name": student.full_name})
            if len(found) == 20:
                break
    return jsonify({"people": sorted(found, key=lambda p: p["name"])})


def worker_roster() -> dict:
    """The roster in force (students by number), read once per roster sync for the people search."""
    from consentguard.match.index import load_students
    from consentguard.store.db import latest_sync_id

    cache = current_app.extensions.setdefault("consentguard_roster", {})
    sync = latest_sync_id(get_db())
    if cache.get("sync") != sync:
        cache.update(sync=sync, students=load_students(get_db(), None))
    return cache["students"]


# -- the audit trail --------------------------------------------------------------------------

AUDIT_PAGE_ROWS = 100


def _filters():
    verdict = request.args.get("verdict") or None
    if verdict not in (None, "pass", "review", "block", "error"):
        abort(400, "unknown verdict")
    since, until = request.args.get("since") or None, request.args.get("until") or None
    for day in (since, until):
        if day is not None and not _is_date(day):
            abort(400, f"{day!r} is not a date like 2026-09-01")
    student = (request.args.get("student") or "").strip()[:100] or None
    return verdict, since, until, student


@checker_page.route("/audit")
def audit_page():
    verdict, since, until, student = _filters()
    page = request.args.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        abort(400, f"{page!r} is not a page number")
    total = count(get_db(), verdict, since, until, student)
    pages = max(1, -(-total // AUDIT_PAGE_ROWS))
    page = min(int(page), pages)
    rows = query(get_db(), verdict, since, until, limit=AUDIT_PAGE_ROWS, student=student,
                 offset=(page - 1) * AUDIT_PAGE_ROWS)
    filters = {"verdict": verdict or "", "since": since or "", "until": until or "", "student": student or ""}
    return render_template("audit.html", rows=rows, total=total, page=page, pages=pages,
                           first=(page - 1) * AUDIT_PAGE_ROWS + 1 if rows else 0,
                           last=(page - 1) * AUDIT_PAGE_ROWS + len(rows), query=urlencode(filters), **filters)


@checker_page.route("/audit.csv")
def audit_csv():
    verdict, since, until, student = _filters()
    out = io.StringIO()
    export_audit_csv(query(get_db(), verdict, since, until, student=student), out)
    response = make_response(out.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="consentguard-audit.csv"'
    return response


def _length(seconds: int) -> str:
    """"2 minutes", "90 seconds": the longest clip the page says it checks."""
    return f"{seconds // 60} minute{'s' if seconds != 60 else ''}" if seconds % 60 == 0 else f"{seconds} seconds"


def _is_date(text: str) -> bool:
    import re
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) is not None


def _data_url(jpeg: bytes | None) -> str | None:
    return None if jpeg is None else "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()

