"""Shared fixtures: real SQLite files, real face photos, real exports; and the test tiers.

Face photos come from ``../shared/faces`` (or ``$CONSENTGUARD_FACES``). On a
machine without it, the face tests use the photos in face_recognition's PyPI
sdist (fetched and cached by scripts/fetch_test_photos.py) instead of skipping.

Tiers (see docs/development.md): ``pytest --fast`` (``scripts/test --fast``) runs every test not
marked ``faces`` (loads the dlib/CenterFace models), ``browser`` (drives Chromium) or ``slow``.
The markers are enforced, not a convention: a test that loads the face models without ``faces``
or starts Chromium without ``browser`` fails in every run, and in the fast tier a test whose
setup or body takes longer than ``SLOW_SECONDS`` fails, each with a line saying which marker to add.
"""

from __future__ import annotations

import csv
import functools
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
SHARED_FACES = Path(os.environ.get("CONSENTGUARD_FACES", ROOT.parent / "shared" / "faces"))
PYPI_FACES = ROOT / ".cache" / "pypi_faces"

FAST_TIER = "not faces and not browser and not slow"
# A fast-tier test may take this long (setup, or its body) before it must be marked slow. Generous:
# the machines running the tests are shared; $CONSENTGUARD_SLOW_SECONDS overrides it.
SLOW_SECONDS = float(os.environ.get("CONSENTGUARD_SLOW_SECONDS", "2.5"))

HEADER = ["Student_Number", "First_Name", "Middle_Name", "Last_Name", "Grade_Level", "SchoolID",
          "Enroll_Status", "Media_Opt_Out", "Photo_Opt_Out", "Name_Opt_Out"]


def write_export(path: Path, rows: list[dict], header: list[str] = HEADER, encoding="utf-8",
                 delimiter=",", lineterminator="\r\n") -> Path:
    """Write a PowerSchool-style export; missing cells are blank."""
    with open(path, "w", newline="", encoding=encoding) as f:
        writer = csv.writer(f, delimiter=delimiter, lineterminator=lineterminator)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, "") for h in header])
    return path


def student(number, first, last, media="", photo="", name="", **extra) -> dict:
    return {"Student_Number": number, "First_Name": first, "Last_Name": last,
            "Media_Opt_Out": media, "Photo_Opt_Out": photo, "Name_Opt_Out": name,
            "Grade_Level": "6", "SchoolID": "1201", "Enroll_Status": "0", **extra}


@dataclass
class FaceSet:
    """Real photos with known people, whichever source is available."""

    source: str
    restricted_portrait: Path  # person R's enrolment photo
    clear_portrait: Path       # person C's enrolment photo
    restricted_other: Path     # another photo of R
    clear_other: Path          # another photo of C
    stranger: Path             # someone else entirely
    group: Path                # R and C (and maybe others) together
    restricted_x: tuple[int, int]  # x range of R's face centre in the group photo
    partial: Path              # R's face cut by the image edge


def _pypi_faces() -> Path:
    if not (PYPI_FACES / "astronaut.png").is_file():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_test_photos.py"), str(PYPI_FACES)],
                       check=True)
    return PYPI_FACES


@pytest.fixture(scope="session")
def faces(tmp_path_factory) -> FaceSet:
    s = SHARED_FACES
    if (s / "people" / "obama").is_dir() and (s / "groups" / "fr-obama_and_biden.jpg").is_file():
        return FaceSet("shared", s / "people/obama/obama.jpg", s / "people/biden/biden.jpg",
                       s / "people/obama/obama1.jpg", s / "people/biden/biden2.jpg",
                       s / "lfw/Jean_Charest/Jean_Charest_0002.jpg",
                       s / "groups/fr-obama_and_biden.jpg", (1100, 1380),
                       s / "odd/obama_partial_face.jpg")
    p = _pypi_faces()
    work = tmp_path_factory.mktemp("pypi_group")
    # No group photo in the sdist: put R (obama2) and C (biden) side by side.
    left = ImageOps.exif_transpose(Image.open(p / "obama2.jpg")).convert("RGB")
    right = ImageOps.exif_transpose(Image.open(p / "biden.jpg")).convert("RGB")
    right.thumbnail((left.width * 2, left.height))
    group = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    group.paste(left, (0, 0))
    group.paste(right, (left.width, 0))
    group.save(work / "group.jpg", quality=92)
    mirrored = ImageOps.mirror(right)
    mirrored.save(work / "biden_mirrored.jpg", quality=92)
    return FaceSet("pypi", p / "obama.jpg", p / "biden.jpg", p / "obama2.jpg",
                   work / "biden_mirrored.jpg", p / "astronaut.png", work / "group.jpg",
                   (0, left.width), p / "obama_partial_face.jpg")


