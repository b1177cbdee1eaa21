"""The face tracker of videos (issue #14): one person is one track, and faces are encoded only when
their track needs it, never judged less. Unit tests on real pixel arrays, then real clips made from
the real test faces (tests/helpers/videos.py), decoded and checked for real.

R (photo-restricted) and C (clear) as in tests/test_faces_e2e.py."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from consentguard import Checker, open_db
from consentguard.decide import FaceEvidence
from consentguard.inspect.track import JUDGED, Tracker, judged
from consentguard.store.audit import without_track_boxes

from conftest import R
from helpers.videos import face_card, head, head_card, make_clip, moving_clip, stage


@dataclass
class Box:
    """What the tracker reads of a detected face."""

    box: tuple[int, int, int, int]
    sharpness: float = 100.0
    rotation: int = 0

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


def _noise(seed: int, size=(360, 640)) -> np.ndarray:
    """A frame: a ramp from dark (left) to bright (right) with noise on it."""
    ramp = np.linspace(0, 200, size[1])[None, :, None]
    return (ramp + np.random.default_rng(seed).integers(0, 56, (*size, 3))).astype(np.uint8)


@pytest.mark.faces  # the looks use dlib's landmarks
def test_a_face_that_stays_is_one_track_encoded_when_it_starts_and_every_encode_seconds():
    rgb, tracker, steps = _noise(1), Tracker(encode_seconds=1.0), []
    for t in (0, 0.25, 0.5, 0.75, 1.0, 1.25):
        steps.append(tracker.step(t, rgb, [Box((100, 100, 180, 180))]))
        track, encode = steps[-1][0]
        if encode:
            tracker.encoded(track, Box((100, 100, 180, 180)), t)
    assert {s[0][0].id for s in steps} == {1}
    assert [s[0][1] for s in steps] == [True, False, False, False, True, False]
    assert len(steps[-1][0][0].boxes) == 6


@pytest.mark.faces  # the looks use dlib's landmarks
def test_a_time_that_jumps_back_ends_every_track_so_the_footage_after_it_is_encoded():
    """Joined recordings: the clip's times jump back (video.frames samples them again). The face
    still there was encoded at 1.0 s; "every encode_seconds" counted from 1.0 would skip all the
    footage carrying times before 2.0 s after the jump (red team #14)."""
    rgb, tracker, steps = _noise(11), Tracker(encode_seconds=1.0), []
    for t in (0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25):
        (track, encode), = tracker.step(t, rgb, [Box((100, 100, 180, 180))])
        if encode:
            tracker.encoded(track, Box((100, 100, 180, 180)), t)
        steps.append((track.id, encode))
    assert [e for _, e in steps] == [True, False, False, False, True, False, False, False,
                                     True, False, False, False, True, False]
    assert {i for i, _ in steps[:8]} == {1} and {i for i, _ in steps[8:]} == {2}
    assert [t for t, _ in tracker.tracks[1].boxes] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]  # never back in one track


@pytest.mark.faces  # the looks use dlib's landmarks
def test_a_face_overlapping_two_tracks_starts_a_new_track():
    rgb, tracker = _noise(2), Tracker(1.0)
    first = tracker.step(0, rgb, [Box((100, 100, 200, 200)), Box((170, 100, 270, 200))])
    (track, encode), = tracker.step(0.25, rgb, [Box((135, 100, 235, 200))])  # between the two: ambiguous
    assert track.id not in {t.id for t, _ in first} and encode
    assert not any(t.open for t, _ in first)


@pytest.mark.faces  # the looks use dlib's landmarks
def test_two_faces_on_one_track_box_start_two_new_tracks():
    rgb, tracker = _noise(3), Tracker(1.0)
    (before, _), = tracker.step(0, rgb, [Box((100, 100, 220, 220))])
    now = tracker.step(0.25, rgb, [Box((100, 100, 160, 160)), Box((160, 160, 220, 220))])
    assert all(t.id != before.id for t, _ in now) and all(encode for _, encode in now)


