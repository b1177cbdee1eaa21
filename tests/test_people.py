"""People across a batch (issue #12): faces of one person grouped over the photos checked together,
judged once, and one review item per decision left to staff.

Real LFW faces encoded by consentguard.inspect.faces (the ``faces`` fixture's shared set); the pairs and
distances quoted were measured with scripts/calibrate_groups.py."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from consentguard.decide import BLOCK, PASS, REVIEW, FaceEvidence, RosterContext, decide, judge_decided, judge_person
from consentguard.match.index import FaceIndex, Student
from consentguard.match.names import NameHit
from consentguard.people import PhotoEvidence, decide_batch, group_faces
from consentguard.policy import Policy
from consentguard.review import FaceDecision

from conftest import SHARED_FACES

pytestmark = pytest.mark.faces
LFW = SHARED_FACES / "lfw"
POLICY = Policy()
R, Y, K, W = "800001", "800002", "800003", "800004"  # restricted Kurt Warner; permitted Gerry Adams, Kim, Wu
STUDENTS = {R: Student(R, "Kurt", "Warner", True, False), Y: Student(Y, "Gerry", "Adams", False, False),
            K: Student(K, "Kim", "Jong-Il", False, False), W: Student(W, "Wu", "Yi", False, False)}
CTX = RosterContext(STUDENTS, photo_restricted=1, indexed=1, sync_id=1)
SMALL_PX = 40


@pytest.fixture(scope="module", autouse=True)
def _lfw(faces):
    if not LFW.is_dir():
        pytest.skip("needs ../shared/faces/lfw")


@lru_cache(maxsize=None)
def _encode(name: str, small: bool) -> tuple[np.ndarray, float]:
    """The central face of an LFW photo, encoded as it is or shrunk to a 40 px face (a wide shot)."""
    from consentguard.inspect.faces import Face, detect_faces, encode_face, sharpness
    from consentguard.inspect.image import load_image

    rgb = load_image(LFW / name.rsplit("_", 1)[0] / f"{name}.jpg").rgb
    h, w = rgb.shape[:2]
    face = min(detect_faces(rgb), key=lambda f: abs((f.box[0] + f.box[2]) / 2 - w / 2) + abs((f.box[1] + f.box[3]) / 2 - h / 2))
    if not small:
        return encode_face(rgb, face), sharpness(rgb, face.box)
    scale = SMALL_PX / face.width
    shrunk = np.asarray(Image.fromarray(rgb).resize((round(w * scale), round(h * scale)), Image.LANCZOS))
    box = tuple(round(c * scale) for c in face.box)
    return encode_face(shrunk, Face(box)), sharpness(shrunk, box)


@lru_cache(maxsize=None)
def index() -> FaceIndex:
    """Everyone indexed: each student's first LFW photo is their portrait."""
    portraits = {R: "Kurt_Warner_0001", Y: "Gerry_Adams_0001", K: "Kim_Jong-Il_0001", W: "Wu_Yi_0001"}
    return FaceIndex(np.array([_encode(p, False)[0] for p in portraits.values()]), list(portraits), STUDENTS)


def face(name: str, small: bool = False, at: int = 0, decided=()) -> FaceEvidence:
    encoding, sharp = _encode(name, small)
    width = SMALL_PX if small else 110
    return FaceEvidence((at, 50, at + width, 50 + width), index().nearest(encoding), sharp, encoding=encoding,
                        decided=list(decided))


def photo(path: str, *faces: FaceEvidence, **kw) -> PhotoEvidence:
    return PhotoEvidence(path, f"sha-{path}", list(faces), **kw)


def labels(decisions):
    return [[f.person for f in d.faces] for d in decisions]


# --- grouping -----------------------------------------------------------------------------------

def test_same_person_across_photos_is_one_person():
    batch = [photo(f"IMG_{i}.jpg", face(f"Gerry_Adams_000{i}")) for i in (2, 3, 4, 5)]
    batch.append(photo("IMG_9.jpg", face("Kurt_Warner_0003")))
    decisions, _ = decide_batch(batch, CTX, POLICY)
    people = [d.faces[0].person for d in decisions]
    assert len(set(people[:4])) == 1 and people[4] != people[0]
    assert decisions[0].faces[0].to_json()["person"] == people[0]


