"""The drag-and-drop checker: a local web page over the same library API as the CLI.

``create_app`` builds the Flask application; ``serve`` runs it with waitress.

Security rules (tests/test_web.py checks each):

* binds 127.0.0.1 by default; any other address needs an access token, or
  ``serve`` refuses to start;
* with a token, every page and API call needs it (a login form sets an
  HttpOnly, SameSite=Strict cookie); an admin token, if set, is needed for
  the audit page and for undoing a review decision as well;
* state-changing requests (check, safe copy, override, review decisions) need the CSRF token of the page
  (HMAC of the session cookie) in a header, and a same-origin ``Origin``;
* one photo per request, at most ``MAX_UPLOAD_BYTES``; photos are sniffed by
  content and decoded with the 100 MP limit; they stay in memory (or an
  unlinked temporary file) and are gone after the response, unless
  ``keep_blocked`` names a folder for blocked photos;
* the photos of one drop (a ``batch`` id) are decided together: their evidence (encodings:
  biometric) is kept in memory only, bounded and forgotten when idle (:mod:`.batches`);
* every string from users or photos is written with ``textContent`` (page) or
  autoescaped (audit page); a Content-Security-Policy allows no inline script
  and nothing from elsewhere.

Face work runs in worker processes (models loaded once per worker), so one
large photo does not hold up the page; the audit row is written by the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import ipaddress
import json
import os
import secrets
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from consentguard.errors import ConsentGuardError
from consentguard.inspect.image import sha256_bytes
from consentguard.match import index as face_index
from consentguard.policy import Policy
from consentguard.roster.consent import CHANNELS
from consentguard.runners.scan import boxed_thumbnail
from consentguard.store.audit import OverrideError, query, record_doc, record_override, write_csv
from consentguard.store.db import open_db
from consentguard.web import batches as drops

MAX_UPLOAD_BYTES = 60 * 1024 * 1024
#: Longest caption checked: far above any social post (Facebook allows 63,206) yet bounded, so one
#: pasted document cannot hold a worker for minutes.
MAX_CAPTION = 70_000
PREVIEW_PX = 960
#: Access tokens: shortest accepted; sign-ins last this long; this many wrong tokens from one
#: address within LOCKOUT_SECONDS lock it out for that long.
MIN_TOKEN, SIGN_IN_HOURS, LOCKOUT_AFTER, LOCKOUT_SECONDS = 16, 12, 10, 600
SESSION_COOKIE, AUTH_COOKIE, ADMIN_COOKIE = "cg_session", "cg_auth", "cg_admin"


class ServeError(ConsentGuardError):
    pass


# -- worker processes --------------------------------------------------------------------

_checker = None


def _exit_with_parent(parent: int) -> None:
    """Workers end when the server does, however it ends (SIGKILL included)."""
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _init_worker(db_path: str, policy: Policy, parent: int | None = None) -> None:
    global _checker
    import cv2

    if parent is not None:
        _exit_with_parent(parent)
    from consentguard.models import face_models
    from consentguard.runners.check import Checker, limit_worker_memory

    cv2.setNumThreads(1)
    os.environ["CONSENTGUARD_OCR_THREADS"] = "1"
    limit_worker_memory()
    _checker = Checker(open_db(db_path, create=False), policy, record=False)
    face_models()


def _current_checker(channel: str | None, school: str | None):
    """The worker's Checker for this channel and school, rebuilt whenever a new roster sync
    has landed or the day has changed (``Checker.current``): a server that runs for weeks
    always judges against the roster in force."""
    global _checker
    from consentguard.runners.check import Checker

    if (channel, school) != (_checker.channel, _checker.school):
        _checker = Checker(_checker.db, _checker.policy, record=False, channel=channel, school=school)
    _checker = _checker.current()
    return _checker


def _check_in_worker(data: bytes, name: str, caption: str | None, channel: str | None,
                     school: str | None, keep: bool = False) -> tuple:
    """Check one photo: its result document, a preview with boxes, and a safe copy (if not a pass).
    ``keep`` (a photo of a drop decided together): also its evidence (encodings, close-ups) and a
    preview without boxes, so the server can decide it again with the other photos of its drop."""
    from consentguard.output.redact import safe_copy
    from consentguard.runners.scan import plain_thumbnail, thumbnail

    checker = _current_checker(channel, school)
    result, image = checker.check_decoded(data, name, caption)
    doc = result.to_json()
    evidence = result.evidence if keep else None
    if image is None:
        return doc, None, None, evidence, None
    preview = thumbnail(image, doc["faces"], PREVIEW_PX)
    safe = safe_copy(image.rgb, doc) if doc["verdict"] != "pass" else None
    return doc, preview, safe, evidence, plain_thumbnail(image, PREVIEW_PX) if keep else None


def _safe_copy_in_worker(data: bytes, name: str, doc: dict) -> bytes:
    """The safe copy of a photo from a result document made elsewhere (its drop's latest decision):
    only for the very bytes that document is about."""
    from consentguard.inspect.image import decode_image
    from consentguard.output.redact import safe_copy

    image = decode_image(data, name)
    if image.sha256 != doc["sha256"]:
        raise ConsentGuardError(f"{name}: not the photo that was checked (its content differs): no safe copy")
    return safe_copy(image.rgb, doc)


# -- the application ---------------------------------------------------------------------

def create_app(db_path: str | Path, policy: Policy | None = None, token: str | None = None,
               workers: int | None = None, pool=None, admin_token: str | None = None,
               keep_blocked: str | Path | None = None, hosts: tuple[str, ...] = (), behind_proxy: bool = False):
    """The Flask app. ``pool``: an executor to use instead of starting worker processes.
    ``hosts``: host names it answers to besides this machine's loopback names (DNS rebinding guard).
    ``behind_proxy``: one HTTPS reverse proxy in front: its X-Forwarded-For/-Proto/-Host are trusted
    (cookies then get ``Secure``; the lockout counts the real client's address).
    ``admin_token``: also required for the audit page. ``keep_blocked``: a folder where blocked
    uploads are kept as a record (otherwise no photo is ever written to disk)."""
    import multiprocessing as mp

    from flask import Flask, Response, abort, jsonify, make_response, render_template, request

    db_path = str(db_path)
    policy = policy or Policy()
    open_db(db_path, create=False)  # fail now, with a clear message, if there is no roster database
    app = Flask(__name__)
    if behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.add_template_filter(json.loads, "fromjson")
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES + 64 * 1024
    secret = secrets.token_bytes(32)
    def start_pool():
        count = workers or os.cpu_count() or 1
        executor = ProcessPoolExecutor(max_workers=count, mp_context=mp.get_context("spawn"),
                                       initializer=_init_worker, initargs=(db_path, policy, os.getpid()))
        for _ in range(count):  # start the workers (and load the models) now, not on the first photo
            executor.submit(os.getpid)
        return executor

    app.extensions["consentguard_pool"] = pool if pool is not None else start_pool()
    batches = app.extensions["consentguard_batches"] = drops.BatchStore()  # memory only: encodings are biometric

    def csrf_for(session: str) -> str:
        return hmac.new(secret, session.encode(), hashlib.sha256).hexdigest()

    from itsdangerous import BadSignature, URLSafeTimedSerializer

    # Sign-in cookies hold a signed, dated grant ("auth" or "admin"), never the token itself, and
    # expire; wrong tokens are counted per address and lock it out for a while.
    signer = URLSafeTimedSerializer(secret, salt="consentguard-sign-in")
    kinds = (("auth", token, AUTH_COOKIE), ("admin", admin_token, ADMIN_COOKIE))
    wrong: dict[str, list[float]] = {}

    def source() -> str:
        """Who is guessing: the address, or its /64 for IPv6 (one machine has a whole /64)."""
        address = request.remote_addr or ""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else address

    def locked_out() -> bool:
        import time
        recent = [t for t in wrong.get(source(), []) if t > time.monotonic() - LOCKOUT_SECONDS]
        if recent:
            wrong[source()] = recent
        else:
            wrong.pop(source(), None)
        return len(recent) >= LOCKOUT_AFTER

    def count_wrong() -> None:
        import time
        if len(wrong) > 10_000:  # bounded memory: forget the oldest sources
            for key in sorted(wrong, key=lambda k: wrong[k][-1])[:5_000]:
                del wrong[key]
        wrong.setdefault(source(), []).append(time.monotonic())

    def authorised(bearer_too: bool = True) -> bool:
        needed = [kind for kind, value, _ in kinds if value and (kind == "auth" or admin_path(request.path))]
        granted = set()
        for kind, _, cookie in kinds:
            try:
                if signer.loads(request.cookies.get(cookie, ""), max_age=SIGN_IN_HOURS * 3600) == kind:
                    granted.add(kind)
            except BadSignature:
                pass
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ") if bearer_too else ""
        if bearer:
            matched = {kind for kind, value, _ in kinds if value and hmac.compare_digest(bearer.encode(), value.encode())}
            if not matched:
                count_wrong()
            granted |= matched
        return all(kind in granted for kind in needed)

    allowed_hosts = LOOPBACK_NAMES | {h.lower() for h in hosts}

    @app.before_request
    def guard():
        # A page under an attacker's host name that resolves to this machine (DNS rebinding) is
        # same-origin for the browser: only the names this server was started for are answered.
        if host_name(request.host) not in allowed_hosts:
            abort(400, f"unknown host name {request.host!r}: this server answers to "
                       f"{', '.join(sorted(allowed_hosts))} only (add names with --allow-host)")
        signed_in = authorised(bearer_too=False)  # staff already signed in are never locked out by a guesser
        if not signed_in:
            if locked_out():  # and a locked-out guesser's tokens are not even tried
                abort(429, f"too many wrong access tokens from this address: try again in "
                           f"{LOCKOUT_SECONDS // 60} minutes")
            signed_in = authorised()
        if request.endpoint in ("login", "static") or signed_in:
            if request.method == "POST" and request.endpoint != "login":
                session = request.cookies.get(SESSION_COOKIE, "")
                sent = request.headers.get("X-CSRF-Token", "")
                if not session or not hmac.compare_digest(sent, csrf_for(session)):
                    abort(403, "missing or wrong CSRF token: reload the page")
                origin = request.headers.get("Origin")
                if origin and origin.rstrip("/") != request.host_url.rstrip("/"):
                    abort(403, "request from another site refused")
            return None
        if request.path.startswith("/api/") or request.path.endswith(".csv"):
            abort(401, "undoing a review decision needs the admin token: sign in on the audit page first"
                  if admin_token and admin_path(request.path) else "access token required")
        return make_response(render_template("login.html", error=None, next=login_target(request.path)), 401)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(400)
    @app.errorhandler(401)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(413)
    @app.errorhandler(429)
    @app.errorhandler(503)
    def error(exc):
        message = getattr(exc, "description", str(exc))
        if exc.code == 413 and request.path in ("/api/check", "/api/safe-copy"):
            message = f"photo too large: at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB per photo"
        return jsonify({"error": message}), exc.code

    @app.route("/login", methods=["POST"])
    def login():
        given = request.form.get("token", "")
        target = request.form.get("next", "/")
        target = target if target in ("/", "/audit", "/review") else "/"
        for kind, value, cookie in kinds:
            if value and hmac.compare_digest(given.encode(), value.encode()):
                response = make_response("", 303)
                response.headers["Location"] = target
                response.set_cookie(cookie, signer.dumps(kind), httponly=True, samesite="Strict",
                                    secure=request.is_secure, max_age=SIGN_IN_HOURS * 3600)
                return response
        count_wrong()
        return make_response(render_template("login.html", error="wrong access token", next=target), 401)

    @app.route("/")
    def index():
        session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
        schools = [r[0] for r in open_db(db_path, create=False).execute(
            "SELECT DISTINCT school_id FROM students WHERE school_id IS NOT NULL AND school_id != '' ORDER BY 1")]
        unprotected = len(face_index.unprotected(open_db(db_path, create=False)))
        response = make_response(render_template("index.html", csrf=csrf_for(session), channels=CHANNELS,
                                                 schools=schools, max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
                                                 unprotected=unprotected))
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Strict", secure=request.is_secure,
                            max_age=SIGN_IN_HOURS * 3600)
        return response

    def one_photo() -> tuple[bytes, str]:
        files = request.files.getlist("photo")
        if len(files) != 1:
            abort(400, "send exactly one photo per request (field 'photo')")
        upload = files[0]
        data = upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            abort(413)
        return data, Path(upload.filename or "photo").name[:200]

    def in_worker(name: str, function, *args):
        from concurrent.futures.process import BrokenProcessPool

        try:
            return app.extensions["consentguard_pool"].submit(function, *args).result()
        except ConsentGuardError as exc:
            abort(400, str(exc))
        except BrokenProcessPool:  # a worker died (out of memory, killed): start fresh ones
            if pool is None:
                app.extensions["consentguard_pool"] = start_pool()
            abort(503, f"{name}: the checker's worker stopped while checking this photo; it has been "
                       "restarted: check the photo again")

    def batch_id() -> str | None:
        value = request.form.get("batch") or None
        if value is not None and not drops.BATCH_ID.fullmatch(value):
            abort(400, "a batch id is 1 to 64 letters, digits, '-' or '_'")
        return value

    @app.route("/api/check", methods=["POST"])
    def check():
        data, name = one_photo()
        channel = request.form.get("channel") or None
        if channel is not None and channel not in CHANNELS:
            abort(400, f"unknown channel {channel!r}")
        caption = request.form.get("caption") or None
        if caption is not None and len(caption) > MAX_CAPTION:
            abort(400, f"the caption is too long ({len(caption):,} characters; at most {MAX_CAPTION:,})")
        school = request.form.get("school") or None
        drop = batch_id()
        if drop is None:  # decided alone
            doc, preview, safe, _, _ = in_worker(name, _check_in_worker, data, name, caption, channel, school)
            keep(doc, name, data)
            del data
            check_id = record_doc(open_db(db_path, create=False), doc, "web")
            return jsonify({
                "check_id": check_id, "result": doc,
                "preview": _data_url(preview), "safe_copy": _data_url(safe),
                "safe_copy_name": f"{Path(name).stem}.safe.jpg",
            })
        try:
            batch = batches.reserve(request.cookies.get(SESSION_COOKIE, ""), drop, (channel, school))
        except (drops.BatchFull, ValueError) as exc:
            abort(400, f"{name}: {exc}")
        try:
            doc, _, safe, evidence, plain = in_worker(name, _check_in_worker, data, name, caption, channel, school,
                                                      True)
            with batch.lock:
                return jsonify(decide_with_batch(batch, name, data, doc, safe, evidence, plain))
        finally:
            batches.release(batch)

    def keep(doc: dict, name: str, data: bytes) -> None:
        if keep_blocked is not None and doc["verdict"] == "block":
            _keep(Path(keep_blocked), doc["sha256"], name, data)

    def decide_with_batch(batch: drops.Batch, name: str, data: bytes, doc: dict, safe, evidence, plain) -> dict:
        """Add a checked photo to its drop, decide the drop together, record and answer: the photo's
        grouped result, the earlier photos whose result changed, and the drop's review items."""
        db = open_db(db_path, create=False)
        alone = doc
        photo = drops.Photo(0, name, evidence, doc, plain)
        earlier = [(p, p.doc) for p in batch.photos]
        batch.photos.append(photo)
        try:
            changes = drops.decide(batch, db, policy)
            photo.check_id = record_doc(db, photo.doc, "web")
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
                earlier.rows.append(record_doc(db, earlier.doc, "web"))
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

    @app.route("/api/safe-copy", methods=["POST"])
    def batch_safe_copy():
        """A safe copy made from the latest result of a photo of a drop (decided with the others):
        the page sends the photo again, since the server keeps no photo."""
        data, name = one_photo()
        drop = batch_id()
        try:
            check_id = int(request.form.get("check_id", ""))
        except ValueError:
            abort(400, "check_id must be a number")
        batch = batches.find(request.cookies.get(SESSION_COOKIE, ""), drop or "")
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

    @app.route("/api/override", methods=["POST"])
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
        user = str(body.get("user") or "").strip()
        if not user:
            abort(400, "an override needs the name of the person who decided")
        later = batches.superseded(request.cookies.get(SESSION_COOKIE, ""), check_id)
        if later is not None:
            abort(400, f"check #{check_id} was decided again with the other photos of its drop: its verdict "
                       f"now is {later.doc['verdict']!r} (check #{later.audit_id})")
        try:
            row = record_override(open_db(db_path, create=False), check_id, str(body.get("reason") or ""), user)
        except OverrideError as exc:
            abort(400, str(exc))
        return jsonify({"override_id": row})

    def _filters():
        verdict = request.args.get("verdict") or None
        if verdict not in (None, "pass", "review", "block", "error"):
            abort(400, "unknown verdict")
        since, until = request.args.get("since") or None, request.args.get("until") or None
        for day in (since, until):
            if day is not None and not _is_date(day):
                abort(400, f"{day!r} is not a date like 2026-09-01")
        return verdict, since, until

    @app.route("/audit")
    def audit_page():
        verdict, since, until = _filters()
        rows = query(open_db(db_path, create=False), verdict, since, until, limit=500)
        return render_template("audit.html", rows=rows, verdict=verdict or "", since=since or "",
                               until=until or "")

    @app.route("/audit.csv")
    def audit_csv():
        verdict, since, until = _filters()
        out = io.StringIO()
        write_csv(query(open_db(db_path, create=False), verdict, since, until), out)
        response = make_response(out.getvalue())
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = 'attachment; filename="consentguard-audit.csv"'
        return response

    # -- the review queue (issue #12): decisions staff make once per person or photo ------------

    @app.route("/review")
    def review_page():
        session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
        response = make_response(render_template("review.html", csrf=csrf_for(session),
                                                 admin_needed=bool(admin_token)))
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Strict", secure=request.is_secure,
                            max_age=SIGN_IN_HOURS * 3600)
        return response

    @app.route("/api/review")
    def review_items():
        from consentguard.review import item_json, list_items

        db = open_db(db_path, create=False)
        items = list_items(db, include_decided=request.args.get("all") == "1")
        return jsonify({"review_items": [item_json(db, item, closeups=True) for item in items]})

    def review_body() -> dict:
        if (request.content_length or 0) > 16 * 1024:
            abort(413, "a review decision is a choice, a name and a note, not a file")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, "send the decision as a JSON object")
        return body

    @app.route("/api/review/<item_id>/decide", methods=["POST"])
    def review_decide(item_id):
        from consentguard.review import ReviewError, decide_item

        body = review_body()
        faces = body.get("faces") or None
        if faces is not None and not (isinstance(faces, list) and all(isinstance(n, int) for n in faces)):
            abort(400, "faces must be a list of face numbers")
        try:
            ids = decide_item(open_db(db_path, create=False), item_id, str(body.get("decision") or ""),
                              str(body.get("student_number") or "") or None, str(body.get("by") or ""),
                              str(body.get("note") or "") or None, faces, interface="web")
        except ReviewError as exc:
            abort(400, str(exc))
        return jsonify({"decision_ids": ids})

    @app.route("/api/review/decisions/<int:decision_id>/undo", methods=["POST"])
    def review_undo(decision_id):
        from consentguard.review import ReviewError, undo_decision

        body = review_body()
        try:
            audit_id = undo_decision(open_db(db_path, create=False), decision_id, str(body.get("by") or ""),
                                     str(body.get("note") or "") or None, interface="web")
        except ReviewError as exc:
            abort(400, str(exc))
        return jsonify({"audit_id": audit_id})

    return app