R, C, N = "900001", "900002", "900003"  # restricted face, clear face, restricted name


@pytest.fixture(scope="session")
def face_roster(tmp_path_factory, faces) -> Path:
    """A real database synced from an export with R photo-restricted, C clear, N name-restricted;
    indexed with the privacy option (only R's portrait encoded), as the tests using it expect."""
    from consentguard import open_db, sync_roster

    work = tmp_path_factory.mktemp("face_roster")
    portraits = work / "portraits"
    portraits.mkdir()
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.clear_portrait, portraits / f"{C}.jpg")
    export = write_export(work / "export.csv", [
        student(R, "Marcus", "Ellery", photo="Y"),
        student(C, "Jordan", "Whitfield"),
        student(N, "Priya", "Natarajan", name="Yes"),
        student("900004", "Amelia", "Hartley"),
    ])
    db_path = work / "cg.db"
    report = sync_roster(open_db(db_path), export, portraits, index_policy="restricted")
    assert report.portraits_encoded == 1, report.problems
    return db_path


@pytest.fixture(scope="module")
def checker(face_roster):
    """A checker on the face roster that records nothing (a test module may define its own)."""
    from consentguard import Checker, open_db

    return Checker(open_db(face_roster), record=False)


@pytest.fixture(scope="module")
def restricted_card(faces):
    """A video frame showing the photo-restricted student R (tests/helpers/videos.py face_card)."""
    from helpers.videos import face_card

    return face_card(faces.restricted_other)


def scan_twice(face_roster: Path, root: Path, tmp_path: Path) -> tuple:
    """Scan ``root`` twice against a copy of the face roster (the second from the cache): the second
    scan and each scan's result documents by file name."""
    import shutil

    from consentguard import open_db
    from consentguard.runners.scan import run_scan

    db_path = tmp_path / "cg.db"
    shutil.copy(face_roster, db_path)
    db = open_db(db_path)
    docs = []
    for _ in range(2):
        scan = run_scan(db, str(db_path), root, workers=1)
        docs.append({r.doc["path"].rsplit("/", 1)[-1]: r.doc for r in scan.results})
    return scan, docs


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "consentguard.db"


@pytest.fixture(scope="module")
def db_file(face_roster, tmp_path_factory):
    """A module's own copy of the face roster (the web tests write checks into it)."""
    path = tmp_path_factory.mktemp("web") / "cg.db"
    shutil.copy(face_roster, path)
    return path


@pytest.fixture(scope="module")
def pool(db_file):
    """One real worker process for the web app, as ``consentguard serve`` starts it."""
    from consentguard import Policy
    from consentguard.runners.workers import init_worker as _init_worker

    executor = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                   initargs=(str(db_file), Policy()))
    yield executor
    executor.shutdown()


@pytest.fixture(scope="module")
def drop(faces, tmp_path_factory):
    """A clear photo of the restricted student R, and a wide shot made from it where R's face is
    28 px wide: matched at about 0.52 (only 'review' on its own), yet within about 0.38 of the
    clear face."""
    from helpers.photos import distant

    source = next(p for p in (faces.restricted_portrait.parent / "obama2.jpg", faces.restricted_other) if p.is_file())
    small = distant(source, 28, tmp_path_factory.mktemp("drop"), "wide.jpg")
    return source, small


@pytest.fixture(scope="module")
def real_faces(faces):
    """Two real faces: R (photo-restricted) in another photo than the portrait, and a stranger."""
    from consentguard.inspect.image import sha256_bytes

    from helpers.photos import face_of

    found = {}
    for key, path in (("r", faces.restricted_other), ("s", faces.stranger)):
        rgb, face = face_of(path)
        found[key] = (str(path), sha256_bytes(path.read_bytes()), face, rgb)
    return found


# ---- the tiers: markers enforced --------------------------------------------------------------

_RUNNING: list = [None]  # the test item whose setup or body is running, if any
_BROKEN = pytest.StashKey[list]()
_WAITED = pytest.StashKey[dict]()  # seconds the test process waited for a CPU, per phase


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true",
                     help="the fast tier: leave out tests marked faces, browser or slow; "
                          f"a test over {SLOW_SECONDS:g} s fails unless marked slow")


def pytest_configure(config):
    if config.getoption("--fast"):
        given = config.option.markexpr
        config.option.markexpr = f"({given}) and {FAST_TIER}" if given else FAST_TIER
    _guard_face_models()
    _guard_chromium()


