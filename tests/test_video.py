"""Videos (issue #14): real clips made from the real test faces with PyAV, decoded for real.

R (photo-restricted) and C (clear) as in tests/test_faces_e2e.py."""

from __future__ import annotations

import json

import pytest

from consentguard import Checker, Policy, open_db
from consentguard.errors import ImageError
from consentguard.inspect.video import clock, frame_time, frame_view, open_video

from conftest import R, scan_twice
from helpers.videos import audio_only, head_card, make_clip, time_jumps_back, two_streams, with_cover


@pytest.fixture(scope="module")
def clip_4_to_6(restricted_card, tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "concert.mp4", 10, [(4, 6, restricted_card)])


def test_frame_views_name_their_time():
    assert frame_view(4.25) == "the frame at 0:04.25"
    assert frame_time(frame_view(64.5)) == 64.5
    assert frame_time("frame 2 of 3") is None
    assert clock(65.9, 0) == "1:05"


@pytest.mark.faces
@pytest.mark.slow
def test_restricted_face_from_4_to_6_seconds_blocks_with_when(checker, clip_4_to_6):
    result = checker.check_path(clip_4_to_6)
    assert result.verdict == "block", result.reasons
    doc = json.loads(json.dumps(result.to_json()))
    blocked = [f for f in doc["faces"] if f["verdict"] == "block"]
    assert len(blocked) == 1, doc["faces"]  # one person, judged once from their frames
    face = blocked[0]
    assert face["student_number"] == R
    assert face["start"] == pytest.approx(4.0, abs=0.3) and face["end"] == pytest.approx(6.0, abs=0.3)
    assert face["frames"] >= 7 and 4 <= face["time"] <= 6 and len(face["box"]) == 4
    assert result.reasons[0].startswith("0:04-0:06 face at ")
    assert "matches photo-restricted Marcus Ellery" in result.reasons[0]
    assert doc["video"]["duration"] == pytest.approx(10.0, abs=0.1)
    assert doc["video"]["frames_sampled"] == 40


@pytest.mark.faces
@pytest.mark.slow
def test_restricted_face_for_0_6_seconds_is_caught(checker, restricted_card, tmp_path):
    clip = make_clip(tmp_path / "brief.mp4", 10, [(7.1, 7.7, restricted_card)])
    result = checker.check_path(clip)
    assert result.verdict == "block", result.reasons
    face = next(f for f in result.to_json()["faces"] if f["verdict"] == "block")
    assert face["frames"] >= 2 and 7.0 <= face["start"] <= face["end"] <= 7.8


@pytest.mark.faces
@pytest.mark.slow
def test_permitted_face_only_passes(checker, faces, tmp_path):
    clip = make_clip(tmp_path / "permitted.mp4", 4, [(1, 3, head_card(faces.clear_other))])
    result = checker.check_path(clip)
    assert result.verdict == "pass", result.reasons
    assert result.to_json()["faces"], "the permitted face was seen"


@pytest.mark.faces
@pytest.mark.slow
def test_rotated_phone_clip_is_turned_upright_and_caught(checker, restricted_card, tmp_path):
    clip = make_clip(tmp_path / "IMG_0042.MOV", 3, [(1, 2, restricted_card)], rotation=-90)
    result = checker.check_path(clip)
    assert result.verdict == "block", result.reasons
    doc = result.to_json()
    assert doc["video"]["rotation"] == -90
    assert (doc["image"]["width"], doc["image"]["height"]) == (640, 360)  # as shown, not as stored
    face = next(f for f in doc["faces"] if f["verdict"] == "block")
    assert face["rotation"] == 0  # upright in the frame as shown


@pytest.mark.faces
def test_truncated_clip_without_its_index_is_an_error(checker, faces, tmp_path):
    """A permitted-only clip cut part-way, its index (moov) at the end: it cannot be opened."""
    clip = make_clip(tmp_path / "whole.mp4", 2, [(0.5, 1.5, head_card(faces.clear_other))], fps=10)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    result = checker.check_path(cut)
    assert result.verdict == "error", result.reasons
    assert result.reasons[0].startswith(f"{cut}: not a readable video")


@pytest.mark.faces
@pytest.mark.slow
def test_clip_that_stops_early_is_review_naming_the_part_not_read(checker, faces, tmp_path):
    """A permitted-only clip, index first (a phone's), cut in half: what was read passes, the rest is
    named as not checked, so the clip is never a pass."""
    clip = make_clip(tmp_path / "whole.mp4", 4, [(1, 3, head_card(faces.clear_other))], faststart=True)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    result = checker.check_path(cut)
    assert result.verdict == "review", result.reasons
    assert any(r.startswith(f"{cut}: the video stream stops at 0:0") and "of the 0:04.00 its container declares" in r
               for r in result.reasons), result.reasons


