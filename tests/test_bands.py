"""The small-face band (issue #12): a face narrower than min_face_px but at least small_face_floor
passes only when clearly recognised as a permitted student under the band's stricter thresholds,
with no photo-restricted student near; below the floor a face never passes. Table tests of the pure
decision, with the thresholds spelled out so that a recalibration does not silently change them."""

import pytest

from consentguard.decide import FaceEvidence, RosterContext, decide, small_face_cleared
from consentguard.match.index import Student
from consentguard.policy import Policy

STUDENTS = {"1": Student("1", "Marcus", "Ellery", True, False),   # photo-restricted
            "3": Student("3", "Jordan", "Whitfield", False, False),
            "5": Student("5", "Ana", "Ruiz", False, False)}
CTX = RosterContext(STUDENTS, photo_restricted=1, indexed=1, sync_id=7)
NO_RESTRICTED = RosterContext({k: v for k, v in STUDENTS.items() if k != "1"}, photo_restricted=0, indexed=0,
                              sync_id=7)
POLICY = Policy(block_distance=0.50, review_distance=0.63, min_face_px=60, small_face_floor=40,
                small_recognise_distance=0.40, small_recognise_margin=0.12, small_review_distance=0.70)


def face(width, *nearest, sharpness=300.0, confirmed=True):
    return FaceEvidence((100, 100, 100 + width, 100 + width), sorted(nearest, key=lambda p: p[1]),
                        sharpness, confirmed)


@pytest.mark.parametrize("evidence, verdict, reason", [
    # a 45 px face recognised as permitted Jordan, Marcus far: passes, and its own reason says why
    (face(45, ("3", 0.33), ("5", 0.62), ("1", 0.85)), "pass", None),
    (face(40, ("3", 0.40), ("5", 0.52), ("1", 0.71)), "pass", None),  # at each limit
    (face(59, ("3", 0.30), ("1", 0.80)), "pass", None),
    # nearest a restricted student: never passes (matched as usual)
    (face(45, ("1", 0.33), ("3", 0.62)), "block", "matches photo-restricted Marcus Ellery (#1): distance 0.33"),
    (face(45, ("1", 0.55), ("3", 0.80)), "review", "resembles photo-restricted Marcus Ellery (#1): distance 0.55"),
    # recognised as Jordan, but Marcus within the band's review distance (0.70; the full-size one is 0.63)
    (face(45, ("3", 0.30), ("1", 0.66)), "review", "is 45 px wide, too small to identify (minimum 60 px) and not "
                                                    "clearly recognised as a permitted student (from 40 px, only "
                                                    "that lets a face pass)"),
    # not close enough to Jordan for a small face (a full-size face would pass)
    (face(45, ("3", 0.42), ("1", 0.90)), "review", "too small to identify"),
    # Jordan and Ana both near: not clearly either
    (face(45, ("3", 0.30), ("5", 0.41), ("1", 0.90)), "review", "too small to identify"),
    # nobody near at all
    (face(45, ("1", 0.90)), "review", "too small to identify"),
    (face(45), "review", "too small to identify"),
    # below the floor: never passes, however clear the match
    (face(39, ("3", 0.20), ("1", 0.95)), "review",
     "is 39 px wide, too small to identify (minimum 60 px)"),
    (face(24, ("3", 0.10)), "review", "too small to identify"),
    # the band lifts the size rule only: a blurred or unconfirmed small face still never passes
    (face(45, ("3", 0.30), ("1", 0.90), sharpness=12), "review", "too blurred to identify"),
    (face(45, ("3", 0.30), ("1", 0.90), confirmed=False), "review", "turned away, partly covered or unclear"),
])
def test_small_face_band(evidence, verdict, reason):
    d = decide([evidence], [], CTX, POLICY)
    assert d.verdict == verdict, d.reasons
    if reason:
        assert any(reason in r for r in d.reasons), d.reasons
    else:
        assert d.reasons == []


def test_a_small_face_that_passes_says_who_and_why():
    d = decide([face(45, ("3", 0.33), ("1", 0.85))], [], CTX, POLICY)
    assert d.faces[0].reason == (
        "face at [100, 100, 145, 145] is 45 px wide and recognised as permitted Jordan Whitfield (#3): distance "
        "0.33 (a face under 60 px passes within 0.40, nearer than anyone else by 0.12, with no photo-restricted "
        "student within 0.70)")
    assert small_face_cleared(face(45, ("3", 0.33), ("1", 0.85)), CTX, POLICY) == "3"


def test_the_band_can_be_turned_off():
    off = Policy(small_face_floor=60, min_face_px=60)
    assert decide([face(45, ("3", 0.20), ("1", 0.95))], [], CTX, off).verdict == "review"


