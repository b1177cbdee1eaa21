"""docs/deploy.md's promise: one database for the nightly sync and the page. The real server checks
photos (real HTTP, multipart uploads) while `consentguard sync` writes a new roster to the same SQLite
file in another process; neither fails, and the page judges with the new roster afterwards."""

import http.cookiejar
import json
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import C, R, student, write_export
from helpers.web import start_server

pytestmark = [pytest.mark.faces, pytest.mark.slow]


def multipart(fields: dict, photo: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{photo.name}"\r\n'
                 "Content-Type: image/jpeg\r\n\r\n".encode() + photo.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_the_page_keeps_checking_while_the_nightly_sync_writes_the_same_database(face_roster, faces, tmp_path):
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    portraits = tmp_path / "portraits"
    portraits.mkdir()
    for i in range(12):  # a sync with portraits to encode: it holds the writer lock for a few seconds
        shutil.copy(faces.stranger, portraits / f"{900100 + i}.jpg")
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.clear_portrait, portraits / f"{C}.jpg")
    rows = [student(R, "Marcus", "Ellery", photo="Y"), student(C, "Jordan", "Whitfield", photo="Y")]
    rows += [student(str(900100 + i), f"First{i}", f"Last{i}") for i in range(12)]
    export = write_export(tmp_path / "tonight.csv", rows)
    proc, url = start_server(db)
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', opener.open(url, timeout=30).read().decode()).group(1)

        def check(photo: Path) -> dict:
            body, kind = multipart({"caption": "", "channel": ""}, photo)
            request = urllib.request.Request(url + "api/check", data=body, method="POST",
                                             headers={"Content-Type": kind, "X-CSRF-Token": csrf})
            return json.loads(opener.open(request, timeout=120).read())

        sync = subprocess.Popen([sys.executable, "-m", "consentguard", "sync", str(export), "--photos", str(portraits),
                                 "--index", "all", "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        answers, failures = [], []

        def keep_checking():
            while sync.poll() is None and len(answers) < 30:
                try:
                    answers.append(check(faces.clear_other)["result"]["verdict"])
                except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                    failures.append(repr(exc))

        worker = threading.Thread(target=keep_checking)
        worker.start()
        out, err = sync.communicate(timeout=600)
        worker.join(timeout=300)
        assert sync.returncode == 0, out + err
        assert failures == [] and answers, (failures, answers)
        assert set(answers) <= {"pass", "review"}
        # Jordan (C) is photo-restricted since tonight's sync: the page judges with the new roster
        assert check(faces.clear_other)["result"]["verdict"] == "block"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
