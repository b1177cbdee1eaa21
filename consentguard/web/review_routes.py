"""The review queue's routes (issue #12): the Review tab, its items, and the decisions staff make
once per person or photo (undoing one needs the admin token, see :func:`.security.admin_path`)."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request

from consentguard.review import ReviewError, decide_item, item_json, list_items, undo_decision
from consentguard.web.state import get_db, state

review_page = Blueprint("review", __name__)


@review_page.route("/review")
def page():
    admin_needed = bool(state().security.admin_token)
    return state().security.page_session(
        lambda csrf: render_template("review.html", csrf=csrf, admin_needed=admin_needed))


@review_page.route("/api/review")
def items():
    db = get_db()
    found = list_items(db, include_decided=request.args.get("all") == "1")
    return jsonify({"review_items": [item_json(db, item, closeups=True) for item in found]})


def review_body() -> dict:
    if (request.content_length or 0) > 16 * 1024:
        abort(413, "a review decision is a choice, a name and a note, not a file")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send the decision as a JSON object")
    return body


@review_page.route("/api/review/<item_id>/decide", methods=["POST"])
def decide(item_id):
    body = review_body()
    faces = body.get("faces") or None
    if faces is not None and not (isinstance(faces, list) and all(isinstance(n, int) for n in faces)):
        abort(400, "faces must be a list of face numbers")
    try:
        ids = decide_item(get_db(), item_id, str(body.get("decision") or ""),
                          str(body.get("student_number") or "") or None, state().security.actor(str(body.get("by") or "")),
                          str(body.get("note") or "") or None, faces, interface="web")
    except ReviewError as exc:
        abort(400, str(exc))
    return jsonify({"decision_ids": ids})


@review_page.route("/api/review/decisions/<int:decision_id>/undo", methods=["POST"])
def undo(decision_id):
    body = review_body()
    try:
        audit_id = undo_decision(get_db(), decision_id, state().security.actor(str(body.get("by") or "")),
                                 str(body.get("note") or "") or None, interface="web")
    except ReviewError as exc:
        abort(400, str(exc))
    return jsonify({"audit_id": audit_id})
