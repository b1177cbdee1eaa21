"""Safe copies of videos (issue #14): real clips made from the real test faces with PyAV, redacted,
decoded again and re-checked for real. R (photo-restricted) and C (clear) as in tests/test_video.py.

Until the tracker's ``video.tracks`` reach the check result, documents with tracks are made by hand
(the shape the tracker writes: ``{"id", "verdict", "student_number", "boxes": [[t, x1, y1, x2, y2]]}``),
and a real check's document without tracks is redacted from its face entries."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from consentguard import Policy, open_db
from consentguard.cli import cli
from consentguard.errors import ConsentGuardError
from consentguard.inspect.video import sha256_file
from consentguard.output.redact_video import Track, redact_video, spans, tracks_of

from conftest import R
from helpers.videos import head_card, make_clip


def frames_of(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def changed(a: np.ndarray, b: np.ndarray, box) -> float:
    """Mean absolute difference of two frames inside ``box`` (0: the same pixels)."""
    x1, y1, x2, y2 = (int(c) for c in box)
    return float(np.abs(a[y1:y2, x1:x2].astype(int) - b[y1:y2, x1:x2]).mean())


def hand_doc(clip, tracks, frames: int, verdict: str = "block", unchecked=()) -> dict:
    """A check result document as the tracker writes it, for a clip whose faces are known."""
    return {"path": str(clip), "sha256": sha256_file(clip), "verdict": verdict, "reasons": ["by hand"],
            "faces": [], "names": [], "student_numbers": [],
            "video": {"frames_decoded": frames, "sample_seconds": 0.25, "unchecked": list(unchecked),
                      "tracks": tracks}}


def samples(start: float, end: float, box, step: float = 0.25) -> list[list[float]]:
    return [[round(t, 2), *box] for t in np.arange(start, end + 1e-6, step)]


# ---- the pure parts -----------------------------------------------------------------------------

def test_a_track_box_is_interpolated_between_samples_and_held_one_step_at_its_ends():
    track = Track.of({"id": 1, "verdict": "block", "student_number": R,
                      "boxes": [[4.0, 0, 0, 10, 10], [4.25, 10, 0, 20, 10]]})
    assert track.box_at(4.125, 0.25) == (5, 0, 15, 10)  # a frame between two samples
    assert track.box_at(3.8, 0.25) == (0, 0, 10, 10)    # entering between two samples
    assert track.box_at(4.5, 0.25) == (10, 0, 20, 10)
    assert track.box_at(3.7, 0.25) is None and track.box_at(4.6, 0.25) is None
    gap = Track.of({"id": 2, "verdict": "pass", "student_number": None,
                    "boxes": [[1.0, 0, 0, 10, 10], [3.0, 0, 0, 10, 10]]})
    assert gap.box_at(2.0, 0.25) == (0, 0, 10, 10)  # hidden across samples it was not seen in
    assert gap.box_at(2.0, 0.25, across_gaps=False) is None  # but a passed face is not stretched over them


def test_a_result_without_tracks_is_redacted_from_its_face_entries():
    doc = {"faces": [{"verdict": "block", "student_number": R, "box": [1, 2, 3, 4], "start": 4.0, "end": 5.0}],
           "video": {}}
    track, = tracks_of(doc, 0.25)
    assert track.verdict == "block" and track.times == [4.0, 4.25, 4.5, 4.75, 5.0]
    assert track.box_at(4.6, 0.25, across_gaps=False) == (1, 2, 3, 4)


def test_moments_are_reported_as_spans():
    assert spans([0.04, 0.0, 0.08, 3.0, 3.04]) == [(0.0, 0.08), (3.0, 3.04)]


# ---- refusals: no copy that could look safe -----------------------------------------------------

@pytest.fixture(scope="module")
def plain_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("plain") / "plain.mp4", 1, [], fps=10)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(verdict="error", reasons=["x.mp4: not a readable video"]),
     "the check ended in an error (x.mp4: not a readable video): no safe copy"),
    (lambda d: d.update(sha256="0" * 64), "not the clip that was checked (its content differs): no safe copy"),
    (lambda d: d["video"].update(unchecked=["the video stream stops at 0:00.50"]),
     "parts of the clip were not checked (the video stream stops at 0:00.50): no safe copy, since a copy of a "
     "clip not fully checked would look safe"),
    (lambda d: d["video"].pop("unchecked"), "the result does not say whether every part of the clip was read"),
    (lambda d: d.pop("video"), "the result given is not a video's check result"),
])
def test_a_result_a_copy_must_not_be_made_from_is_refused(plain_clip, tmp_path, change, message):
    doc = hand_doc(plain_clip, [], 10)
    change(doc)
    with pytest.raises(ConsentGuardError) as refused:
        redact_video(plain_clip, tmp_path / "safe.mp4", doc, Policy())
    assert str(refused.value).startswith(f"{plain_clip}: ") and message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_an_output_that_cannot_hold_h264_is_refused(plain_clip, tmp_path):
    with pytest.raises(ConsentGuardError, match=r"safe\.webm: cannot write a video safe copy with this extension"):
        redact_video(plain_clip, tmp_path / "safe.webm", hand_doc(plain_clip, [], 10), Policy())
    with pytest.raises(ConsentGuardError, match=r"safe\.mp4: cannot write the safe copy there: No such file"):
        redact_video(plain_clip, tmp_path / "gone" / "safe.mp4", hand_doc(plain_clip, [], 10), Policy())


# ---- real clips, real faces ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def concert(restricted_card, tmp_path_factory):
    """10 s at 25 fps with AAC sound and a title naming the student; R's face from 4 s to 6 s."""
    return make_clip(tmp_path_factory.mktemp("concert") / "concert.mp4", 10, [(4, 6, restricted_card)],
                     sound="aac", title="Marcus Ellery at the spring concert")


