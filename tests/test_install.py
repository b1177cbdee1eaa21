"""Installing: the wheel alone installs everything; the test script installs no system package
unasked, and a missing browser skips the page's tests (fails them under CI=true); the face sets
hold distinct people."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def bare_path(tmp_path, apt_log):
    """A PATH with the few tools scripts/_browser.sh uses, no Chromium, and an apt-get that only
    writes down how it was called (the real one would change this machine)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("id", "mktemp", "tail"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "apt-get $*" >> {apt_log}\n')
    (bin_dir / "apt-get").chmod(0o755)
    return str(bin_dir)


def source_browser_check(tmp_path, **env):
    apt_log = tmp_path / "apt.log"
    path = bare_path(tmp_path, apt_log)
    proc = subprocess.run([shutil.which("bash"), "-c", f"source {ROOT / 'scripts' / '_browser.sh'}"],
                          env={"PATH": path, **env}, capture_output=True, text=True, check=False, timeout=60)
    return proc, apt_log.read_text() if apt_log.exists() else ""


def test_test_script_says_what_is_missing_and_installs_nothing_unasked(tmp_path):
    proc, apt_calls = source_browser_check(tmp_path)
    assert apt_calls == ""
    assert "missing for the browser tests: chromium chromedriver" in proc.stderr
    assert "apt-get install chromium chromium-driver" in proc.stderr
    assert "--install-browser" in proc.stderr and "will be skipped" in proc.stderr
    (tmp_path / "ci").mkdir()
    proc, _ = source_browser_check(tmp_path / "ci", CI="true")
    assert "will fail (CI=true)" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user the script installs with sudo")
def test_install_browser_flag_installs_with_apt(tmp_path):
    proc, apt_calls = source_browser_check(tmp_path, INSTALL_BROWSER="1")
    assert "apt-get install -y -q chromium chromium-driver" in apt_calls, proc.stderr


def test_flag_is_not_passed_to_pytest():
    """scripts/test takes --install-browser out of the arguments it hands to pytest."""
    script = (ROOT / "scripts" / "test").read_text()
    head = script[:script.index("source ")]  # the argument loop, before anything is installed
    proc = subprocess.run([shutil.which("bash"), "-c", head + 'echo "$INSTALL_BROWSER|${ARGS[*]}"', "test",
                           "-k", "names", "--install-browser", "-x"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.stdout.strip() == "1|-k names -x", proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("ci,outcome", [("", "Skipped"), ("true", "RuntimeError")])
def test_missing_browser_skips_the_page_tests_except_in_ci(tmp_path, ci, outcome):
    code = ("import sys, pytest; sys.path.insert(0, 'tests'); from helpers.browser import chromium\n"
            "try:\n    chromium()\nexcept BaseException as e:\n    print(type(e).__name__, e)\n")
    env = {**os.environ, "PATH": str(tmp_path), "CI": ci}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.stdout.startswith(outcome), proc.stderr
    assert "apt-get install chromium chromium-driver" in proc.stdout


@pytest.mark.slow
def test_wheel_alone_installs_everything_and_blocks_a_restricted_face(tmp_path):
    """Issue #13's "Done when": the wheel carries the weights and their licences, and after one plain
    `pip install <wheel>` in a fresh venv, `consentguard sync` then `check` blocks the restricted face
    (scripts/check_install; about a minute with pip's cache)."""
    proc = subprocess.run([str(ROOT / "scripts" / "check_install"), str(tmp_path / "work")],
                          env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True, check=False,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checking the weights and licences inside it ... 6 files" in proc.stdout
    assert "blocked (exit status 4)" in proc.stdout
    assert "matches photo-restricted Marcus Ellery (#900001)" in proc.stdout


def _encoding(path):
    from consentguard.inspect.faces import find_and_encode
    from consentguard.inspect.image import load_image

    (face,) = find_and_encode(load_image(path).rgb)
    return face.encoding


@pytest.mark.faces
def test_face_set_has_distinct_people(faces):
    """Restricted, permitted and stranger are three different people, in whichever face set is in use;
    each person's other photo is nearer their own portrait than anyone else's."""
    import numpy as np

    from conftest import SHARED_FACES

    assert faces.source == ("shared" if SHARED_FACES.is_dir() else "pypi")
    people = {"restricted": faces.restricted_portrait, "permitted": faces.clear_portrait, "stranger": faces.stranger}
    assert len({path.read_bytes() for path in people.values()}) == 3
    enc = {who: _encoding(path) for who, path in people.items()}
    for a, b in [("restricted", "permitted"), ("restricted", "stranger"), ("permitted", "stranger")]:
        assert np.linalg.norm(enc[a] - enc[b]) > 0.6, (a, b)
    for who, other in [("restricted", faces.restricted_other), ("permitted", faces.clear_other)]:
        distances = {name: np.linalg.norm(_encoding(other) - e) for name, e in enc.items()}
        assert min(distances, key=distances.get) == who and distances[who] < 0.5, distances


@pytest.mark.faces
def test_ci_fallback_face_set_has_distinct_people(tmp_path):
    """The same check on the fallback set CI uses when ../shared/faces is absent (pointed elsewhere)."""
    env = {**os.environ, "CONSENTGUARD_FACES": str(tmp_path / "no-shared-faces")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_install.py::test_face_set_has_distinct_people"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-3000:]
