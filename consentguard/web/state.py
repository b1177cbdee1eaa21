"""What the routes of one app share: its settings, workers and security (:class:`State`, made by
``create_app``), and the request's one database connection (:func:`get_db`).

A request opens the database at most once, lazily, in ``flask.g``, and the connection is closed
when the request ends (``teardown_appcontext``): a SQLite connection is never shared between the
server's threads, and none is left open for the garbage collector.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sqlite_utils

from consentguard.policy import Policy
from consentguard.store.db import open_db
from consentguard.web.security import Security


@dataclass
class State:
    db_path: str
    policy: Policy
    security: Security
    keep_blocked: Path | None
    #: starts a new pool of workers; None when the caller gave the pool (never replaced)
    start_pool: Callable | None
    #: where photos marked as posted on the page are kept for re-checks (``serve --keep-posted``)
    keep_posted: Path | None = None


def state() -> State:
    """The settings of the app handling this request."""
    from flask import current_app

    return current_app.extensions["consentguard"]


def get_db() -> sqlite_utils.Database:
    """This request's connection to the database, opened on first use."""
    from flask import g

    if "db" not in g:
        g.db = open_db(state().db_path, create=False)
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    """Close the request's connection, if it opened one (``teardown_appcontext``)."""
    from flask import g

    db = g.pop("db", None)
    if db is not None:
        db.close()
