"""The batch scan on Ray (``consentguard scan --engine ray``): the same scan, photos checked by Ray actors.

:func:`~consentguard.runners.scan.run_scan` stays in charge: the main process lists the photos
(``find_photos``: nothing skipped silently), takes cached results, and is the one writer (cache,
reports, the batch decided together, audit). Only the photos left to check go to Ray Data: one row
per photo, ``map_batches`` over a pool of actors that each build a
:class:`~consentguard.runners.check.Checker` and load the face models once (``init_worker``, as a
local worker process does), and the results stream back in the order they finish.

The roster and policy travel with the job, never the database path: a read-only snapshot of the
database file (SQLite's backup API, into bytes) is put in Ray's object store once; each actor writes
it to a private temporary file (0600) and opens it (removed when the actor's process exits; only a worker killed outright leaves it in its temporary folder). The photos are read
by the workers from their paths: on a cluster the paths must be the same on every node (a shared
filesystem, docs/cluster.md); a path a worker cannot read is an ``error`` row naming the path and the
worker's host.

Fail closed: a photo whose check raises is an ``error`` row; a task whose worker process dies is retried
on a restarted actor (``TASK_RETRIES``), and a photo still without a result when the stream ends (its
task failed every try) is an ``error`` row made here, never a lost photo. Error rows are not cached, so
the next run checks them again.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import socket
import sqlite3
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

from consentguard.errors import ConsentGuardError
from consentguard.policy import Policy

#: What to install when Ray is missing (one line: the CLI prints it and exits 2).
INSTALL = "the Ray engine needs Ray, which is not installed: pip install 'consentguard[cluster]'"
#: Tries of one photo's task after its worker process died (a restarted actor each time).
TASK_RETRIES = 2
#: At most this many blocks (a block whose task fails takes its photos with it: they become error rows).
MAX_BLOCKS = 10_000


class RayMissing(ConsentGuardError):
    """``--engine ray`` without Ray installed."""


def require_ray():
    """The ``ray`` module with Ray Data, or :class:`RayMissing` saying how to install it."""
    if "pandas" in sys.modules and sys.modules["pandas"] is None:
        del sys.modules["pandas"]  # hidden from sqlite-utils by consentguard/__init__.py; Ray Data needs it
    try:
        import ray
        import ray.data  # noqa: F401  (the extra installs both; Ray core alone is not enough)
    except ImportError as exc:
        raise RayMissing(INSTALL) from exc
    return ray


def db_snapshot(db_path: str) -> bytes:
    """The database file's content as bytes, consistent even while another process writes
    (SQLite's online backup into memory, then serialised): what the actors open instead of a path."""
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    memory = sqlite3.connect(":memory:")
    try:
        source.backup(memory)
        return memory.serialize()
    finally:
        source.close()
        memory.close()


class PhotoChecker:
    """A Ray Data actor: one Checker, face models loaded once, over the database snapshot.

    Ray may call an actor from other threads than the one that built it, and an SQLite connection
    is used only in the thread that opened it: the Checker is built and every photo checked in
    one thread of the actor's own (one photo at a time: one core per actor, as a local worker)."""

    def __init__(self, snapshot, policy: Policy, scope: tuple, check_one: Callable, row: type):
        import ray

        from consentguard.runners.workers import init_worker

        if isinstance(snapshot, ray.ObjectRef):
            snapshot = ray.get(snapshot)
        self.host, self.check_one, self.row = socket.gethostname(), check_one, row
        fd, path = tempfile.mkstemp(prefix="consentguard-snapshot-", suffix=".db")  # mode 0600
        atexit.register(_remove, path)  # SQLite needs the name while open (it opens the file again)
        with os.fdopen(fd, "wb") as f:
            f.write(snapshot)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="consentguard-checker")
        self.thread.submit(init_worker, path, policy, *scope).result()

    def __call__(self, batch: dict) -> dict:
        paths = [str(p) for p in batch["path"]]
        return {"path": paths, "checked": [pickle.dumps(self.thread.submit(self.check, p).result()) for p in paths]}

    def check(self, path: str):
        """One photo's :class:`~consentguard.runners.scan.Checked`; an error row for a path this
        worker cannot read or a check that raised, naming the host."""
        if not os.access(path, os.R_OK):
            return error_row(self.row, path, f"{path}: cannot be read on the Ray worker {self.host} (is the folder on a "
                                   "filesystem every worker shares, under the same path?): not checked")
        try:
            return self.check_one(path)
        except Exception as exc:  # never a lost photo: the check that raised is the photo's error
            return error_row(self.row, path, f"{path}: the check failed on the Ray worker {self.host} "
                                   f"({type(exc).__name__}: {exc}): not checked")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def error_row(row: type, path: str, reason: str, checker=None):
    """An ``error`` result for ``path`` with ``reason``, as a ``row`` (scan's ``Checked``), judged by
    this worker's Checker unless ``checker``."""
    from consentguard.runners.workers import worker_checker

    checker = checker or worker_checker()
    result = checker._finish(path, None, None, [], None, reason, record=False, location=os.path.abspath(path))
    return row(path, result.to_json(), None, checker.version, result.evidence)