@pytest.fixture(scope="module")
def concert_safe(checker, concert, tmp_path_factory):
    doc = checker.check_path(concert).to_json()
    assert doc["verdict"] == "block", doc["reasons"]
    folder = tmp_path_factory.mktemp("safe")
    done = redact_video(concert, folder / "concert.safe.mp4", doc, checker.policy)
    return doc, done, folder / "concert.safe.mp4"


@pytest.mark.faces
@pytest.mark.slow
def test_a_restricted_face_is_hidden_in_every_frame_it_is_in(concert, concert_safe, restricted_card):
    from consentguard.inspect.faces import find_and_encode

    doc, done, safe = concert_safe
    box = find_and_encode(restricted_card)[0].box
    before, after = frames_of(concert), frames_of(safe)
    assert len(after) == len(before) == 250
    on_screen = range(100, 150)  # 4.00 s to 5.96 s: every frame, 7 of each 8 not sampled by the check
    assert all(changed(after[i], before[i], box) > 20 for i in on_screen), \
        [round(changed(after[i], before[i], box), 1) for i in on_screen]
    assert all(changed(after[i], before[i], box) < 3 for i in (0, 50, 98, 152, 249))  # nothing hidden there
    assert done.tracks["block"] and done.frames == 250 and done.duration == pytest.approx(9.96)


@pytest.mark.faces
@pytest.mark.slow
def test_re_checking_the_safe_copy_finds_no_restricted_face(checker, concert_safe):
    _, _, safe = concert_safe
    again = checker.check_path(safe)
    assert again.verdict != "block", again.reasons
    assert all(f.student_number != R for f in again.decision.faces), again.reasons


@pytest.mark.faces
@pytest.mark.slow
def test_the_safe_copy_keeps_sound_rate_and_frames_and_drops_all_metadata(concert, concert_safe):
    import av

    _, done, safe = concert_safe
    assert os.stat(safe).st_mode & 0o777 == 0o600
    assert [p.name for p in safe.parent.iterdir()] == [safe.name]  # no temporary file left
    assert done.sound == ["aac copied"]
    with av.open(str(concert)) as c:
        source_audio = float(c.streams.audio[0].duration * c.streams.audio[0].time_base)
        rate = c.streams.video[0].average_rate
    with av.open(str(safe)) as c:
        video, audio = c.streams.video[0], c.streams.audio[0]
        assert video.codec_context.name == "h264" and video.codec_context.pix_fmt == "yuv420p"
        assert video.average_rate == rate and video.frames == 250
        assert float(audio.duration * audio.time_base) == pytest.approx(source_audio, abs=0.1)
        assert float(audio.duration * audio.time_base) == pytest.approx(10.0, abs=0.1)
        tags = {**c.metadata, **video.metadata, **audio.metadata}
        assert not any("Marcus" in str(v) or "concert" in str(v).lower() for v in tags.values()), tags
        assert "title" not in tags and not c.chapters()
        assert [s.type for s in c.streams] == ["video", "audio"]  # no subtitles, data or cover pictures


@pytest.mark.faces
@pytest.mark.slow
def test_a_passed_face_stays_sharp(checker, faces, tmp_path):
    card = head_card(faces.clear_other)
    clip = make_clip(tmp_path / "permitted.mp4", 3, [(1, 2, card)], fps=25)
    doc = checker.check_path(clip).to_json()
    assert doc["verdict"] == "pass", doc["reasons"]
    done = redact_video(clip, tmp_path / "safe.mp4", doc, checker.policy)
    box = doc["faces"][0]["box"]
    before, after = frames_of(clip), frames_of(tmp_path / "safe.mp4")
    assert max(changed(after[i], before[i], box) for i in range(31, 49)) < 4  # only the new encoding's loss
    assert not done.tracks and not done.found_only