def test_closest_look_alikes_in_lfw_kept_apart():
    """Kim Jong-Il 0004 and Wu Yi 0003 are the closest different-person pair in LFW (0.36, nearer
    than many same-person pairs): with their other photos in the batch, complete linkage keeps them apart."""
    kim = [f"Kim_Jong-Il_000{i}" for i in (1, 2, 3, 4)]
    wu = [f"Wu_Yi_000{i}" for i in (1, 2, 3)]
    encodings = [_encode(n, False)[0] for n in kim + wu]
    assert np.linalg.norm(encodings[3] - encodings[6]) < 0.37
    person = group_faces(list(range(7)), encodings, [True] * 7, POLICY)
    assert len(set(person[:4])) == 1 and len(set(person[4:])) == 1 and person[0] != person[4]


def test_chain_does_not_merge_strangers():
    """Kim 0003 ~ Kim 0002 (0.30) ~ Wu 0001 (0.42), but Kim 0003 - Wu 0001 is 0.52: single linkage would make
    one person of them; complete linkage keeps Wu apart."""
    names = ["Kim_Jong-Il_0003", "Kim_Jong-Il_0002", "Wu_Yi_0001"]
    a, b, c = (_encode(n, False)[0] for n in names)
    assert np.linalg.norm(a - b) <= POLICY.group_distance and np.linalg.norm(b - c) <= POLICY.group_distance
    assert np.linalg.norm(a - c) > POLICY.group_distance
    person = group_faces([1, 2, 3], [a, b, c], [True] * 3, POLICY)
    assert person[0] == person[1] != person[2]


def test_two_faces_of_one_picture_are_never_one_person():
    a, b = _encode("Gerry_Adams_0002", False)[0], _encode("Gerry_Adams_0003", False)[0]
    first, second = group_faces(["p", "p"], [a, b], [True, True], POLICY)
    assert first != second
    small = _encode("Gerry_Adams_0004", True)[0]  # nor does an unclear face join a person already in its picture
    assert len(set(group_faces(["p", "q", "r"], [a, b, small], [True, True, False], POLICY))) == 1
    assert len(set(group_faces(["p", "q", "p"], [a, b, small], [True, True, False], POLICY))) == 2
    # frames of one file are different pictures
    assert len(set(group_faces([("x.gif", "frame 1"), ("x.gif", "frame 2")], [a, b], [True, True], POLICY))) == 1


@pytest.mark.parametrize("bad", [{"group_distance": 0}, {"group_margin": -0.1}])
def test_group_settings_checked(bad):
    with pytest.raises(ValueError):
        Policy(**bad)


def test_unclear_face_never_links_two_persons():
    """A small face near two persons joins neither (ambiguous), and does not bring them together."""
    a, c = _encode("Kim_Jong-Il_0003", False)[0], _encode("Wu_Yi_0001", False)[0]
    middle = (a + c) / 2
    person = group_faces([1, 2, 3], [a, middle, c], [True, False, True], POLICY)
    assert len(set(person)) == 3


def _textbook(pictures, encodings, limit):
    """Complete linkage as the textbook states it: merge the two groups whose farthest pair is closest."""
    groups = [[i] for i in range(len(encodings))]

    def far(a, b):
        if any(pictures[i] == pictures[j] for i in a for j in b):
            return np.inf
        return max(float(np.linalg.norm(encodings[i] - encodings[j])) for i in a for j in b)

    while len(groups) > 1:
        d, a, b = min((far(groups[a], groups[b]), a, b) for a in range(len(groups)) for b in range(a + 1, len(groups)))
        if d > limit:
            break
        groups[a] += groups.pop(b)
    return {frozenset(g) for g in groups}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=20))
def test_complete_linkage_is_the_textbook_one(points):
    """The sparse, heap-driven linkage (cost grows with close pairs) groups as the textbook algorithm does."""
    pictures = [p for p, _, _ in points]
    encodings = [np.array([x, y]) for _, x, y in points]
    person = group_faces(pictures, encodings, [True] * len(points), Policy(group_distance=0.3))
    found: dict = {}
    for i, number in enumerate(person):
        found.setdefault(number, set()).add(i)
    assert {frozenset(g) for g in found.values()} == _textbook(pictures, encodings, 0.3)


# --- per-person rules -----------------------------------------------------------------------------

