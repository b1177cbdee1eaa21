"""The scan on Ray (runners/cluster.py): Ray in local mode on 2 CPUs, real photos, a real database.

Skipped when Ray is not installed, except under CI=true (scripts/_venv.sh installs the cluster extra).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from consentguard import open_db
from consentguard.runners.scan import run_scan

if os.environ.get("CI", "").lower() != "true":
    from consentguard.runners.cluster import RayMissing, require_ray

    try:
        require_ray()  # as the engine imports it (pandas let back for Ray Data)
    except RayMissing:
        pytest.skip("Ray is not installed (pip install 'consentguard[cluster]')", allow_module_level=True)

pytestmark = [pytest.mark.faces, pytest.mark.slow]


@pytest.fixture
def album(tmp_path, faces, face_roster):
    """R (restricted) in another photo, C (clear), a stranger, and a JPEG cut off half way."""
    root = tmp_path / "album"
    root.mkdir()
    shutil.copy(faces.restricted_other, root / "r.jpg")
    shutil.copy(faces.clear_other, root / "c.jpg")
    shutil.copy(faces.stranger, root / "s.jpg")
    data = faces.restricted_other.read_bytes()
    (root / "corrupt.jpg").write_bytes(data[: len(data) // 2])
    dbs = []
    for name in ("local.db", "ray.db"):
        shutil.copy(face_roster, tmp_path / name)
        dbs.append(tmp_path / name)
    return root, dbs


def _outcome(scan) -> dict:
    return {os.path.basename(r.doc["path"]): (r.verdict, r.doc["reasons"]) for r in scan.results}


def test_ray_scan_same_verdicts_errors_and_cache(album):
    root, (local_db, ray_db) = album
    local = run_scan(open_db(local_db), str(local_db), root, workers=1)
    db = open_db(ray_db)
    on_ray = run_scan(db, str(ray_db), root, workers=2, engine="ray")
    assert len(on_ray.results) == on_ray.total == 4
    assert _outcome(on_ray) == _outcome(local)
    outcome = _outcome(on_ray)
    assert outcome["r.jpg"][0] == "block" and outcome["c.jpg"][0] == "pass"
    assert outcome["corrupt.jpg"][0] == "error"  # the corrupt photo is an error row, not a lost photo
    again = run_scan(db, str(ray_db), root, workers=2, engine="ray")
    assert again.cached == 3  # every photo from the cache; the error row is checked again (never cached)
    assert _outcome(again) == outcome


def test_path_a_worker_cannot_read_is_an_error_naming_host(album):
    """A photo listed by the main process but unreadable where the worker runs: an error row with
    the path and the worker's host (a folder not shared with the cluster)."""
    from consentguard.policy import Policy
    from consentguard.runners.cluster import ray_results
    from consentguard.runners.scan import Checked, _check_one

    root, (_, ray_db) = album
    missing = str(root / "only-on-the-laptop.jpg")
    (done,) = list(ray_results([missing], 1, str(ray_db), Policy(), (None, None, str(root)), None,
                               _check_one, Checked))
    assert done.doc["verdict"] == "error"
    reason = " ".join(done.doc["reasons"])
    assert missing in reason and socket.gethostname() in reason


def test_engine_ray_without_ray_says_how_to_install(tmp_path, face_roster):
    """Without Ray: exit 2, one line naming the extra to install (ray hidden from the import system)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    code = ("import sys; sys.modules['ray'] = None; from consentguard.cli import main; "
            "sys.argv = ['consentguard', 'scan', sys.argv[1], '--engine', 'ray', '--db', sys.argv[2]]; main()")
    run = subprocess.run([sys.executable, "-c", code, str(folder), str(face_roster)], capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        "Error: the Ray engine needs Ray, which is not installed: pip install 'consentguard[cluster]'"]


def test_worker_killed_every_try_is_an_error_row_not_a_lost_photo(album, faces):
    """A worker process that dies while checking (SIGKILL, as a crash or a lost node) is restarted and
    the task retried; a photo whose every try dies is an error row saying so, never a lost photo."""
    import signal
    import threading
    import time
    from pathlib import Path

    from PIL import Image

    from consentguard.policy import Policy
    from consentguard.runners.cluster import TASK_RETRIES, ray_results
    from consentguard.runners.scan import Checked, _check_one

    root, (_, ray_db) = album
    big = Image.open(faces.group).convert("RGB")
    k = 6000 / max(big.size)  # a big photo: its check takes seconds, long enough to be killed in it
    big.resize((round(big.width * k), round(big.height * k))).save(root / "big.jpg", quality=90)
    kills, stop = [], threading.Event()

    def kill_busy_actors():  # an actor running a task is named "ray::MapWorker(...).submit"
        busy_since = {}
        while not stop.wait(0.3):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"MapWorker" in cmd and b"submit" in cmd:
                    if time.monotonic() - busy_since.setdefault(pid, time.monotonic()) > 0.5:
                        os.kill(int(pid), signal.SIGKILL)
                        kills.append(pid)

    threading.Thread(target=kill_busy_actors, daemon=True).start()
    try:
        (done,) = list(ray_results([str(root / "big.jpg")], 1, str(ray_db), Policy(), (None, None, str(root)),
                                   None, _check_one, Checked))
    finally:
        stop.set()
    assert len(set(kills)) == TASK_RETRIES + 1
    assert done.doc["verdict"] == "error"
    assert f"its Ray task failed {TASK_RETRIES + 1} times" in done.doc["reasons"][0]