def test_with_restricted_students_alone_indexed_a_small_face_never_passes():
    """--index restricted: no permitted student can be recognised, so the band clears nobody."""
    assert decide([face(50, ("1", 0.95))], [], CTX, POLICY).verdict == "review"


def test_without_photo_restricted_students_small_faces_pass_as_before():
    assert decide([face(30, ("3", 0.9))], [], NO_RESTRICTED, POLICY).verdict == "pass"


@pytest.mark.faces
def test_real_small_faces_through_the_product(tmp_path, faces):
    """Real photos shrunk into a scene, everyone indexed (the default): the permitted student's
    small face passes as them, the restricted student's blocks, a face under the floor never passes."""
    import shutil

    from consentguard import open_db, sync_roster
    from consentguard.runners.check import Checker

    from conftest import C, R, student, write_export
    from helpers.photos import distant

    (tmp_path / "p").mkdir()
    shutil.copy(faces.restricted_portrait, tmp_path / "p" / f"{R}.jpg")
    shutil.copy(faces.clear_portrait, tmp_path / "p" / f"{C}.jpg")
    export = write_export(tmp_path / "e.csv", [student(R, "Marcus", "Ellery", photo="Y"),
                                               student(C, "Jordan", "Whitfield")])
    db = open_db(tmp_path / "cg.db")
    sync_roster(db, export, tmp_path / "p")
    checker = Checker(db)
    small = checker.check_path(distant(faces.clear_other, 38, tmp_path, "c38.jpg"))
    width = small.decision.faces[0].box[2] - small.decision.faces[0].box[0]
    assert Policy().small_face_floor <= width < Policy().min_face_px
    assert small.verdict == "pass", small.decision.faces[0].reason
    assert "recognised as permitted Jordan Whitfield (#900002)" in small.decision.faces[0].reason
    restricted = checker.check_path(distant(faces.restricted_other, 38, tmp_path, "r38.jpg"))
    assert restricted.verdict == "block" and "Marcus Ellery" in restricted.reasons[0]
    tiny = checker.check_path(distant(faces.clear_other, 26, tmp_path, "c26.jpg"))
    assert tiny.verdict == "review" and "too small to identify" in tiny.reasons[0]


# Run in its own process from scripts/ (test modules never import scripts/: tests/test_suite_layout.py).
CALIBRATION_CHECK = """
import numpy as np

import calibrate
from consentguard.decide import FaceEvidence, judge_face
from consentguard.match.index import FaceIndex
from consentguard.policy import Policy


def probe_rows(data, people, roster):
    # the rows calibrate.probes judges, in its order (each person's photos after the first)
    return [row for p in people for i, row in enumerate(np.flatnonzero(data["names"] == p)) if i >= 1]


rng = np.random.default_rng(5)
people = [f"p{i:02d}" for i in range(40)]
centres = {p: rng.normal(size=128) * 0.045 for p in people}  # people ~0.7 apart, photos ~0.4 from centre
names = np.array([p for p in people for _ in range(4)])
data = {"names": names, "done": np.ones(len(names), bool)}
for size in ("full",) + calibrate.WIDTHS:
    data[f"enc_{size}"] = np.array([centres[p] + rng.normal(size=128) * 0.025 for p in names])
    data[f"width_{size}"] = np.full(len(names), 100 if size == "full" else size)
    data[f"confirmed_{size}"] = np.ones(len(names), bool)
    data[f"sharp_{size}"] = np.full(len(names), 300.0)
policy = Policy()
checked = 0
for index in ("all", "restricted"):
    for size in ("full", 40):
        for roster, probes in calibrate.simulate(data, people, 2, 0.3, 0.2, 1, index, size, seed=4):
            full = FaceIndex(roster.gallery, list(roster.owners), roster.students)
            for (kind, face), row in zip(probes, probe_rows(data, people, roster)):
                whole = FaceEvidence(face.box, full.nearest(data[f"enc_{size}"][row]), face.sharpness)
                assert judge_face(face, roster.context, policy).verdict == \\
                    judge_face(whole, roster.context, policy).verdict, (index, size, row)
                checked += 1
assert checked > 400, checked
verdicts = calibrate.rates(calibrate.simulate(data, people, 2, 0.3, 0.2, 1, "all"), policy)
assert verdicts["restricted"]["flagged"] > 0.9 and verdicts["permitted"]["pass"] > 0.5, verdicts
print("checked", checked)
"""


@pytest.mark.slow
def test_calibration_judges_with_the_product_rules():
    """scripts/calibrate.py cuts each face's nearest list to what the rules read (the two nearest
    students, the nearest restricted and permitted one): every verdict must equal judge_face's with
    the full list FaceIndex.nearest gives, for both index policies and small faces too."""
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run([sys.executable, "-c", CALIBRATION_CHECK], cwd=ROOT / "scripts",
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("checked ")