def test_restricted_seen_clearly_once_blocks_their_small_face_in_a_wide_shot():
    clear, small = face("Kurt_Warner_0005"), face("Kurt_Warner_0002", small=True, at=300)
    alone = decide([small], [], CTX, POLICY)
    assert alone.verdict == REVIEW  # 0.53 from the portrait and 40 px wide: only a review on its own
    decisions, items = decide_batch([photo("IMG_2.jpg", clear), photo("wide/IMG_7.jpg", face("Gerry_Adams_0004"), small)],
                                    CTX, POLICY)
    assert [d.verdict for d in decisions] == [BLOCK, BLOCK]
    wide = decisions[1].faces[1]
    assert wide.verdict == BLOCK and wide.student_number == R and wide.person == decisions[0].faces[0].person
    assert wide.reason.startswith("face at [300, 50, 340, 90] is the same person (faces 0.3")
    assert "as the face at [0, 50, 110, 160] in IMG_2.jpg, which matches photo-restricted Kurt Warner (#800001): " \
           "distance 0.4" in wide.reason
    assert wide.reason in decisions[1].reasons
    assert decisions[1].faces[0].verdict == PASS and not items


def test_permitted_person_recognised_clearly_clears_their_resembling_small_face():
    small = face("Gerry_Adams_0003", small=True)
    assert 0.5 < dict(small.nearest)[R] < POLICY.review_distance  # the 40 px face resembles Kurt Warner
    alone = decide([small], [], CTX, POLICY)
    assert alone.verdict == REVIEW and "40 px wide, too small to identify" in alone.reasons[0]
    decisions, items = decide_batch([photo("IMG_5.jpg", face("Gerry_Adams_0002")), photo("IMG_6.jpg", small)],
                                    CTX, POLICY)
    assert [d.verdict for d in decisions] == [PASS, PASS] and items == []
    reason = decisions[1].faces[0].reason
    assert "in IMG_5.jpg, recognised as permitted Gerry Adams (#800002) (distance 0.3" in reason
    assert "on its own: face at [0, 50, 40, 90] is 40 px wide, too small" in reason
    # with only the restricted student indexed, the small face is nearest Kurt Warner: "resembles", and
    # nobody recognises the clear face, so the person stays in question
    only_r = RosterContext({R: STUDENTS[R], Y: STUDENTS[Y]}, 1, 1, 1)
    seen = [restricted_only(f) for f in (face("Gerry_Adams_0002"), small)]
    decisions, items = decide_batch([photo("IMG_5.jpg", seen[0]), photo("IMG_6.jpg", seen[1])],
                                    only_r, POLICY)
    assert decisions[1].verdict == REVIEW and "resembles photo-restricted Kurt Warner" in decisions[1].reasons[0]
    # ...until staff confirm who the clear face is: then the resembling small face is cleared as them
    confirmed = FaceDecision(3, "sha-IMG_5.jpg", seen[0].box, None, "is", Y, "ms.lee", "2026-11-21")
    decisions, items = decide_batch([photo("IMG_5.jpg", seen[0]), photo("IMG_6.jpg", seen[1])],
                                    only_r, POLICY, {"sha-IMG_5.jpg": [confirmed]})
    assert [d.verdict for d in decisions] == [PASS, PASS] and items == []
    assert ("in IMG_5.jpg, which ms.lee confirmed as permitted Gerry Adams (#800002) on 2026-11-21; on its own: "
            "face at [0, 50, 40, 90] resembles") in decisions[1].faces[0].reason


def test_own_block_is_never_downgraded_by_a_permitted_person():
    """A face within block_distance of a restricted student keeps its block in a person recognised as Y."""
    clear = face("Gerry_Adams_0002")
    blocking = face("Gerry_Adams_0003", small=True)
    blocking.nearest = [(R, 0.45), (Y, 0.70)]
    decisions, _ = decide_batch([photo("a.jpg", clear), photo("b.jpg", blocking)], CTX, POLICY)
    assert decisions[1].verdict == BLOCK  # and its person blocks with it
    assert decisions[0].verdict == BLOCK and "is the same person" in decisions[0].faces[0].reason


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([R, Y, K, W]), st.floats(0.2, 0.9), st.booleans(), st.booleans()),
                min_size=2, max_size=6))
