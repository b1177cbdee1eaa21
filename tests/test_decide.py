"""Decision stage: table-driven cases of the pure verdict function."""

import pytest

from consentguard.decide import FaceEvidence, RosterContext, decide, worst
from consentguard.match.index import Student
from consentguard.match.names import NameHit
from consentguard.policy import Policy

STUDENTS = {"1": Student("1", "Marcus", "Ellery", True, False), "2": Student("2", "Priya", "Natarajan", False, True)}
CTX = RosterContext(STUDENTS, photo_restricted=1, indexed=1, sync_id=7)
NO_PHOTO_RESTRICTIONS = RosterContext(STUDENTS, photo_restricted=0, indexed=0, sync_id=7)
EMPTY_INDEX = RosterContext(STUDENTS, photo_restricted=1, indexed=0, sync_id=7)
OTHER_SCHOOL = RosterContext(STUDENTS, photo_restricted=1, indexed=1, sync_id=7, school="1202", restricted_here=0)
BIG = (0, 0, 200, 200)
SMALL = (0, 0, 40, 40)
#: the small-face band is off here (its floor at min_face_px): tests/test_bands.py covers it
POLICY = Policy(block_distance=0.47, review_distance=0.6, min_face_px=60, small_face_floor=60)
NAME = NameHit("2", "Priya Natarajan", "caption", "full", "block", 0, 15)
TYPO = NameHit("2", "Priya Natarajn", "caption", "fuzzy", "review", 0, 14, matched="Priya Natarajan")


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
    ([], [TYPO], CTX, None, "review", 'caption names name-restricted Priya Natarajan (#2): "Priya Natarajn" ≈ '
     '"Priya Natarajan" (full name with a typo: at most one letter different in each word: review)'),
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


def crowd(n, width, start=0):
    return [face((start + i * 100, 0, start + i * 100 + width + i % 20, width), d=0.9) for i in range(n)]


def test_many_small_faces_one_summarised_reason():
    """A crowd photo: hundreds of "too small" faces give one reason a person can read, not hundreds."""
    d = decide(crowd(300, 34), [], CTX, POLICY)
    assert d.verdict == "review"
    assert d.reasons == ["300 faces are too small to identify (34-53 px wide, minimum 60 px): "
                         "check the original, full-size photo"]
    assert len(d.faces) == 300 and all("too small" in f.reason for f in d.faces)  # each face keeps its own


def test_summaries_keep_matched_faces_apart():
    """Faces matched to a restricted student keep their own reason (with the distance); the
    quality problems of the rest are summarised once each, in the order they first appear."""
    blurred = [face((i * 300, 500, i * 300 + 200, 700), d=0.9, sharpness=5 + i) for i in range(3)]
    turned = [face((i * 300, 900, i * 300 + 200, 1100), d=0.9, confirmed=False) for i in range(2)]
    unencoded = [face((i * 300, 1300, i * 300 + 200, 1500)) for i in range(4)]
    matched = [face(SMALL, d=0.30), face((50, 0, 90, 40), d=0.5)]
    d = decide(crowd(5, 40, 2000) + blurred + matched + turned + unencoded, [NAME], CTX, POLICY)
    assert d.verdict == "block"
    assert d.reasons == [
        "5 faces are too small to identify (40-44 px wide, minimum 60 px): check the original, full-size photo",
        "3 faces are too blurred to identify (sharpness 5-7, minimum 20): check the photo by eye",
        "face at [0, 0, 40, 40] matches photo-restricted Marcus Ellery (#1): distance 0.30 (block at <= 0.47)",
        "face at [50, 0, 90, 40] resembles photo-restricted Marcus Ellery (#1): distance 0.50 (review at <= 0.60); "
        "it is 40 px wide, too small to identify (minimum 60 px)",
        "2 faces are turned away, partly covered or unclear, so they cannot be identified reliably: "
        "check the photo by eye",
        "4 faces could not be encoded, so they cannot be identified: check the photo by eye",
        "2 faces match photo-restricted Marcus Ellery (#1): at most one can be them; check which",
        'caption names name-restricted Priya Natarajan (#2): "Priya Natarajan" (full name: block)',
    ]


def test_one_face_of_a_kind_keeps_its_own_reason():
    d = decide([face(SMALL, d=0.9), face(d=0.9, sharpness=12)], [], CTX, POLICY)
    assert d.reasons == ["face at [0, 0, 40, 40] is 40 px wide, too small to identify (minimum 60 px)",
                         "face at [0, 0, 200, 200] is too blurred to identify (sharpness 12, minimum 20)"]


PEOPLE = {**STUDENTS, "3": Student("3", "Jordan", "Whitfield", False, False),
          "4": Student("4", "Amelia", "Hartley", True, False)}
#: "1" and "4" are photo-restricted; "4" has no usable portrait; "3" (permitted) is indexed
UNPROTECTED = RosterContext(PEOPLE, photo_restricted=2, indexed=1, sync_id=7, unprotected_here=1)


def sharp_near(*pairs):
    return FaceEvidence(BIG, list(pairs), 500.0, True)


