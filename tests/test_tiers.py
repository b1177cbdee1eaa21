"""The test tiers' markers are enforced (tests/conftest.py): a test that loads the face models
without ``faces``, starts Chromium without ``browser``, or in the fast tier takes too long without
``slow`` fails with one line saying which marker to add. Run on small test files with this
conftest, in a pytest subprocess (the models are never loaded: the guard stops the test first)."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # two pytest runs in subprocesses

UNMARKED = '''
import time

import pytest


def test_loads_models():
    from consentguard.inspect.faces import face_models
    face_models()


def test_starts_chromium():
    from selenium.webdriver.chrome.webdriver import WebDriver
    WebDriver()


def test_swallows_the_failure():
    from consentguard.models import face_models
    try:
        face_models()
    except BaseException:
        pass


def test_sleeps():
    time.sleep(1.5)


@pytest.mark.slow
def test_sleeps_marked():
    time.sleep(1.5)


def test_quick():
    pass
'''


def run_tier(tmp_path, *args):
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_unmarked.py").write_text(UNMARKED)
    env = {**os.environ, "CONSENTGUARD_SLOW_SECONDS": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *args,
                           "test_unmarked.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout


def test_unmarked_model_browser_and_slow_tests_fail_saying_which_marker(tmp_path):
    code, out = run_tier(tmp_path, "--fast")
    assert code == 1, out
    assert "test_unmarked.py::test_loads_models loads the dlib/CenterFace face models: " \
           "add @pytest.mark.faces" in out
    assert "test_unmarked.py::test_starts_chromium starts Chromium: add @pytest.mark.browser" in out
    assert "test_unmarked.py::test_swallows_the_failure loads the dlib/CenterFace face models" in out
    assert "test_unmarked.py::test_sleeps took 1.5 s in call (over 1 s in the fast tier): " \
           "add @pytest.mark.slow" in out
    assert "4 failed, 1 passed, 1 deselected" in out  # test_sleeps_marked is not in the fast tier


def test_the_full_run_checks_markers_but_not_time(tmp_path):
    code, out = run_tier(tmp_path)
    assert code == 1, out
    assert "3 failed, 3 passed" in out and "took" not in out