def test_no_member_passes_within_block_distance_or_loses_its_block(members):
    """Whatever a person's other faces are, a face that blocks on its own still blocks, and a face within
    block_distance of a restricted student never passes."""
    base = _encode("Gerry_Adams_0002", False)[0]
    faces, photos = [], []
    for k, (number, distance, small, confirmed) in enumerate(members):
        nearest = sorted([(number, distance)] + [(n, 0.95) for n in STUDENTS if n != number], key=lambda x: x[1])
        faces.append(FaceEvidence((0, 0, 40 if small else 100, 40 if small else 100), nearest, 300.0, confirmed,
                                  encoding=base + 0.001 * k))
        photos.append(f"{k}.jpg")
    own = [judge_decided(f, CTX, POLICY) for f in faces]
    judged = judge_person(faces, own, photos, CTX, POLICY)
    for f, o, j in zip(faces, own, judged):
        if o.verdict == BLOCK:
            assert j.verdict == BLOCK
        if any(n == R and d <= POLICY.block_distance for n, d in f.nearest):
            assert j.verdict != PASS


def test_one_item_per_person_across_photos():
    """Kurt Warner's photos 2, 4 and 5 are 0.40-0.47 from his portrait (and 0.27-0.34 from each other):
    with a stricter block distance every one is in review; they are one person, so staff decide once."""
    policy = Policy(block_distance=0.30)
    batch = [photo(f"event/IMG_{i}.jpg", face(f"Kurt_Warner_000{i}"), face("Gerry_Adams_0002", at=400))
             for i in (2, 4, 5)]
    decisions, items = decide_batch(batch, CTX, policy)
    assert all(d.verdict == REVIEW for d in decisions)
    [item] = items
    assert item.kind == "person" and len(item.photos) == 3 and len(item.faces) == 3
    assert item.summary.startswith("appears in 3 photos; resembles photo-restricted Kurt Warner (#800001) at 0.")
    assert item.summary.endswith("close-ups 0")
    assert item.students[0]["student_number"] == R
    assert set(item.faces[0]) == {"photo", "sha256", "box", "view", "width", "distance", "verdict"}
    assert len(item.encodings) == 3 and all(e is not None for e in item.encodings)
    assert all(d.review_items == [item.id] for d in decisions)
    # stable: the same faces give the same id, whatever the order of the batch
    _, again = decide_batch(batch[::-1], CTX, policy)
    assert again[0].id == item.id


def test_photo_level_problems_are_one_item_per_photo_and_cleared_by_a_decision():
    hit = NameHit(R, "Kurt Warnr", "caption", "fuzzy", "review", 0, 10, matched="Kurt Warner")
    unread = "metadata could not be read: XMP packet is damaged"
    batch = [photo("a.jpg", names=[hit], unchecked=[unread]), photo("b.jpg")]
    decisions, items = decide_batch(batch, CTX, POLICY)
    [item] = items
    assert item.kind == "photo" and item.photos == ["a.jpg"] and unread in item.reasons
    assert decisions[0].verdict == REVIEW and decisions[0].review_items == [item.id] and decisions[1].review_items == []
    cleared = FaceDecision(1, "sha-a.jpg", None, None, "cleared", None, "ms.lee", "2026-11-20T10:00:00")
    decisions, items = decide_batch(batch, CTX, POLICY, {"sha-a.jpg": [cleared]})
    assert decisions[0].verdict == PASS and items == []
    assert any("checked by eye by ms.lee on 2026-11-20T10:00:00" in r and unread in r for r in decisions[0].reasons)
    # a decision made on the item clears that item; a problem new since (another name) is reviewed again
    on_item = FaceDecision(2, "sha-a.jpg", None, None, "cleared", None, "ms.lee", "2026-11-20", item_id=item.id)
    assert decide_batch(batch, CTX, POLICY, {"sha-a.jpg": [on_item]})[0][0].verdict == PASS
    other = NameHit(Y, "Gery Adams", "ocr", "fuzzy", "review", 0, 10, matched="Gerry Adams")
    changed = [photo("a.jpg", names=[hit, other], unchecked=[unread])]
    decisions, items = decide_batch(changed, CTX, POLICY, {"sha-a.jpg": [on_item]})
    assert decisions[0].verdict == REVIEW and [i.kind for i in items] == ["photo"] and items[0].id != item.id