def ray_results(todo: list[str], workers: int, db_path: str, policy: Policy,
                scope: tuple[str | None, str | None, str], address: str | None, check_one: Callable,
                row: type) -> Iterator:
    """A ``row`` (:class:`~consentguard.runners.scan.Checked`) for every path in ``todo``, checked on Ray
    by ``check_one`` (scan's, given by the caller: this module does not import the scan), as they finish. ``address``: a running cluster (else ``RAY_ADDRESS``, else Ray in local mode on
    ``workers`` cores, started here and shut down at the end)."""
    ray = require_ray()
    if not todo:
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    started = not ray.is_initialized()
    for name in ("ray", "ray.data"):  # a scan prints its own progress; Ray's notes go to its log files
        logging.getLogger(name).setLevel(logging.ERROR)
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 logging_level="ERROR", log_to_driver=False)
    try:
        cores = workers if not address else _cluster_cpus(ray)
        yield from _stream(ray, todo, cores, db_path, policy, scope, check_one, row)
    finally:
        if started:
            ray.shutdown()


def _cluster_cpus(ray) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _stream(ray, todo, workers, db_path, policy, scope, check_one, row) -> Iterator:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.max_errored_blocks = len(todo)  # a block that failed every try: its photos become error rows below
    # held here until the stream ends: a restarted actor gets it again (Ray warns once per actor that its
    # constructor arguments are in the object store: this is why they stay there)
    snapshot = ray.put(db_snapshot(db_path))
    rows = ray.data.from_items([{"path": p} for p in todo], override_num_blocks=min(len(todo), MAX_BLOCKS))
    with warnings.catch_warnings():  # the actors' restart options have no named parameter yet (Ray 2.60)
        warnings.simplefilter("ignore", DeprecationWarning)
        checked = rows.map_batches(PhotoChecker, batch_size=1, fn_constructor_args=(snapshot, policy, scope, check_one, row),
                                   compute=ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, workers)),
                                   num_cpus=1, max_restarts=-1, max_task_retries=TASK_RETRIES)
    seen = set()
    for row in checked.iter_rows():
        done = pickle.loads(row["checked"])
        seen.add(done.path)
        yield done
    lost = [p for p in todo if p not in seen]
    if lost:
        yield from _lost(lost, db_path, policy, scope, row)


def _lost(paths: list[str], db_path: str, policy: Policy, scope, row: type) -> Iterator:
    """Error rows for photos whose task failed every try (the worker died each time)."""
    from consentguard.runners.check import Checker
    from consentguard.store.db import open_db

    channel, school, root = scope
    checker = Checker(open_db(db_path, create=False), policy, record=False, channel=channel, school=school,
                      root=root)
    for path in paths:
        yield error_row(row, path, f"{path}: its Ray task failed {TASK_RETRIES + 1} times (the worker process "
                              "crashed or its node was lost, on this photo or one in the same block): "
                              "not checked; run the scan again to retry it", checker)
