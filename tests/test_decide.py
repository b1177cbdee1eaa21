"""Decision stage: table-driven cases of the pure verdict function."""

import pytest

from consentguard.decide import FaceEvidence, RosterContext, decide, worst
from consentguard.index import Student
from consentguard.names import NameHit
from consentguard.policy import Policy

STUDENTS = {"1": Student("1", "Marcus", "Ellery", True, False), "2": Student("2", "Priya", "Natarajan", False, True)}
CTX = RosterContext(STUDENTS, photo_restricted=1, indexed=1, sync_id=7)
NO_PHOTO_RESTRICTIONS = RosterContext(STUDENTS, photo_restricted=0, indexed=0, sync_id=7)
EMPTY_INDEX = RosterContext(STUDENTS, photo_restricted=1, indexed=0, sync_id=7)
OTHER_SCHOOL = RosterContext(STUDENTS, photo_restricted=1, indexed=1, sync_id=7, school="1202", restricted_here=0)
BIG = (0, 0, 200, 200)
SMALL = (0, 0, 40, 40)
POLICY = Policy(block_distance=0.47, review_distance=0.6, min_face_px=60)
NAME = NameHit("2", "Priya Natarajan", "caption", "full", "block", 0, 15)


def face(box=BIG, d=None, sharpness=500.0, confirmed=True):
    return FaceEvidence(box, None if d is None else ([("1", d)] if d >= 0 else []), sharpness, confirmed)


@pytest.mark.parametrize("faces,names,ctx,error,verdict,reason", [
    ([], [], CTX, None, "pass", None),
    ([face(d=0.30)], [], CTX, None, "block",
     "face at [0, 0, 200, 200] matches photo-restricted Marcus Ellery (#1): distance 0.30 (block at <= 0.47)"),
    ([face(d=0.47)], [], CTX, None, "block", None),
    ([face(d=0.5)], [], CTX, None, "review",
     "face at [0, 0, 200, 200] resembles photo-restricted Marcus Ellery (#1): distance 0.50 (review at <= 0.60)"),
    ([face(d=0.60)], [], CTX, None, "review", None),
    ([face(d=0.61)], [], CTX, None, "pass", None),
    ([face(d=-1)], [], CTX, None, "pass", None),  # nobody indexed near
    ([face(SMALL, d=0.9)], [], CTX, None, "review",
     "face at [0, 0, 40, 40] is 40 px wide, too small to identify (minimum 60 px)"),
    ([face(SMALL, d=0.3)], [], CTX, None, "block", "face at [0, 0, 40, 40] matches photo-restricted"),
    ([face(SMALL, d=0.5)], [], CTX, None, "review",
     "face at [0, 0, 40, 40] resembles photo-restricted Marcus Ellery (#1): distance 0.50 (review at <= 0.60); "
     "it is 40 px wide, too small to identify (minimum 60 px)"),
    ([face(SMALL, d=0.9)], [], NO_PHOTO_RESTRICTIONS, None, "pass", None),
    # a school without photo-restricted students: a face too small to judge passes, a match still blocks
    ([face(SMALL, d=0.9)], [], OTHER_SCHOOL, None, "pass", None),
    ([face(SMALL, d=None)], [], OTHER_SCHOOL, None, "pass", None),
    ([face(SMALL, d=0.3)], [], OTHER_SCHOOL, None, "block", "matches photo-restricted Marcus Ellery"),
    ([face(d=0.9, confirmed=False)], [], CTX, None, "review",
     "face at [0, 0, 200, 200] is turned away, partly covered or unclear, so it cannot be identified reliably"),
    ([face(d=0.3, confirmed=False)], [], CTX, None, "block", None),
    ([face(d=0.9, confirmed=False)], [], OTHER_SCHOOL, None, "pass", None),
    ([face(SMALL, d=0.9, confirmed=False)], [], CTX, None, "review", "40 px wide, too small"),
    ([face(d=0.9, sharpness=12)], [], CTX, None, "review",
     "face at [0, 0, 200, 200] is too blurred to identify (sharpness 12, minimum 20)"),
    ([face(d=0.3, sharpness=12)], [], CTX, None, "block", None),
    ([face(d=0.9, sharpness=25)], [], CTX, None, "pass", None),
    ([face(d=None)], [], CTX, None, "review", "face at [0, 0, 200, 200] could not be encoded"),
    ([face(d=0.9)], [], EMPTY_INDEX, None, "review",
     "face at [0, 0, 200, 200] cannot be matched: none of the 1 photo-restricted students has a usable portrait"),
    ([], [NAME], CTX, None, "block", 'caption names name-restricted Priya Natarajan (#2): "Priya Natarajan"'),
    ([face(d=0.8), face(d=0.5), face(d=0.3)], [], CTX, None, "block", None),
    ([], [], CTX, "x.jpg: empty file (0 bytes)", "error", "x.jpg: empty file (0 bytes)"),
    ([], [NAME], CTX, "x.jpg: empty file (0 bytes)", "block", "x.jpg: empty file (0 bytes)"),
])
def test_decide(faces, names, ctx, error, verdict, reason):
    decision = decide(faces, names, ctx, POLICY, error)
    assert decision.verdict == verdict
    if reason:
        assert any(reason in r for r in decision.reasons), decision.reasons
    if verdict == "pass":
        assert decision.reasons == []