def test_cleared_never_clears_a_face_or_a_block():
    blocked = NameHit(R, "Kurt Warner", "caption", "full", "block", 0, 11, restriction="photo")
    cleared = FaceDecision(1, "sha-a.jpg", None, None, "cleared", None, "ms.lee", "2026-11-20")
    small = face("Gerry_Adams_0003", small=True)
    decisions, items = decide_batch([photo("a.jpg", small, names=[blocked])], CTX, POLICY, {"sha-a.jpg": [cleared]})
    assert decisions[0].verdict == BLOCK and decisions[0].faces[0].verdict == REVIEW
    assert items == []  # blocked anyway: nothing for staff to decide


# --- staff decisions ----------------------------------------------------------------------------

def _decision(decision, number, box, by="ms.lee", view=None):
    return FaceDecision(7, "sha-IMG_6.jpg", box, view, decision, number, by, "2026-11-21T09:30:00")


def restricted_only(f: FaceEvidence) -> FaceEvidence:
    """The face as a restricted-only index sees it (only Kurt Warner's portrait)."""
    return FaceEvidence(f.box, [(R, dict(f.nearest)[R])], f.sharpness, encoding=f.encoding, decided=f.decided)


def test_not_decision_rules_the_student_out():
    small = restricted_only(face("Gerry_Adams_0003", small=True))  # resembles Kurt Warner at 0.54
    assert decide([small], [], CTX, POLICY).faces[0].student_number == R
    ruled = {"sha-IMG_6.jpg": [_decision("not", R, small.box)]}
    decisions, _ = decide_batch([photo("IMG_6.jpg", small)], CTX, POLICY, ruled)
    result = decisions[0].faces[0]
    assert result.student_number is None and result.verdict == REVIEW  # still 40 px: cannot be identified
    assert result.reason.endswith("Kurt Warner (#800001) ruled out by ms.lee on 2026-11-21T09:30:00")
    # a decision about another box does not apply
    other = {"sha-IMG_6.jpg": [_decision("not", R, (1, 2, 3, 4))]}
    assert decide_batch([photo("IMG_6.jpg", small)], CTX, POLICY, other)[0][0].faces[0].student_number == R


def test_is_decision_makes_the_face_that_student_and_carries_to_the_person():
    small = face("Gerry_Adams_0003", small=True)
    clear = face("Gerry_Adams_0002")
    confirmed = {"sha-IMG_6.jpg": [_decision("is", R, small.box)]}
    decisions, _ = decide_batch([photo("IMG_5.jpg", clear), photo("IMG_6.jpg", small)], CTX, POLICY, confirmed)
    assert decisions[1].faces[0].verdict == BLOCK
    assert decisions[1].faces[0].reason == ("face at [0, 50, 40, 90] confirmed as photo-restricted Kurt Warner "
                                            "(#800001) by ms.lee on 2026-11-21T09:30:00")
    assert decisions[0].verdict == BLOCK
    assert ("in IMG_6.jpg, which ms.lee confirmed as photo-restricted Kurt Warner (#800001) on 2026-11-21T09:30:00"
            in decisions[0].faces[0].reason)
    # "is" a permitted student: the face passes as them, and so does the resembling small face of their person
    permitted = {"sha-IMG_6.jpg": [_decision("is", Y, small.box)]}
    decisions, items = decide_batch([photo("IMG_6.jpg", small)], CTX, POLICY, permitted)
    assert decisions[0].verdict == PASS and items == []
    assert "confirmed as permitted Gerry Adams (#800002) by ms.lee" in decisions[0].faces[0].reason


def test_decisions_already_on_the_evidence_apply_once():
    small = face("Gerry_Adams_0003", small=True, decided=[_decision("not", R, (0, 50, 40, 90))])
    decisions, _ = decide_batch([photo("IMG_6.jpg", small)], CTX, POLICY,
                                {"sha-IMG_6.jpg": [_decision("not", R, small.box)]})
    assert decisions[0].faces[0].reason.count("ruled out") == 1


# --- a batch of one ---------------------------------------------------------------------------------

def test_a_batch_of_one_photo_is_decided_as_decide_does():
    typo = NameHit(Y, "Gery Adams", "ocr", "fuzzy", "review", 0, 10, matched="Gerry Adams")
    faces = [face("Kurt_Warner_0005"), face("Gerry_Adams_0002", at=200), face("Gerry_Adams_0003", small=True, at=400),
             face("Wu_Yi_0002", small=True, at=500), FaceEvidence((600, 0, 700, 100), None)]
    for unchecked, error in (([], None), (["XMP could not be read"], None), ([], "decoding failed halfway")):
        one = PhotoEvidence("a.jpg", "sha", faces, [typo], unchecked, error)
        alone = decide(faces, [typo], CTX, POLICY, error, unchecked)
        [batched], _ = decide_batch([one], CTX, POLICY)
        assert (batched.verdict, batched.reasons) == (alone.verdict, alone.reasons)
        assert [(f.verdict, f.reason) for f in batched.faces] == [(f.verdict, f.reason) for f in alone.faces]


