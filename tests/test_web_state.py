"""The web app opens one database connection per request, lazily, and closes it when the request
ends; the app's parts are Blueprints over one security module (issue #13)."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from consentguard import open_db, sync_roster
from consentguard.web import create_app
from consentguard.web import state as web_state

from conftest import student, write_export


@pytest.fixture
def app(tmp_path, db_path):
    export = write_export(tmp_path / "export.csv", [student("100101", "Ana", "Lopez", photo="Y"),
                                                    student("100102", "Ben", "Okafor", SchoolID="4471")])
    sync_roster(open_db(db_path), export)
    with ThreadPoolExecutor(1) as pool:  # no photo is checked here: the pages only read the database
        yield create_app(db_path, pool=pool)


@pytest.fixture
def opened(monkeypatch):
    """Every connection the web app opens, in order (the real ``open_db``, counted)."""
    found, lock = [], threading.Lock()
    real = web_state.open_db

    def counting(*args, **kwargs):
        db = real(*args, **kwargs)
        with lock:
            found.append(db)
        return db

    monkeypatch.setattr(web_state, "open_db", counting)
    return found


def closed(db) -> bool:
    try:
        db.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


@pytest.mark.parametrize("path", ["/", "/audit", "/audit.csv", "/api/review", "/review"])
def test_one_connection_per_request_closed_at_its_end(app, opened, path):
    response = app.test_client().get(path)
    assert response.status_code == 200, response.text
    assert len(opened) == 1, path  # one, shared by the guard (are there staff accounts?) and the route
    assert all(closed(db) for db in opened)


def test_the_page_reads_schools_and_protection_through_one_connection(app, opened):
    page = app.test_client().get("/")
    assert "4471" in page.text and len(opened) == 1  # before: one connection for the schools, another for the rest


def test_requests_on_different_threads_never_share_a_connection(app, opened):
    client = app.test_client()
    results = []

    def get():
        results.append(client.get("/audit").status_code)

    threads = [threading.Thread(target=get) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    assert len(opened) == 4 and len({id(db) for db in opened}) == 4 and all(closed(db) for db in opened)


def test_routes_are_blueprints_and_keep_their_paths(app):
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(app.blueprints) == {"checker", "review", "videos", "takedown"}
    for path in ("/", "/api/check", "/api/safe-copy", "/api/override", "/audit", "/audit.csv", "/review",
                 "/api/review", "/api/review/<item_id>/decide", "/api/review/decisions/<int:decision_id>/undo"):
        assert rules[path].split(".")[0] in ("checker", "review"), path
    for path in ("/api/video", "/api/video/<job_id>", "/api/video/<job_id>/delete", "/api/video/<job_id>/safe-copy"):
        assert rules[path].startswith("videos."), path
    for path in ("/api/posted", "/takedown", "/api/takedown", "/api/takedown/<int:check_id>"):
        assert rules[path].startswith("takedown."), path
    assert rules["/login"] == "login"  # the sign-in belongs to the security module, outside the blueprints


def test_security_headers_on_every_answer(app):
    client = app.test_client()
    for response in (client.get("/"), client.get("/nowhere"), client.post("/api/check")):
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/nowhere").status_code == 404 and client.post("/api/check").status_code == 403


def test_a_worker_keeps_one_checker_per_scope(tmp_path, db_path, monkeypatch):
    """Photos checked in turn for two channels (the page's selector) reuse each channel's Checker:
    each used to rebuild the other's (students and face index read again) for every photo."""
    from consentguard import Checker
    from consentguard.runners import workers

    export = write_export(tmp_path / "export.csv", [student("100101", "Ana", "Lopez", photo="Y"),
                                                    student("100102", "Ben", "Okafor", SchoolID="4471")])
    sync_roster(open_db(db_path), export)
    monkeypatch.setattr(workers, "_checker", Checker(open_db(db_path), record=False))
    monkeypatch.setattr(workers, "_scoped", {})
    default = workers.worker_checker(None)
    social = workers.worker_checker(("social", None))
    assert social.channel == "social" and social is not default
    assert workers.worker_checker((None, None)) is default
    assert workers.worker_checker(("social", None)) is social
    assert workers.worker_checker(("yearbook", "4471")).school == "4471"
    assert workers.worker_checker(("social", None)) is social and workers.worker_checker(None) is default
