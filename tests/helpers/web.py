"""The real web server (``consentguard serve``) started as a subprocess, for the server and browser tests."""

from __future__ import annotations

import re
import subprocess
import sys


def start_server(db_file, *extra):
    """Start ``consentguard serve`` on a free port; return (the process, its URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "consentguard", "serve", "--port", "0", "--workers", "1",
                             "--db", str(db_file), *extra], stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", line)
    assert match, line
    return proc, match.group(1)