@pytest.mark.faces  # the looks use dlib's landmarks
def test_another_face_at_the_same_place_is_a_new_track_and_a_scene_cut_ends_every_track():
    base, other = _noise(4), _noise(4).copy()
    other[100:180, 100:180] = 255 - base[100:180, 100:180]  # another face where the first was
    tracker = Tracker(1.0)
    (first, _), = tracker.step(0, base, [Box((100, 100, 180, 180))])
    (second, encode), = tracker.step(0.25, other, [Box((100, 100, 180, 180))])
    assert second.id != first.id and encode and tracker.cuts == 0
    (third, encode), = tracker.step(0.5, 255 - other, [Box((100, 100, 180, 180))])  # the whole frame changes
    assert third.id != second.id and encode and tracker.cuts == 1


@pytest.mark.faces  # the looks use dlib's landmarks
def test_a_larger_face_is_encoded_again():
    rgb, tracker = _noise(6), Tracker(2.0)
    (track, _), = tracker.step(0, rgb, [Box((100, 100, 160, 160))])
    tracker.encoded(track, Box((100, 100, 160, 160)), 0)
    (same, encode), = tracker.step(0.25, rgb, [Box((95, 95, 175, 175))])
    assert same.id == track.id and encode


def _face(encoding, width=100, nearest=(), confirmed=True):
    return FaceEvidence((0, 0, width, width), list(nearest), 100.0, confirmed,
                        encoding=None if encoding is None else np.asarray(encoding, np.float64))


def test_judged_keeps_the_best_few_and_every_face_that_could_change_the_verdict():
    one = np.zeros(128)
    faces = [_face(one + 0.001 * k, width=100 + k) for k in range(10)]
    faces.append(_face(one, width=50, nearest=[("900001", 0.6)]))  # the only one near a student
    faces.append(_face(one + 0.1, width=40))                     # someone else? (1.1 away)
    faces.append(_face(None, width=20))                          # not encoded: never dropped
    kept = judged(faces, group_distance=0.5, review_distance=0.63)
    assert kept == [7, 8, 9, 10, 11, 12] and JUDGED == 3


@pytest.fixture(scope="module")
def checker(face_roster):
    return Checker(open_db(face_roster), record=False)


@pytest.fixture(scope="module")
def heads(faces):
    return {"R": head(faces.restricted_other, 200), "C": head(faces.clear_other, 200)}


def _track_doc(doc, number):
    return [t for t in doc["video"]["tracks"] if t["student_number"] == number]


@pytest.mark.faces
@pytest.mark.slow
def test_two_people_crossing_never_share_a_track(checker, heads, tmp_path):
    """C walks left to right, R right to left, R in front where they cross (at 2 s)."""
    def path(name, t):
        return (40 + 110 * t) if name == "C" else (470 - 110 * t)

    def picture(t):
        return stage([(heads["C"], round(path("C", t)), 80), (heads["R"], round(path("R", t)), 80)])

    clip = moving_clip(tmp_path / "crossing.mp4", 4, picture)
    result = checker.check_path(clip)
    assert result.verdict == "block", result.reasons
    doc = json.loads(json.dumps(result.to_json()))
    width = {k: v.shape[1] for k, v in heads.items()}
    for track in doc["video"]["tracks"]:
        sides = set()
        for t, x1, _, x2, _ in track["boxes"]:
            c, r = path("C", t) + width["C"] / 2, path("R", t) + width["R"] / 2
            if abs(c - r) > 90:  # apart enough to say whose path the box is on
                sides.add("R" if abs((x1 + x2) / 2 - r) < abs((x1 + x2) / 2 - c) else "C")
        assert len(sides) <= 1, track  # never from one person's path to the other's
        if sides == {"R"}:
            assert track["verdict"] == "block" and track["student_number"] == R
        if sides == {"C"}:
            assert track["student_number"] != R, track
    blocked = [f for f in doc["faces"] if f["student_number"] == R]
    assert blocked and blocked[0]["start"] == 0 and blocked[0]["end"] >= 3.5