def test_contradicting_is_decisions_fail_closed():
    """Staff said "is Gerry Adams" and later "is Kurt Warner" (or the other way round): the face blocks."""
    small = face("Gerry_Adams_0003", small=True)
    for order in ((Y, R), (R, Y)):
        decided = [FaceDecision(n, "sha-IMG_6.jpg", small.box, None, "is", number, "ms.lee", f"2026-11-2{n}")
                   for n, number in enumerate(order, 1)]
        [decision], _ = decide_batch([photo("IMG_6.jpg", small)], CTX, POLICY, {"sha-IMG_6.jpg": decided})
        assert decision.verdict == BLOCK and "confirmed as photo-restricted Kurt Warner" in decision.reasons[0]


def test_a_face_cleared_by_eye_passes_but_a_block_stays():
    """'cleared' on a face: a person looked and it is no photo-restricted student. A face in review
    (too small to identify) passes with who and when; a face that blocks on its own stays blocked."""
    from consentguard.decide import FaceEvidence, RosterContext, judge_decided
    from consentguard.match.index import Student
    from consentguard.policy import Policy
    from consentguard.review import FaceDecision

    students = {"1": Student("1", "Ana", "Ruiz", True, False), "2": Student("2", "Ben", "Cole", False, False)}
    context = RosterContext(students, 1, 1, 1)
    look = FaceDecision(9, "ab" * 32, (0, 0, 40, 40), None, "cleared", None, "Dana Office", "2026-11-22T03:00:00")
    small = FaceEvidence((0, 0, 40, 40), [("2", 0.7), ("1", 0.8)])
    assert judge_decided(small, context, Policy()).verdict == "review"
    cleared = judge_decided(FaceEvidence((0, 0, 40, 40), [("2", 0.7), ("1", 0.8)], decided=[look]), context, Policy())
    assert cleared.verdict == "pass" and "checked by eye by Dana Office" in cleared.reason
    clear_match = FaceEvidence((0, 0, 120, 120), [("1", 0.3), ("2", 0.8)], decided=[replace_box(look, (0, 0, 120, 120))])
    assert judge_decided(clear_match, context, Policy()).verdict == "block"


def replace_box(decision, box):
    from dataclasses import replace
    return replace(decision, box=box)


def test_faces_seen_in_one_photo_only_are_one_item_for_that_photo():
    """Three small faces of three people, each in one photo only: one look at the photo settles them,
    so they are one item ("3 faces in wide.jpg"), not three; a person seen in two photos keeps their
    own item. There are never more items for faces than photos in review."""
    wide = photo("wide.jpg", face("Gerry_Adams_0003", small=True), face("Kim_Jong-Il_0002", small=True, at=200),
                 face("Wu_Yi_0002", small=True, at=400))
    decisions, items = decide_batch([wide], CTX, POLICY)
    assert decisions[0].verdict == REVIEW
    [item] = items
    assert item.kind == "faces" and len(item.faces) == 3 and item.photos == ["wide.jpg"]
    assert item.summary.startswith("3 faces in wide.jpg; ")
    assert decide_batch([wide], CTX, POLICY)[1][0].id == item.id  # stable
    policy = Policy(block_distance=0.30)
    kurt = [photo(f"event/IMG_{i}.jpg", face(f"Kurt_Warner_000{i}")) for i in (2, 4)]
    _, items = decide_batch(kurt + [wide], CTX, policy)
    assert sorted((i.kind, len(i.photos)) for i in items) == [("faces", 1), ("person", 2)]


