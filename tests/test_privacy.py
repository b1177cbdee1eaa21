"""Nothing leaves the machine: a real check (face models and OCR loaded) opens no network connection."""

import re
import shutil
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.faces, pytest.mark.slow,  # runs checks under strace
              pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (apt-get install strace)")]


def network_calls(tmp_path, *argv) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``argv`` under strace; the system calls that used an internet (or netlink) socket."""
    log = tmp_path / "trace.txt"
    done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg,bind", "-o", str(log),
                           *argv], capture_output=True, text=True, timeout=300)
    return done, [line for line in log.read_text().splitlines() if re.search(r"AF_INET6?\b|AF_NETLINK", line)]


def test_the_trace_sees_a_connection(tmp_path):
    """The control: a program that does connect is caught (so the test below can fail)."""
    code = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\nexcept OSError:\n    pass"
    _, calls = network_calls(tmp_path, sys.executable, "-c", code)
    assert any("AF_INET" in c for c in calls)


def test_a_check_opens_no_network_connection(face_roster, faces, tmp_path):
    done, calls = network_calls(tmp_path, sys.executable, "-m", "consentguard", "check", str(faces.group),
                                "--caption", "Spring concert", "--db", str(face_roster))
    assert done.returncode == 4, done.stderr  # the check really ran: faces, names and OCR (the group photo blocks)
    assert calls == [], "\n".join(calls[:5])