def _must_be_marked(marker: str, what: str) -> None:
    """Fail the running test (and remember it, should the code swallow the failure) unless it
    carries ``marker``."""
    item = _RUNNING[0]
    if item is None or item.get_closest_marker(marker) is not None:
        return
    message = f"{item.nodeid} {what}: add @pytest.mark.{marker}"
    item.stash.setdefault(_BROKEN, []).append(message)
    pytest.fail(message, pytrace=False)


def _guard_face_models() -> None:
    """Wrap consentguard.models.face_models (and every module's imported name of it) so that an
    unmarked test loading the models fails, however early or late in the run."""
    import consentguard.models as models

    original = getattr(models.face_models, "__wrapped_by_conftest__", models.face_models)

    @functools.wraps(original)
    def face_models():
        _must_be_marked("faces", "loads the dlib/CenterFace face models")
        return original()

    face_models.__wrapped_by_conftest__ = original
    face_models.cache_clear = original.cache_clear
    face_models.cache_info = original.cache_info
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("consentguard") and \
                getattr(module, "face_models", None) is original:
            module.face_models = face_models
    models.face_models = face_models


def _guard_chromium() -> None:
    """Wrap Selenium's Chrome driver so that an unmarked test starting Chromium fails."""
    try:
        from selenium.webdriver.chrome.webdriver import WebDriver
    except ImportError:  # the browser tests fail on their own, saying what to install
        return
    original = WebDriver.__init__

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        _must_be_marked("browser", "starts Chromium")
        original(self, *args, **kwargs)

    WebDriver.__init__ = __init__


def _cpu_wait() -> float:
    """Seconds this process has waited for a CPU so far (Linux's schedstat; 0 elsewhere): on a
    machine shared with other work, that wait is not the test's own slowness."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _running(item, phase: str):
    """Mark ``item`` as running (for the guards) and note how long its process waited for a CPU."""
    _RUNNING[0] = item
    start = _cpu_wait()
    try:
        return (yield)
    finally:
        _RUNNING[0] = None
        item.stash.setdefault(_WAITED, {})[phase] = _cpu_wait() - start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _running(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _running(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Turn a passing report into a failure when the test broke a tier rule: loaded what its
    markers do not allow (caught even if the code under test swallowed the failure), or, in the
    fast tier, took longer than SLOW_SECONDS (not counting time spent waiting for a busy CPU)."""
    report = yield
    if call.when == "teardown" or not report.passed:
        return report
    problems = item.stash.get(_BROKEN, [])
    item.stash[_BROKEN] = []  # reported once
    fast = item.config.getoption("--fast")
    unmarked = not any(item.get_closest_marker(m) for m in ("faces", "browser", "slow"))
    took = call.duration - item.stash.get(_WAITED, {}).get(call.when, 0.0)
    if fast and unmarked and took > SLOW_SECONDS:
        problems.append(f"{item.nodeid} took {took:.1f} s in {call.when} (over {SLOW_SECONDS:g} s "
                        "in the fast tier): add @pytest.mark.slow, or make it faster")
    if problems:
        report.outcome = "failed"
        report.longrepr = "\n".join(dict.fromkeys(problems))
    return report


def portrait_folder(faces, folder: Path, held: bool = False) -> Path:
    """A folder of SIS portraits: R's and C's (and, ``held``, a third person's as student 900009)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(faces.restricted_portrait, folder / f"{R}.jpg")
    shutil.copy(faces.clear_portrait, folder / f"{C}.jpg")
    if held:
        shutil.copy(faces.stranger, folder / "900009.jpg")
    return folder


def marcus_restricted_later(faces, tmp_path):
    """A school where Marcus (R) is permitted today and photo-restricted by the next sync: (database
    path, the function that runs that sync). Someone (900009) is photo-restricted from the start, so
    faces are judged for restricted students from the first check."""
    from consentguard import open_db, sync_roster

    portraits = portrait_folder(faces, tmp_path / "portraits", held=True)
    db = tmp_path / "cg.db"
    held = student("900009", "Ines", "Marlow", photo="Y")

    def sync(marcus: str, tag: str) -> None:
        rows = [student(R, "Marcus", "Ellery", photo=marcus), student(C, "Jordan", "Whitfield"), held]
        sync_roster(open_db(db), write_export(tmp_path / f"e{tag}.csv", rows), portraits, index_policy="restricted")

    sync("", "1")
    return db, lambda: sync("Y", "2")