def test_a_restricted_students_small_face_is_not_cleared_through_a_look_alike():
    """Red team (#12): Michael Jordan (photo-restricted) in a wide shot, 40 px: 0.56 from his portrait,
    a review on his own. Mike Tyson (permitted), a clear face recognised as himself, is in another
    photo of the batch 0.48 from that small face, so the small face joins his person. Nearer Tyson's
    face than Jordan's portrait by less than group_margin, it must stay in review and say so (before:
    cleared as Tyson, the photo passed). 27 of 373 LFW 40 px faces in their own portrait's review band
    have another person's clear face within group_distance (scripts/calibrate_groups.py cache)."""
    jordan, tyson = "800011", "800012"
    students = {jordan: Student(jordan, "Michael", "Jordan", True, False),
                tyson: Student(tyson, "Mike", "Tyson", False, False)}
    context = RosterContext(students, photo_restricted=1, indexed=1, sync_id=1)
    portraits = {jordan: "Michael_Jordan_0001", tyson: "Mike_Tyson_0001"}
    idx = FaceIndex(np.array([_encode(p, False)[0] for p in portraits.values()]), list(portraits), students)

    def seen(name, small=False, at=0):
        encoding, sharp = _encode(name, small)
        width = SMALL_PX if small else 110
        return FaceEvidence((at, 50, at + width, 50 + width), idx.nearest(encoding), sharp, encoding=encoding)

    clear, wide = seen("Mike_Tyson_0004"), seen("Michael_Jordan_0002", small=True, at=300)
    gap = float(np.linalg.norm(clear.encoding - wide.encoding))
    assert gap <= POLICY.group_distance < dict(wide.nearest)[jordan] < gap + POLICY.group_margin
    assert decide([wide], [], context, POLICY).verdict == REVIEW
    decisions, items = decide_batch([photo("IMG_1.jpg", clear), photo("wide.jpg", wide)], context, POLICY)
    assert decisions[0].verdict == PASS
    assert decisions[1].verdict == REVIEW and len(items) == 1
    reason = decisions[1].faces[0].reason
    assert "resembles photo-restricted Michael Jordan (#800011): distance 0.5" in reason
    assert "not cleared as permitted Mike Tyson (#800012)" in reason and "by less than 0.10" in reason


def test_an_unprotected_students_small_face_is_not_cleared_through_a_look_alike():
    """Red team (#12): Michael Jordan is photo-restricted and has no portrait (unprotected); his 40 px
    face is a review on its own (not recognised as anyone). Mike Tyson's clear face, 0.48 from it and
    recognised as Tyson, clears it in a batch: there is no restricted portrait to compare with, so
    the group_margin rule cannot see that it may be Jordan."""
    jordan, tyson = "800011", "800012"
    students = {jordan: Student(jordan, "Michael", "Jordan", True, False),
                tyson: Student(tyson, "Mike", "Tyson", False, False)}
    context = RosterContext(students, photo_restricted=1, indexed=0, sync_id=1)
    idx = FaceIndex(np.array([_encode("Mike_Tyson_0001", False)[0]]), [tyson], students)

    def seen(name, small=False, at=0):
        encoding, sharp = _encode(name, small)
        width = SMALL_PX if small else 110
        return FaceEvidence((at, 50, at + width, 50 + width), idx.nearest(encoding), sharp, encoding=encoding)

    clear, wide = seen("Mike_Tyson_0004"), seen("Michael_Jordan_0002", small=True, at=300)
    assert decide([clear], [], context, POLICY).verdict == PASS  # recognised as Tyson
    assert decide([wide], [], context, POLICY).verdict == REVIEW
    decisions, _ = decide_batch([photo("IMG_1.jpg", clear), photo("wide.jpg", wide)], context, POLICY)
    assert decisions[1].verdict == REVIEW
    gap = float(np.linalg.norm(clear.encoding - wide.encoding))
    assert gap > POLICY.small_recognise_distance, gap  # what keeps it in review
    assert (f"no usable portrait, and this face is not within {POLICY.small_recognise_distance:.2f} of this "
            "person's clear faces") in decisions[1].reasons[0]


def test_no_item_for_a_photo_that_is_blocked_anyway():
    """A small face in question in a photo that is blocked (a restricted student named in its caption)
    is no decision to make: the photo is not published as it is, and its safe copy hides the face."""
    blocked = NameHit(R, "Kurt Warner", "caption", "full", "block", 0, 11, restriction="photo")
    wide = photo("wide.jpg", face("Gerry_Adams_0003", small=True), names=[blocked])
    decisions, items = decide_batch([wide], CTX, POLICY)
    assert decisions[0].verdict == BLOCK and decisions[0].faces[0].verdict == REVIEW
    assert items == [] and decisions[0].review_items == []
