"""The start-up of a worker process that checks photos: one for the batch scan and the web page.

A worker runs one photo at a time on one core (OpenCV and OCR single-threaded: the pool already
has one worker per core), is capped in memory (one huge photo fails in its own worker instead of
starving the others), optionally ends with the process that started it (a server killed with
SIGKILL leaves no worker behind), builds its :class:`~consentguard.runners.check.Checker` once
and loads the face models before the first photo.
"""

from __future__ import annotations

import multiprocessing as mp
import os

from consentguard.policy import Policy

#: The Checker of this worker process (built by :func:`init_worker`).
_checker = None
#: Checkers for other scopes (channel, school) the web page asked for, kept so that photos checked
#: in turn for two channels do not rebuild one (students, face index) per photo.
_scoped: dict = {}
#: At most this many other scopes are kept (the oldest is dropped): a few channels times a few schools.
SCOPES_KEPT = 8


def exit_with_parent(parent: int) -> None:
    """Workers end when their parent does, however it ends (SIGKILL included)."""
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def init_worker(db_path: str, policy: Policy, channel: str | None = None, school: str | None = None,
                root: str | None = None, parent: int | None = None) -> None:
    """A pool's initializer (or, with one worker, called in the process itself: then its memory is
    not capped). ``parent``: the pid whose end ends this worker."""
    global _checker
    import cv2

    from consentguard.models import face_models
    from consentguard.runners.check import Checker, limit_worker_memory
    from consentguard.store.db import open_db

    if parent is not None:
        exit_with_parent(parent)
    cv2.setNumThreads(1)  # one worker per core already; more threads only contend
    os.environ["CONSENTGUARD_OCR_THREADS"] = "1"
    if mp.current_process().name != "MainProcess":  # a pool worker (workers=1 runs in the caller itself)
        limit_worker_memory()
    _checker = Checker(open_db(db_path, create=False), policy, record=False, channel=channel, school=school,
                       root=root)
    face_models()  # load once per worker, before the first photo


def worker_checker(scope: tuple[str | None, str | None] | None = None):
    """This worker's Checker, rebuilt whenever a roster sync has landed or the day has changed
    (``Checker.current``), so a scan or server that runs for weeks judges against the roster in
    force; ``scope`` (channel, school): rebuilt for that scope when it differs."""
    global _checker
    from consentguard.runners.check import Checker

    if scope is None or scope == (_checker.channel, _checker.school):
        _checker = _checker.current()
        return _checker
    kept = _scoped.pop(scope, None)
    checker = kept.current() if kept is not None else Checker(
        _checker.db, _checker.policy, record=False, channel=scope[0], school=scope[1], root=_checker.root)
    _scoped[scope] = checker  # the latest used last: the first one is the oldest
    while len(_scoped) > SCOPES_KEPT:
        _scoped.pop(next(iter(_scoped)))
    return checker
