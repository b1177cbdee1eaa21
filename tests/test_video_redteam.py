"""Red team of the video work (issue #14): ways a restricted student's face in a clip could be
passed by the tracker's shortcuts. Real clips made from the real test faces, decoded for real.

R (photo-restricted) and C (clear) as in tests/test_faces_e2e.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

from consentguard import Checker, open_db

from conftest import R
from helpers.videos import head, moving_clip, stage, time_jumps_back


@pytest.fixture(scope="module")
def checker(face_roster):
    return Checker(open_db(face_roster), record=False)


@pytest.fixture(scope="module")
def heads(faces):
    return {"R": head(faces.restricted_other, 200), "C": head(faces.clear_other, 200)}


def _blend(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    return (a.astype(np.float32) * (1 - w) + b.astype(np.float32) * w).round().astype(np.uint8)


@pytest.mark.faces
@pytest.mark.slow
def test_a_slow_dissolve_from_a_clear_to_a_restricted_face_is_blocked(checker, heads, tmp_path):
    """No scene cut (the frame changes a little per sample) and no swap (each sample looks like the
    one before): C's track goes on into R, whose face must still be encoded and blocked."""
    c, r = (stage([(heads[k], 220, 80)]) for k in "CR")

    def picture(t):
        return _blend(c, r, min(max((t - 1.0) / 2.0, 0.0), 1.0))

    doc = json.loads(json.dumps(checker.check_path(moving_clip(tmp_path / "fade.mp4", 4.5, picture)).to_json()))
    assert doc["verdict"] == "block", doc["reasons"]
    assert any(t["student_number"] == R and t["verdict"] == "block" for t in doc["video"]["tracks"])


@pytest.mark.faces
def test_a_face_in_joined_recordings_is_encoded_again_after_the_time_jumps_back(checker, heads, tmp_path):
    """A WebM whose third second carries the second second's times again (a joined recording), C on
    screen throughout: the footage after the jump is a new track, encoded when it starts (before:
    one track went back in time and was not encoded again until its clock passed 2 s)."""
    clip = time_jumps_back(tmp_path / "joined.webm", picture=stage([(heads["C"][::2, ::2], 110, 40)], (320, 240)))
    doc = json.loads(json.dumps(checker.check_path(clip).to_json()))
    tracks = doc["video"]["tracks"]
    assert len(tracks) >= 2, tracks
    for track in tracks:
        times = [b[0] for b in track["boxes"]]
        assert times == sorted(times), track  # no track goes back in time
    assert doc["video"]["faces_encoded"] >= 4  # 0 s, 1 s, the jump, 3 s