@pytest.mark.parametrize("evidence, verdict, reason", [
    # clearly recognised as permitted Jordan: nobody to doubt
    (sharp_near(("3", 0.35), ("1", 0.80)), "pass", None),
    # nearest is Jordan but not clearly (within block_distance, but the next is within the margin)
    (sharp_near(("3", 0.40), ("1", 0.44 + 0.2)), "pass", None),
    (sharp_near(("3", 0.40), ("9", 0.43)), "review",
     "is not recognised as a permitted student, and 1 photo-restricted student has no usable portrait "
     "(it could be them)"),
    # resembles Jordan only loosely: could be Amelia, whose face is unknown
    (sharp_near(("3", 0.55), ("1", 0.90)), "review", "is not recognised as a permitted student"),
    # matches nobody at all
    (sharp_near(("1", 0.90)), "review", "is not recognised as a permitted student"),
    # a match with restricted Marcus still says so
    (sharp_near(("1", 0.30), ("3", 0.90)), "block", "matches photo-restricted Marcus Ellery (#1)"),
])
def test_unprotected_student_in_scope(evidence, verdict, reason):
    PEOPLE.setdefault("9", Student("9", "Sam", "Lowe", False, False))
    d = decide([evidence], [], UNPROTECTED, POLICY)
    assert d.verdict == verdict, d.reasons
    if reason:
        assert reason in d.reasons[0]
    assert decide([evidence], [], CTX_ALL_PROTECTED, POLICY).verdict == ("block" if verdict == "block" else "pass")


CTX_ALL_PROTECTED = RosterContext(PEOPLE, photo_restricted=2, indexed=2, sync_id=7, unprotected_here=0)


def test_unrecognised_faces_summarised_while_a_student_is_unprotected():
    faces = [FaceEvidence((i * 300, 0, i * 300 + 200, 200), [("3", 0.7)], 500.0, True) for i in range(5)]
    d = decide(faces, [], UNPROTECTED, POLICY)
    assert d.verdict == "review" and len(d.reasons) == 1
    assert d.reasons[0].startswith("5 faces are not recognised as permitted students, and 1 photo-restricted "
                                   "student has no usable portrait")
    assert all(f.kind == "unprotected" for f in d.faces)


def test_small_unrecognised_face_says_it_is_too_small():
    d = decide([FaceEvidence(SMALL, [("3", 0.7)], 500.0, True)], [], UNPROTECTED, POLICY)
    assert d.faces[0].kind == "small" and "too small to identify" in d.reasons[0]


def test_a_face_in_another_view_says_where():
    """A later frame, page or thumbnail: same rules, the reason and the JSON name the view."""
    evidence = FaceEvidence(BIG, [("1", 0.3)], 500.0, True, "frame 3 of 12")
    decision = decide([face(d=0.9), evidence], [], CTX, POLICY)
    assert decision.verdict == "block"
    assert decision.reasons == ["in frame 3 of 12: face at [0, 0, 200, 200] matches photo-restricted Marcus "
                                "Ellery (#1): distance 0.30 (block at <= 0.47)"]
    assert [f.to_json()["view"] for f in decision.faces] == [None, "frame 3 of 12"]
    small = FaceEvidence(SMALL, [("1", 0.9)], 500.0, True, "EXIF thumbnail")
    assert decide([small], [], CTX, POLICY).reasons == [
        "in EXIF thumbnail: face at [0, 0, 40, 40] is 40 px wide, too small to identify (minimum 60 px)"]


def test_one_student_in_two_frames_is_no_contradiction():
    frames = [FaceEvidence(BIG, [("1", 0.3)], 500.0, True, view) for view in ("frame 2 of 3", "frame 3 of 3")]
    decision = decide([face(d=0.3)] + frames, [], CTX, POLICY)
    assert decision.verdict == "block" and not any("at most one" in r for r in decision.reasons)
    twice = [FaceEvidence(BIG, [("1", 0.3)], 500.0, True, "frame 2 of 3")] * 2
    assert "in frame 2 of 3: 2 faces match photo-restricted Marcus Ellery (#1): at most one can be them; " \
           "check which" in decide(twice, [], CTX, POLICY).reasons


def test_unchecked_parts_are_reviews():
    decision = decide([face(d=0.9)], [], CTX, POLICY, unchecked=["x.gif: has 300 frames; 48 ... were checked"])
    assert decision.verdict == "review" and decision.reasons == ["x.gif: has 300 frames; 48 ... were checked"]


def test_ocr_name_in_another_view_says_where():
    hit = NameHit("2", "Priya Natarajan", "ocr", "full", "block", 0, 15, (1, 2, 3, 4), view="page 2 of 3")
    assert decide([], [hit], CTX, POLICY).reasons == [
        'ocr in page 2 of 3 at [1, 2, 3, 4] names name-restricted Priya Natarajan (#2): "Priya Natarajan" '
        "(full name: block)"]
    assert hit.to_json()["view"] == "page 2 of 3"


@pytest.mark.parametrize("rotation,words", [(180, "(upside down)"), (90, "(turned 90° clockwise)"),
                                            (270, "(turned 90° anticlockwise)")])
def test_a_turned_face_says_how_it_lies(rotation, words):
    evidence = FaceEvidence(BIG, [("1", 0.3)], 500.0, True, rotation=rotation)
    d = decide([evidence], [], CTX, POLICY)
    assert d.reasons == [f"face at [0, 0, 200, 200] {words} matches photo-restricted Marcus Ellery (#1): "
                         "distance 0.30 (block at <= 0.47)"]
    assert d.faces[0].to_json()["rotation"] == rotation
    upright = decide([face(d=0.3)], [], CTX, POLICY)
    assert upright.faces[0].to_json()["rotation"] == 0 and "(" not in upright.reasons[0].split(" matches")[0]