@pytest.mark.faces
@pytest.mark.slow
def test_two_people_swapping_places_between_samples_are_judged_again(checker, heads, tmp_path):
    def picture(t):
        left, right = ("C", "R") if t < 2 else ("R", "C")
        return stage([(heads[left], 60, 80), (heads[right], 420, 80)])

    clip = moving_clip(tmp_path / "swap.mp4", 4, picture)
    doc = json.loads(json.dumps(checker.check_path(clip).to_json()))
    assert doc["verdict"] == "block", doc["reasons"]
    for track in doc["video"]["tracks"]:
        times = [b[0] for b in track["boxes"]]
        assert max(times) < 2 or min(times) >= 2, track  # no track across the swap
    restricted = _track_doc(doc, R)
    assert {b[1] < 300 for t in restricted for b in t["boxes"]} == {True, False}  # R blocked on both sides
    assert all(t["verdict"] == "block" for t in restricted)
    assert all(t["student_number"] != R for t in doc["video"]["tracks"] if t not in restricted)


@pytest.mark.faces
@pytest.mark.slow
def test_a_cut_from_a_permitted_to_a_restricted_face_at_the_same_place_is_encoded_and_blocked(
        checker, faces, tmp_path):
    clip = make_clip(tmp_path / "cut.mp4", 4, [(0, 2, head_card(faces.clear_other)),
                                              (2, 4, face_card(faces.restricted_other))])
    result = checker.check_path(clip)
    assert result.verdict == "block", result.reasons
    doc = json.loads(json.dumps(result.to_json()))
    face = next(f for f in doc["faces"] if f["student_number"] == R)
    assert face["start"] == 2.0 and face["end"] >= 3.5 and face["verdict"] == "block"
    others = [f for f in doc["faces"] if f["student_number"] != R]
    assert others and all(f["end"] < 2 and f["verdict"] == "pass" for f in others)


@pytest.fixture(scope="module")
def static_doc(checker, heads, tmp_path_factory):
    """R and C side by side for 10 s: 40 sampled frames, 80 faces seen."""
    picture = stage([(heads["C"], 60, 80), (heads["R"], 420, 80)])
    clip = moving_clip(tmp_path_factory.mktemp("static") / "static.mp4", 10, lambda t: picture)
    return json.loads(json.dumps(checker.check_path(clip).to_json()))


@pytest.mark.faces
@pytest.mark.slow
def test_a_long_static_clip_encodes_each_face_only_a_few_times(static_doc):
    video = static_doc["video"]
    assert static_doc["verdict"] == "block"
    assert video["faces_found"] == 80
    assert len(video["tracks"]) == 2
    assert video["faces_encoded"] <= 2 * 11  # when each track starts, then once a second
    assert video["faces_judged"] <= 2 * JUDGED + 1  # the best of each, and the face nearest R
    assert sorted(t["verdict"] for t in video["tracks"]) == ["block", "pass"]


@pytest.mark.faces
@pytest.mark.slow
def test_tracks_in_the_json_have_the_promised_shape(static_doc):
    tracks = static_doc["video"]["tracks"]
    for track in tracks:
        assert set(track) == {"id", "verdict", "student_number", "boxes"}
        assert isinstance(track["id"], int) and track["verdict"] in ("pass", "review", "block")
        assert len(track["boxes"]) == 40  # every sampled frame it was found in
        for t, *box in track["boxes"]:
            assert isinstance(t, float) and all(isinstance(c, int) for c in box)
            assert 0 <= box[0] < box[2] <= 640 and 0 <= box[1] < box[3] <= 360
    ids = {t["id"] for t in tracks}
    for face in static_doc["faces"]:
        assert face["tracks"] and set(face["tracks"]) <= ids
        assert face["start"] == 0 and face["end"] == pytest.approx(9.75, abs=0.05) and face["frames"] == 40
        for track in tracks:
            if track["id"] in face["tracks"]:
                assert track["verdict"] == face["verdict"] and track["student_number"] == face["student_number"]
    assert {i for f in static_doc["faces"] for i in f["tracks"]} == ids
    kept = without_track_boxes(static_doc)["video"]["tracks"]  # what the audit trail keeps
    assert all("boxes" not in t and t["frames"] == 40 and t["start"] == 0 for t in kept)
