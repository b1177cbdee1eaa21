"""The drag-and-drop checker: a local web page over the same library API as the CLI.

``create_app`` builds the Flask application; ``serve`` runs it with waitress.

Security rules (tests/test_web.py checks each):

* binds 127.0.0.1 by default; any other address needs an access token, or
  ``serve`` refuses to start;
* with a token, every page and API call needs it (a login form sets an
  HttpOnly, SameSite=Strict cookie); an admin token, if set, is needed for
  the audit page, the takedown list and undoing a review decision as well;
* state-changing requests (check, safe copy, override, review decisions) need the CSRF token of the page
  (HMAC of the session cookie) in a header, and a same-origin ``Origin``;
* one photo per request, at most ``MAX_UPLOAD_BYTES``; photos are sniffed by
  content and decoded with the 100 MP limit; they stay in memory (or an
  unlinked temporary file) and are gone after the response, unless
  ``keep_blocked`` names a folder for blocked photos;
* a video is streamed to a private temporary folder (0700, the clip 0600), checked in the
  background while the page polls its progress, and deleted as soon as it is not needed, when the
  page is done with it, after a while unused, and when the server stops (:mod:`.video_jobs`);
* the photos of one drop (a ``batch`` id) are decided together: their evidence (encodings:
  biometric) is kept in memory only, bounded and forgotten when idle (:mod:`.batches`);
* every string from users or photos is written with ``textContent`` (page) or
  autoescaped (audit page); a Content-Security-Policy allows no inline script
  and nothing from elsewhere.

Face work runs in worker processes (models loaded once per worker,
:mod:`consentguard.runners.workers`), so one large photo does not hold up the page; the audit row
is written by the server.

Layout: this module is the app factory and ``serve``; the routes are Blueprints
(:mod:`.routes`: the checker page and the audit trail; :mod:`.review_routes`: the review queue;
:mod:`.takedown_routes`: marking posts and the admin's takedown list);
every rule above lives in :mod:`.security`; each request uses one database connection, opened
lazily and closed when it ends (:mod:`.state`); drops decided together are kept in :mod:`.batches`; videos are :mod:`.videos` (routes) and
:mod:`.video_jobs` (the jobs, their files, the work done in the workers).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from consentguard.policy import Policy
from consentguard.runners.workers import init_worker
from consentguard.store.db import open_db
from consentguard.web import batches as drops
from consentguard.web.security import (
    MAX_UPLOAD_BYTES,
    MIN_TOKEN,
    Security,
    ServeError,
    check_bind,
    is_loopback,
    served_names,
)
from consentguard.web.state import State, close_db, get_db
from consentguard.web.video_jobs import VideoJobs

__all__ = ["ServeError", "check_bind", "create_app", "serve"]


def create_app(db_path: str | Path, policy: Policy | None = None, token: str | None = None,
               workers: int | None = None, pool=None, admin_token: str | None = None,
               keep_blocked: str | Path | None = None, hosts: tuple[str, ...] = (), behind_proxy: bool = False,
               keep_posted: str | Path | None = None):
    """The Flask app. ``pool``: an executor to use instead of starting worker processes.
    ``hosts``: host names it answers to besides this machine's loopback names (DNS rebinding guard).
    ``behind_proxy``: one HTTPS reverse proxy in front: its X-Forwarded-For/-Proto/-Host are trusted
    (cookies then get ``Secure``; the lockout counts the real client's address).
    ``admin_token``: also required for the audit page. ``keep_blocked``: a folder where blocked
    uploads are kept as a record (otherwise no photo is ever written to disk). ``keep_posted``: a
    folder where photos marked as posted on the page are kept, so ``recheck`` can read them again."""
    import multiprocessing as mp

    from flask import Flask

    from consentguard.web.review_routes import review_page
    from consentguard.web.routes import checker_page
    from consentguard.web.takedown_routes import takedown_page
    from consentguard.web.videos import video_page

    db_path = str(db_path)
    policy = policy or Policy()
    open_db(db_path, create=False).close()  # fail now, with a clear message, if there is no roster database
    app = Flask(__name__)
    if behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.add_template_filter(json.loads, "fromjson")
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES + 64 * 1024

    def start_pool():
        count = workers or os.cpu_count() or 1
        executor = ProcessPoolExecutor(max_workers=count, mp_context=mp.get_context("spawn"),
                                       initializer=init_worker,
                                       initargs=(db_path, policy, None, None, None, os.getpid()))
        for _ in range(count):  # start the workers (and load the models) now, not on the first photo
            executor.submit(os.getpid)
        return executor

    security = Security(token, admin_token, hosts, database=get_db)
    app.extensions["consentguard"] = State(db_path, policy, security,
                                           Path(keep_blocked) if keep_blocked is not None else None,
                                           start_pool if pool is None else None,
                                           Path(keep_posted).resolve() if keep_posted is not None else None)
    app.extensions["consentguard_pool"] = pool if pool is not None else start_pool()
    app.extensions["consentguard_batches"] = drops.BatchStore()  # memory only: encodings are biometric
    app.extensions["consentguard_videos"] = VideoJobs()  # clips: a private folder, deleted when done
    security.install(app)
    app.teardown_appcontext(close_db)
    app.register_blueprint(checker_page)
    app.register_blueprint(review_page)
    app.register_blueprint(video_page)
    app.register_blueprint(takedown_page)
    return app


def _stop(signum, frame):
    raise KeyboardInterrupt


def serve(db_path, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          policy: Policy | None = None, workers: int | None = None, announce=print,
          admin_token: str | None = None, keep_blocked: str | Path | None = None,
          allow_hosts: tuple[str, ...] = (), behind_proxy: bool = False,
          keep_posted: str | Path | None = None) -> None:
    """Run the page until interrupted."""
    import signal

    from waitress import create_server

    from consentguard.store import users

    accounts = users.any_enabled(open_db(db_path, create=False))
    check_bind(host, token, accounts)
    if not is_loopback(host) and not behind_proxy:
        announce(f"consentguard: WARNING: listening on {host} without HTTPS: passwords, tokens and photos cross "
                 "the network in clear. Put the page behind an HTTPS reverse proxy (--behind-proxy; "
                 "docs/deploy.md shows Caddy and nginx)")
    if admin_token is not None and len(admin_token) < MIN_TOKEN:
        raise ServeError(f"the admin token is too short: use at least {MIN_TOKEN} random characters")
    app = create_app(db_path, policy, token, workers, admin_token=admin_token, keep_blocked=keep_blocked,
                     hosts=served_names(host, allow_hosts), behind_proxy=behind_proxy, keep_posted=keep_posted)
    signal.signal(signal.SIGTERM, _stop)
    body = max(MAX_UPLOAD_BYTES, app.extensions["consentguard"].policy.video_max_upload_mb * 1024 * 1024)
    server = create_server(app, host=host, port=port, threads=8, max_request_body_size=body + 2 * 1024 * 1024)
    announce(f"consentguard: listening on http://{host}:{server.effective_port}/ (Ctrl-C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop cleanly
        pass
    finally:
        server.close()
        app.extensions["consentguard_pool"].shutdown(cancel_futures=True)
        app.extensions["consentguard_videos"].close()  # no clip outlives the server
