"""Posts and takedowns on the page (issue #15): staff mark a photo they published ("Mark as posted",
for any user of the page), and the admin's takedown list (the findings of the nightly re-check,
each with a "Taken down" button; admin-only, see :func:`.security.admin_path`).

The list shows what ``consentguard recheck`` (run by the nightly job) recorded in the audit trail:
it does not re-check on request, since a re-check re-reads every affected file (minutes on a large
archive) and the nightly job already runs it after each sync; ``consentguard recheck`` runs it at once.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, jsonify, render_template, request

from consentguard.inspect.image import sha256_bytes
from consentguard.runners.recheck import PostError, mark_posted_check, mark_taken_down
from consentguard.store import posts as stored
from consentguard.store.roster import student_name
from consentguard.web.state import get_db, state
from consentguard.web.uploads import keep_upload, one_photo

takedown_page = Blueprint("takedown", __name__)


def _check_id(value) -> int:
    try:
        check_id = int(value)
    except (TypeError, ValueError, OverflowError):
        abort(400, "check_id must be a number")
    if not 1 <= check_id < 2 ** 63:
        abort(400, f"check #{check_id} does not exist")
    return check_id


@takedown_page.route("/api/posted", methods=["POST"])
def posted():
    """Mark a checked photo as posted: form fields check_id, channel, on (YYYY-MM-DD), where, user,
    and the photo itself (kept only with ``serve --keep-posted``, and only if it is the photo checked)."""
    form = request.form
    check_id = _check_id(form.get("check_id"))
    user = state().security.actor(form.get("user") or "")[:200]
    if not user:
        abort(400, "marking a post needs the name of the person who posted it")
    where = (form.get("where") or "").strip()[:500] or None
    kept = None
    folder = state().keep_posted
    if folder is not None and request.files.getlist("photo"):
        data, name = one_photo()
        row = stored.check_row(get_db(), check_id)
        if row is None or row["sha256"] != sha256_bytes(data):
            abort(400, f"{name}: not the photo of check #{check_id}: not marked as posted")
        kept = str(keep_upload(folder, row["sha256"], name, data))
    try:
        event = mark_posted_check(get_db(), check_id, form.get("channel") or "", form.get("on") or None, where,
                                  user, kept)
    except PostError as exc:
        abort(400, str(exc))
    return jsonify({"posted_id": event, "kept": kept is not None})


@takedown_page.route("/takedown")
def page():
    return state().security.page_session(lambda csrf: render_template("takedown.html", csrf=csrf))


@takedown_page.route("/api/takedown")
def findings():
    """The re-check findings, newest post first: the photo, where and when it was posted, the students
    and why, the new verdict, and whether (and by whom) it was taken down since its newest post."""
    db = get_db()
    posts, done = stored.posts(db), stored.taken_down(db)
    names: dict[str, str] = {}

    def who(number: str) -> str:
        if number not in names:
            found = student_name(db, number)
            names[number] = f"{' '.join(found)} #{number}" if found else f"#{number}"
        return names[number]

    listed = []
    for f in stored.recheck_list(db):
        post = posts.get(f["ref_id"], [])
        mark = done.get(f["ref_id"])
        if mark is not None and not all(mark["at"] >= p["marked_at"] for p in post):
            mark = None  # posted again after it was taken down: to do again
        listed.append({"check_id": f["ref_id"], "file_name": f["file_name"], "verdict": f["verdict"],
                       "status": f["note"], "found_at": f["checked_at"],
                       "reasons": json.loads(f["reasons"] or "[]"),
                       "students": [who(n) for n in json.loads(f["student_numbers"] or "[]")],
                       "posted": [{k: p.get(k) for k in ("channel", "on", "where", "by")} for p in post],
                       "taken_down": mark})
    listed.sort(key=lambda f: max([p["on"] or "" for p in f["posted"]] or [f["found_at"][:10]]), reverse=True)
    return jsonify({"findings": listed, "open": sum(1 for f in listed if f["taken_down"] is None)})


@takedown_page.route("/api/takedown/<int:check_id>", methods=["POST"])
def taken_down(check_id):
    if (request.content_length or 0) > 16 * 1024:
        abort(413, "a takedown is a note and a name, not a file")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send the takedown as a JSON object")
    user = state().security.actor(str(body.get("user") or ""))[:200]
    if not user:
        abort(400, "marking a takedown needs the name of the person who did it")
    try:
        event = mark_taken_down(get_db(), check_id, str(body.get("note") or ""), user)
    except PostError as exc:
        abort(400, str(exc))
    return jsonify({"taken_down_id": event})


def keep_posted_note() -> str | None:
    """What the page says once when posts it marks cannot be re-read by a re-check (no folder to keep them)."""
    if state().keep_posted is not None:
        return None
    return ("Posts marked here are re-checked by their caption only: this page keeps no photo. Ask IT to "
            "start it with --keep-posted FOLDER so re-checks can look at the photos too.")