def test_face_results_name_the_student_only_when_flagged():
    d = decide([face(d=0.3), face(d=0.8)], [], CTX, POLICY)
    assert [(f.verdict, f.student_number) for f in d.faces] == [("block", "1"), ("pass", None)]
    assert d.faces[1].distance == 0.8
    assert d.student_numbers == ["1"]


@pytest.mark.parametrize("verdicts,expected", [
    ([], "pass"), (["pass", "review"], "review"), (["review", "error"], "error"), (["error", "block"], "block"),
])
def test_worst(verdicts, expected):
    assert worst(verdicts) == expected


def test_policy_rejects_inverted_bands():
    with pytest.raises(ValueError):
        Policy(block_distance=0.7, review_distance=0.6)


# With permitted students in the index (index policy "all"): margin rules.
PERMITTED = dict(STUDENTS, P=Student("P", "Jordan", "Whitfield", False, False),
                 R2=Student("R2", "Fatima", "Al-Sayed", True, True))
ALL_CTX = RosterContext(PERMITTED, photo_restricted=2, indexed=2, sync_id=7)


def near(*pairs):
    return FaceEvidence(BIG, sorted(pairs, key=lambda p: p[1]))


@pytest.mark.parametrize("pairs,verdict,reason", [
    ([("1", 0.30), ("P", 0.60)], "block", "matches photo-restricted Marcus Ellery (#1)"),
    ([("1", 0.30), ("P", 0.33)], "review", "but nearly as well permitted Jordan Whitfield (#P) (0.33): ambiguous"),
    ([("P", 0.28), ("1", 0.31)], "review", "ambiguous"),
    ([("P", 0.40), ("1", 0.52)], "pass", None),   # clearly the permitted student
    ([("P", 0.50), ("1", 0.52)], "review", "resembles photo-restricted Marcus Ellery (#1)"),
    ([("1", 0.52), ("P", 0.55)], "review", "resembles"),
    ([("P", 0.30)], "pass", None),
    ([("1", 0.30), ("R2", 0.31)], "block", "Marcus Ellery"),  # two restricted: restricted either way
])
def test_margin_rules(pairs, verdict, reason):
    d = decide([near(*pairs)], [], ALL_CTX, POLICY)
    assert d.verdict == verdict
    if reason:
        assert reason in d.reasons[0]
    else:
        assert d.reasons == []


def test_two_faces_matching_one_student():
    d = decide([face(d=0.30), face((300, 0, 500, 200), d=0.55)], [], CTX, POLICY)
    assert [f.verdict for f in d.faces] == ["block", "review"]
    assert "2 faces match photo-restricted Marcus Ellery (#1): at most one can be them; check which" in d.reasons
    assert d.verdict == "block"


OPT_IN = RosterContext(STUDENTS, photo_restricted=1, indexed=1, sync_id=7, unknown_face="review")


@pytest.mark.parametrize("ctx,d,verdict", [
    (CTX, 0.9, "pass"), (OPT_IN, 0.9, "review"), (OPT_IN, 0.3, "block"), (OPT_IN, -1, "review"),
])
def test_unknown_faces_by_district_policy(ctx, d, verdict):
    result = decide([face(d=d)], [], ctx, POLICY)
    assert result.verdict == verdict
    if verdict == "review":
        assert "matches no student with a portrait on file" in result.reasons[0]


@pytest.mark.parametrize("rotation,words", [(180, "(upside down)"), (90, "(turned 90° clockwise)"),
                                            (270, "(turned 90° anticlockwise)")])
def test_a_turned_face_says_how_it_lies(rotation, words):
    evidence = FaceEvidence(BIG, [("1", 0.3)], 500.0, True, rotation)
    d = decide([evidence], [], CTX, POLICY)
    assert d.reasons == [f"face at [0, 0, 200, 200] {words} matches photo-restricted Marcus Ellery (#1): "
                         "distance 0.30 (block at <= 0.47)"]
    assert d.faces[0].to_json()["rotation"] == rotation
    upright = decide([face(d=0.3)], [], CTX, POLICY)
    assert upright.faces[0].to_json()["rotation"] == 0 and "(" not in upright.reasons[0].split(" matches")[0]