@pytest.mark.faces
@pytest.mark.slow
def test_a_face_the_check_never_judged_is_hidden_by_the_per_frame_search(faces, tmp_path):
    """A face seen in no sampled frame (here: a result that lists no face at all, as a check that
    missed it would) is still hidden in every frame it is in, and said to be."""
    card = head_card(faces.clear_other)
    clip = make_clip(tmp_path / "missed.mp4", 2, [(0.5, 1.5, card)], fps=25)
    done = redact_video(clip, tmp_path / "safe.mp4", hand_doc(clip, [], 50, verdict="pass"), Policy())
    before, after = frames_of(clip), frames_of(tmp_path / "safe.mp4")
    h, w = card.shape[:2]
    centre = (w // 2 - 40, h // 2 - 60, w // 2 + 40, h // 2 + 20)
    assert all(changed(after[i], before[i], centre) > 15 for i in range(13, 37))
    assert spans(done.found_only) == [(pytest.approx(0.52, abs=0.05), pytest.approx(1.48, abs=0.05))]


@pytest.mark.faces
@pytest.mark.slow
def test_a_moving_face_is_followed_between_samples(restricted_card, tmp_path):
    """A face sliding right 8 px a frame: the hidden box follows it between the tracker's samples."""
    from consentguard.inspect.faces import find_and_encode

    x1, y1, x2, y2 = find_and_encode(restricted_card)[0].box
    grey = np.full_like(restricted_card, 100)
    scenes = []
    for i in range(25):  # one second at 25 fps, each frame its own scene
        frame = grey.copy()
        shift = i * 8 - 96
        frame[:, max(0, shift):min(640, 640 + shift)] = restricted_card[:, max(0, -shift):min(640, 640 - shift)]
        scenes.append((i / 25, (i + 1) / 25, frame))
    clip = make_clip(tmp_path / "slide.mp4", 1, scenes, fps=25)
    boxes = [[round(k * 0.24, 2), x1 + k * 6 * 8 - 96, y1, x2 + k * 6 * 8 - 96, y2] for k in range(5)]  # frames 0, 6, 12, ...
    doc = hand_doc(clip, [{"id": 1, "verdict": "block", "student_number": R, "boxes": boxes}], 25)
    redact_video(clip, tmp_path / "safe.mp4", doc, Policy(redact_video_every=1))
    before, after = frames_of(clip), frames_of(tmp_path / "safe.mp4")
    for i in (3, 9, 15, 21):  # between samples
        shift = i * 8 - 96
        assert changed(after[i], before[i], (x1 + shift + 20, y1 + 20, x2 + shift - 20, y2 - 20)) > 15, i


@pytest.mark.faces
@pytest.mark.slow
@pytest.mark.parametrize("name, codec, sound", [("IMG_0042.MOV", "libx265", "aac"), ("clip.webm", "libvpx-vp9", "libopus")])
def test_a_rotated_hevc_phone_clip_comes_out_upright_with_its_sound(checker, restricted_card, tmp_path, name, codec, sound):
    """An iPhone clip (HEVC, AAC, stored turned with a display rotation) and a WebM (VP9, Opus): the
    copy is H.264 in MP4, upright with no rotation left, the face hidden, the sound kept."""
    import av

    rotation = -90 if codec == "libx265" else None
    clip = make_clip(tmp_path / name, 2, [(0.5, 1.5, restricted_card)], fps=10, codec=codec, sound=sound,
                     rotation=rotation)
    doc = checker.check_path(clip).to_json()
    assert doc["verdict"] == "block", doc["reasons"]
    done = redact_video(clip, tmp_path / "safe.mp4", doc, checker.policy)
    with av.open(str(tmp_path / "safe.mp4")) as c:
        frames = list(c.decode(video=0))
        assert all((f.width, f.height, f.rotation) == (640, 360, 0) for f in frames)
        assert c.streams.video[0].codec_context.name == "h264" and len(c.streams.audio) == 1
    assert done.sound == (["aac copied"] if sound == "aac" else ["opus copied"])
    upright = frames[10].to_ndarray(format="rgb24")  # 1.0 s: the card, shown as the phone showed it
    blocked, = [f for f in doc["faces"] if f["verdict"] == "block"]
    assert changed(upright, restricted_card, blocked["box"]) > 20  # the face hidden
    x1, y1, x2, y2 = blocked["box"]
    assert changed(upright, restricted_card, (0, 0, 640, max(1, y1 - 80))) < 8  # the rest upright, as shown


@pytest.mark.faces
@pytest.mark.slow
def test_sound_the_container_cannot_take_is_encoded_to_aac(tmp_path):
    import av

    clip = make_clip(tmp_path / "clip.mov", 1, [], fps=10, sound="pcm_s16le")
    done = redact_video(clip, tmp_path / "safe.mp4", hand_doc(clip, [], 10, verdict="pass"), Policy())
    assert done.sound == ["pcm_s16le encoded to aac"]
    with av.open(str(tmp_path / "safe.mp4")) as c:
        audio = c.streams.audio[0]
        assert audio.codec_context.name == "aac"
        assert float(audio.duration * audio.time_base) == pytest.approx(1.0, abs=0.1)


@pytest.mark.faces
def test_a_frame_that_cannot_be_decoded_refuses_the_copy(tmp_path):
    """A result that missed the damage (made by hand here): the copy still refuses, naming the file."""
    clip = make_clip(tmp_path / "whole.mp4", 2, [], fps=10)
    data = bytearray(clip.read_bytes())
    at = data.find(b"mdat") + len(data) // 3
    data[at:at + 400] = bytes(400)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ConsentGuardError, match=r"damaged\.mp4: a frame after 0:0\d\.\d\d cannot be decoded"):
        redact_video(damaged, tmp_path / "safe.mp4", hand_doc(damaged, [], 20, verdict="pass"), Policy())