@pytest.mark.faces
@pytest.mark.slow
@pytest.mark.parametrize("fps", [10, 25])
def test_damage_mid_way_is_never_a_pass(checker, faces, fps, tmp_path):
    """Damaged bytes part-way through a permitted-only clip: a packet the decoder refuses, or one it
    decodes with the gaps filled in (FFmpeg says so only in its log), is named and never passes."""
    import numpy as np

    clip = make_clip(tmp_path / "whole.mp4", 4, [(1, 4, head_card(faces.clear_other))], fps=fps, faststart=True)
    data = bytearray(clip.read_bytes())
    # the whole video packet holding the file's middle byte, overwritten: a few random bytes inside a
    # packet can decode without a single error (the picture barely changes), which no decoder can tell
    import av
    with av.open(str(clip)) as container:
        pos, size = next((p.pos, p.size) for p in container.demux(video=0)
                         if p.pos is not None and p.pos <= len(data) // 2 < p.pos + p.size)
    data[pos + 8:pos + size] = np.random.default_rng(1).integers(0, 256, size - 8, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    result = checker.check_path(damaged)
    assert result.verdict in ("review", "block", "error"), result.reasons
    assert any(f"{damaged}: the video is damaged in " in r for r in result.reasons), result.reasons


@pytest.mark.faces
def test_audio_only_file_is_an_error(face_roster, tmp_path):
    checker = Checker(open_db(face_roster), record=False)
    result = checker.check_path(audio_only(tmp_path / "song.mp4"))
    assert result.verdict == "error"
    assert result.reasons == [f"{tmp_path / 'song.mp4'}: no video stream (audio only, or not a video): not checked"]


@pytest.mark.faces
def test_zero_frame_and_garbage_files_are_errors(face_roster, tmp_path):
    checker = Checker(open_db(face_roster), record=False)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.webm"
    garbage.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 200)
    for path in (empty, garbage):
        result = checker.check_path(path)
        assert result.verdict == "error", (path, result.reasons)
        assert str(path) in result.reasons[0]


def test_limits_refuse_with_one_line_naming_the_file(tmp_path):
    clip = make_clip(tmp_path / "long.mp4", 2, [], size=(640, 360), fps=10)
    with pytest.raises(ImageError, match=r"long.mp4: 0:02 long, longer than video_max_seconds \(1 s\)"):
        open_video(clip, 1, 4096)
    with pytest.raises(ImageError, match=r"long.mp4: 640x360 is larger than video_max_side \(400 px\)"):
        open_video(clip, 600, 400)


@pytest.mark.faces
def test_name_in_title_metadata_is_found(face_roster, tmp_path):
    """Container metadata (title) goes through name matching: N is name-restricted (Priya Natarajan)."""
    clip = make_clip(tmp_path / "assembly.mp4", 1, [], fps=10, title="Priya Natarajan wins the spelling bee")
    checker = Checker(open_db(face_roster), record=False, policy=Policy(ocr=False))
    result = checker.check_path(clip)
    assert result.verdict == "block", result.reasons
    assert any(n["source"] == "metadata:video title" for n in result.to_json()["names"])


@pytest.mark.faces
@pytest.mark.slow
def test_scan_checks_videos_with_when_fresh_and_from_the_cache(face_roster, faces, restricted_card, tmp_path):
    """The scan's walk finds the clip, a worker checks it, the batch decision keeps one entry per
    person with when; the second scan (from the cache, decided again) says the same."""
    import shutil

    root = tmp_path / "event"
    root.mkdir()
    make_clip(root / "concert.mov", 3, [(1, 2, restricted_card)], fps=10)
    shutil.copy(faces.clear_other, root / "jordan.jpg")
    scan, docs = scan_twice(face_roster, root, tmp_path)
    assert scan.cached == 2
    for found in docs:
        clip = found["concert.mov"]
        assert (clip["verdict"], found["jordan.jpg"]["verdict"]) == ("block", "pass")
        face, = [f for f in clip["faces"] if f["verdict"] == "block"]
        assert face["start"] == pytest.approx(1.0, abs=0.15) and face["end"] == pytest.approx(1.9, abs=0.15)
        assert clip["reasons"][0].startswith("0:01-0:02 face at ")
        assert clip["video"]["frames_sampled"] == 12
    assert docs[0]["concert.mov"]["faces"] == docs[1]["concert.mov"]["faces"]


@pytest.mark.faces
@pytest.mark.slow
@pytest.mark.parametrize("name, codec, sound, rotation", [
    ("IMG_0043.MOV", "libx265", "aac", -90),  # an iPhone clip: HEVC, AAC sound, portrait
    ("clip.webm", "libvpx-vp9", "libopus", None),
    ("clip.avi", "mpeg4", None, None),
    ("clip.m4v", "libx264", "aac", None),
])
def test_every_kind_of_clip_is_checked(checker, restricted_card, tmp_path, name, codec, sound, rotation):
    clip = make_clip(tmp_path / name, 2, [(0.5, 1.5, restricted_card)], fps=10, codec=codec, sound=sound,
                     rotation=rotation)
    result = checker.check_path(clip)
    assert result.verdict == "block", result.reasons
    assert result.reasons[0].startswith("0:00-0:02 face at "), result.reasons
    assert result.to_json()["video"]["rotation"] == (rotation or 0)


def test_sampling_cannot_be_set_sparser_than_twice_per_half_second():
    from consentguard.policy import SettingError

    with pytest.raises(SettingError, match="video_sample_seconds: 0.3 is outside the allowed 0.02-0.25"):
        Policy(video_sample_seconds=0.3)
    assert Policy().video_sample_seconds == 0.25


def test_half_a_second_on_screen_is_sampled_twice_whatever_the_phase(tmp_path):
    """Real decoding of a 25 fps clip: every window of 0.5 s holds at least two sampled frames."""
    clip = make_clip(tmp_path / "plain.mp4", 3, [], fps=25)
    with open_video(clip, 600, 4096) as video:
        times = [f.time for f in video.frames(0.25, 600)]
    assert len(times) == 12
    for start in [k / 25 for k in range(0, 63)]:
        assert sum(start <= t < start + 0.5 for t in times) >= 2, start


@pytest.mark.faces
@pytest.mark.slow
def test_restricted_face_in_a_second_video_stream_is_not_a_pass(checker, restricted_card, tmp_path):
    """Red team (issue #14): only the first video stream is decoded, so a clip whose second stream
    (another camera angle, picture-in-picture) shows a restricted student passed on a blank first."""
    blank = restricted_card * 0 + 100
    clip = two_streams(tmp_path / "angles.mp4", 2, blank, restricted_card)
    result = checker.check_path(clip)
    assert result.verdict != "pass", result.reasons
    assert any("video streams" in r for r in result.reasons), result.reasons


def test_a_clip_whose_first_frame_is_not_at_zero_is_timed_from_its_start(tmp_path):
    """Red team (issue #14): a clip whose first frame is at 5 s (cut from a longer recording) was
    timed from 0 of the recording: every "when" 5 s late, and a copy cut short after 3.8 of its 10 s
    said "stops at 0:08.84 ... 0:08.84-0:10.00 was not checked", so staff checked the last second by
    eye and never the 5 s not read (and a cut past 4.5 s was not named at all)."""
    whole = make_clip(tmp_path / "whole.mp4", 10, [], start=5.0, faststart=True)
    with open_video(whole, 600, 4096) as video:
        times = [f.time for f in video.frames(0.25, 600)]
        assert times[0] == pytest.approx(0.0) and times[-1] == pytest.approx(9.76) and not video.unchecked
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with open_video(cut, 600, 4096) as video:
        list(video.frames(0.25, 600))
        assert any("the video stream stops at 0:03" in r and "of the 0:10.00 its container declares" in r
                   for r in video.unchecked), video.unchecked


def test_a_cover_picture_is_named_as_not_checked_and_the_moving_stream_is_checked(restricted_card, tmp_path):
    """Red team (issue #14): a clip's cover picture (attached picture stream) can show a student the
    clip never does; it is not decoded, so it is named as not checked (a review); the stream checked
    is the moving one, whichever comes first."""
    clip = with_cover(tmp_path / "cover.mp4", 2, restricted_card)
    with open_video(clip, 600, 4096) as video:
        assert video.codec == "h264"
        assert len(list(video.frames(0.25, 600))) == 8
        assert len(video.unchecked) == 1 and "2 video streams" in video.unchecked[0], video.unchecked
        assert "cover picture" in video.unchecked[0]


def test_a_time_that_jumps_back_does_not_stop_the_sampling(tmp_path):
    """Red team (issue #14): frames were sampled when their time reached the next multiple of
    ``video_sample_seconds``, so after a timestamp discontinuity (a joined or re-muxed recording)
    every frame whose time the clip had already passed was skipped: a whole second on screen (a
    restricted student's face in it) was never looked at, and the clip still ended on time."""
    clip = time_jumps_back(tmp_path / "joined.webm")
    with open_video(clip, 600, 4096) as video:
        frames = list(video.frames(0.25, 600))
        assert not video.unchecked, video.unchecked
    bright = [f.time for f in frames if f.rgb[0, 0, 0] > 125]
    assert len(bright) >= 7, bright  # 2 s of bright frames, one sampled per 0.25 s (one second's jumped back)