def admin_path(path: str) -> bool:
    """Paths that need the admin token (when one is set): the audit trail, and undoing a review
    decision (it can lift a block a colleague decided)."""
    return path.startswith("/audit") or (path.startswith("/api/review/decisions/") and path.endswith("/undo"))


def login_target(path: str) -> str:
    """Where the sign-in form returns to."""
    return "/audit" if path.startswith("/audit") else "/review" if path.startswith("/review") else "/"


def _keep(folder: Path, sha256: str, name: str, data: bytes) -> None:
    """Keep a blocked upload as a record: private folder, named by content hash."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # also when it already existed with a wider mode: it holds photos of children
    path = folder / f"{sha256[:16]}_{Path(name).name}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _is_date(text: str) -> bool:
    import re
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) is not None


def _data_url(jpeg: bytes | None) -> str | None:
    return None if jpeg is None else "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(host: str) -> str:
    """The name in a Host header, without the port: "[::1]:8765" -> "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def served_names(host: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Host names a server bound to ``host`` answers to, besides loopback: the address itself, or
    for a wildcard bind this machine's names and addresses; plus ``extra`` (--allow-host)."""
    import socket

    names = set(extra)
    if host in ("0.0.0.0", "::", ""):
        names |= {socket.gethostname(), socket.getfqdn()}
        try:
            names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
        except OSError:
            pass
    else:
        names.add(host)
    return tuple(sorted(n.lower() for n in names if n))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without an access token."""
    if not is_loopback(host) and not token:
        raise ServeError(f"refusing to listen on {host} without an access token: anyone on the network could "
                         "see check results; set CONSENTGUARD_TOKEN (or --token) or use 127.0.0.1")
    if token is not None and len(token) < MIN_TOKEN:
        raise ServeError(f"the access token is too short: use at least {MIN_TOKEN} random characters "
                         "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(24))')")


def _stop(signum, frame):
    raise KeyboardInterrupt


def serve(db_path, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          policy: Policy | None = None, workers: int | None = None, announce=print,
          admin_token: str | None = None, keep_blocked: str | Path | None = None,
          allow_hosts: tuple[str, ...] = (), behind_proxy: bool = False) -> None:
    """Run the page until interrupted."""
    import signal

    from waitress import create_server

    check_bind(host, token)
    if admin_token is not None and len(admin_token) < MIN_TOKEN:
        raise ServeError(f"the admin token is too short: use at least {MIN_TOKEN} random characters")
    app = create_app(db_path, policy, token, workers, admin_token=admin_token, keep_blocked=keep_blocked,
                     hosts=served_names(host, allow_hosts), behind_proxy=behind_proxy)
    signal.signal(signal.SIGTERM, _stop)
    server = create_server(app, host=host, port=port, threads=8, max_request_body_size=MAX_UPLOAD_BYTES + 65536)
    announce(f"consentguard: listening on http://{host}:{server.effective_port}/ (Ctrl-C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop cleanly
        pass
    finally:
        server.close()
        app.extensions["consentguard_pool"].shutdown(cancel_futures=True)