# ---- the command line ---------------------------------------------------------------------------

@pytest.mark.faces
@pytest.mark.slow
def test_redact_a_clip_on_the_command_line(face_roster, restricted_card, tmp_path):
    from consentguard.store import audit

    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    clip = make_clip(tmp_path / "assembly.mp4", 3, [(1, 2, restricted_card)], fps=10, sound="aac")
    r = CliRunner().invoke(cli, ["redact", str(clip), "--out", str(tmp_path / "assembly.safe.mp4"), "--db", str(db)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == (f"BLOCK   {clip}: safe copy of 0:02.90 (30 frames; sound: aac copied), all metadata removed "
                        f"-> {tmp_path / 'assembly.safe.mp4'}")
    assert lines[1].startswith("        hidden: 1 face with verdict block (0:00.8") and lines[1].endswith("-0:02.00)")
    assert lines[2] == "        hidden: no other face found by the per-frame search"
    assert "matches photo-restricted Marcus Ellery" in lines[3]
    newest = audit.query(open_db(db), limit=1)[0]  # the clip's check, recorded as a photo's redaction is
    assert (newest["interface"], newest["file_name"], newest["verdict"]) == ("redact", "assembly.mp4", "block")


@pytest.mark.faces
def test_redact_a_clip_that_is_not_a_video_is_an_error_naming_it(face_roster, tmp_path):
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x14ftypisom")
    r = CliRunner().invoke(cli, ["redact", str(clip), "--out", str(tmp_path / "safe.mp4"), "--db", str(db)])
    assert r.exit_code == 1 and r.output.startswith(f"Error: {clip}: the check ended in an error ({clip}: not a "
                                                    "readable video")
    assert r.output.endswith("no safe copy\n") and r.output.count("\n") == 1
    assert not (tmp_path / "safe.mp4").exists()


@pytest.mark.faces
@pytest.mark.slow
def test_a_passed_track_leaves_no_face_visible_after_the_time_jumps_back(faces, tmp_path):
    """Red team (issue #14): joined recordings carry the same times twice. A track passed in the
    first recording (here at 0-1.5 s, held to 1.75 s) must not leave visible a face the check never
    judged that stands at its place in the second recording at those times again (its frames carry
    1.08-1.96 s after the jump)."""
    from consentguard.inspect.faces import detect_faces

    from helpers.videos import head, stage, time_jumps_back

    picture = stage([(head(faces.restricted_other, 150), 110, 40)], (320, 240))
    policy = Policy()
    (face,) = detect_faces(picture, policy.detect_mode, policy.face_promises, video=True)
    blank = np.full_like(picture, 100)
    clip = time_jumps_back(tmp_path / "joined.webm", picture=blank, second=picture)
    passed = [{"id": 1, "verdict": "pass", "student_number": None,
               "boxes": samples(0, 1.5, [int(c) for c in face.box])}]
    done = redact_video(clip, tmp_path / "safe.mp4", hand_doc(clip, passed, 100, verdict="review"), policy)
    before, after = frames_of(clip), frames_of(tmp_path / "safe.mp4")
    assert len(after) == 100
    assert min(changed(after[i], before[i], face.box) for i in range(50, 100)) > 15  # hidden before and after 3 s
    assert done.found_only
