"""Text in videos (issue #14): OCR on sampled frames, with when, and every text the container
carries: metadata keys of the container and its streams, QuickTime keys, chapter titles,
subtitle streams, XMP packets. Real clips written with PyAV, decoded for real.

N (Priya Natarajan) is name-restricted, R (Marcus Ellery) photo-restricted, as in conftest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from consentguard import Checker, Policy, open_db
from consentguard.inspect import video as video_module
from consentguard.inspect.video import READ, SAME, SKIP, TextFrames, container_texts, subtitle_cues, xmp_texts

from conftest import N, R, scan_twice
from helpers.video_texts import text_clip, title_card, with_xmp_box, xmp_packet


@pytest.fixture(scope="module")
def title_2_to_4(tmp_path_factory):
    """6 s at 10 fps: Priya Natarajan's name as a lower third from 2 s to 4 s, grey elsewhere."""
    return text_clip(tmp_path_factory.mktemp("titles") / "award.mp4", 6, [(2, 4, title_card("Priya Natarajan"))])


def _names(result, source_start: str = "") -> list[dict]:
    doc = json.loads(json.dumps(result.to_json()))
    return [n for n in doc["names"] if n["source"].startswith(source_start)]


# -- which frames are read ----------------------------------------------------------------------

def test_frames_that_look_the_same_are_read_once_and_a_new_title_at_once():
    grey = np.full((360, 640, 3), 100, np.uint8)
    titled = title_card("Priya Natarajan")
    frames = TextFrames(every=1.0)
    looks = [frames.look(t, grey) for t in (0.0, 0.25, 0.5, 0.75, 1.0, 1.25)]
    assert looks == [READ, SAME, SAME, SAME, SAME, SAME]  # nothing changed: one read
    assert frames.look(1.5, titled) == READ  # a title appears: read at once (0.5 s after the last read)
    assert frames.look(1.75, grey) == SKIP  # gone again, 0.25 s after a read: not read
    assert frames.look(2.0, grey) == READ  # changed a lot, half a period after the last read
    assert frames.look(2.25, titled) == SKIP
    assert frames.look(2.5, np.full_like(grey, 104)) == SKIP  # a small change, half a period after a read
    assert frames.look(3.0, np.full_like(grey, 104)) == READ  # a period since the last read, not the same
    assert frames.read == 4


def test_a_frame_that_keeps_changing_a_little_is_read_once_per_period():
    frames = TextFrames(every=1.0)
    base = np.full((360, 640, 3), 100, np.uint8)
    looks = []
    for k in range(9):
        noisy = np.clip(base.astype(int) + 8 * k, 0, 255).astype(np.uint8)  # slow fade: not the same, no cut
        looks.append(frames.look(k * 0.25, noisy))
    assert looks.count(READ) == 3, looks  # 0.0, 1.0, 2.0


def test_a_camera_panning_is_no_new_title_but_a_title_over_it_is():
    """A textured scene moving 15 px per sampled frame (a phone in a hand) is read once per period,
    not at every change; a lower third appearing over it is read at once."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(7)
    scene = Image.fromarray(rng.integers(0, 255, (54, 192, 3), dtype=np.uint8)).resize((1920 * 2, 1080), Image.BICUBIC)
    draw = ImageDraw.Draw(scene)
    for k in range(40):  # hard edges: people, chairs, a stage
        x, y = rng.integers(0, 3700), rng.integers(0, 900)
        draw.rectangle((x, y, x + 120, y + 180), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    big = np.asarray(scene)

    def at(k: int) -> np.ndarray:
        return np.ascontiguousarray(big[:, 15 * k:15 * k + 1920])

    frames = TextFrames(every=1.0)
    looks = [frames.look(k * 0.25, at(k)) for k in range(9)]
    assert looks.count(READ) == 3, looks  # 0, 1 and 2 s: the period, not every half second
    titled = np.array(at(10))
    titled[900:990] = title_card("Priya Natarajan", (1920, 90), font_px=48)[:90]
    assert frames.look(2.5, titled) == READ


# -- text the container carries (no face models) ------------------------------------------------

def test_every_text_key_chapters_and_quicktime_keys_but_not_technical_keys(tmp_path):
    import av

    clip = text_clip(tmp_path / "iphone.mov", 1, chapters=[(0, 1, "Intro by Priya Natarajan")],
                     metadata={"com.apple.quicktime.description": "Priya Natarajan sings",
                               "com.apple.quicktime.model": "iPhone 15", "copyright": "Priya Natarajan's mum"},
                     stream_metadata={"encoder": "Priya Natarajan", "title": "Camera of Priya Natarajan"})
    with av.open(str(clip)) as container:
        fields = {f.field: f for f in container_texts(container)}
    assert fields["video com.apple.quicktime.description"].text == "Priya Natarajan sings"
    assert fields["video copyright"].text == "Priya Natarajan's mum"  # not on the old whitelist
    assert fields["stream #0 name"].text == "Camera of Priya Natarajan"  # a QuickTime track name
    assert fields["chapter 1 title"].text == "Intro by Priya Natarajan"
    assert fields["chapter 1 title"].seconds == (0.0, 1.0)
    assert not any(k.endswith((" encoder", "handler_name", "quicktime.model", "major_brand")) for k in fields), fields


@pytest.mark.parametrize("suffix,codec", [(".mp4", "mov_text"), (".mkv", "subrip"), (".webm", "webvtt")])
def test_subtitle_cues_with_their_time(tmp_path, suffix, codec):
    clip = text_clip(tmp_path / f"subs{suffix}", 3, subtitles=[(1.0, 2.5, "Go {\\b1}Priya{\\b0} Natarajan!"),
                                                                (2.5, 3.0, "Thanks")])
    cues, unread = subtitle_cues(clip)
    assert unread == []
    assert [(c.field, c.text, c.seconds) for c in cues] == [
        ("subtitle stream #1", "Go Priya Natarajan!" if codec != "webvtt" else cues[0].text, (1.0, 2.5)),
        ("subtitle stream #1", "Thanks", (2.5, 3.0))]
    assert "Priya" in cues[0].text and "Natarajan" in cues[0].text


def test_ass_cues_lose_their_styling_and_a_cue_whose_words_are_dropped_is_named(tmp_path):
    clip = text_clip(tmp_path / "styled.mkv", 2, subtitle_codec="ass", subtitles=[
        (0.5, 1.0, "0,0,Default,,0,0,0,,{\\b1}Priya{\\b0}\\NNatarajan wins"), (1.0, 1.5, "1,0,Default,,0,0,0,,")])
    cues, unread = subtitle_cues(clip)
    assert [(c.text, c.seconds) for c in cues] == [("Priya Natarajan wins", (0.5, 1.0))] and unread == []
    broken = text_clip(tmp_path / "broken.mkv", 2, subtitle_codec="ass", subtitles=[(0.5, 1.0, "Priya Natarajan")])
    cues, unread = subtitle_cues(broken)  # not an ASS event: the decoder drops its words
    assert cues == [] and len(unread) == 1, unread
    assert "subtitle stream #1 was not read" in unread[0] and "decoded to nothing" in unread[0]


def test_xmp_packet_is_found_across_chunks_and_a_cut_one_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(video_module, "XMP_CHUNK", 64)  # the packet spans many chunks, markers cut in two
    clip = with_xmp_box(text_clip(tmp_path / "premiere.mp4", 1), xmp_packet(title="Priya Natarajan at the fair"))
    fields, unread = xmp_texts(clip, (640, 360))
    assert [(f.field, f.text) for f in fields] == [("XMP dc:title", "Priya Natarajan at the fair")] and unread == []
    with open(clip, "ab") as f:
        f.write(b"uuid<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta>")  # cut off: no end
    fields, unread = xmp_texts(clip, (640, 360))
    assert len(fields) == 1 and len(unread) == 1 and "has no end" in unread[0], unread


def test_an_xmp_packet_that_is_not_xml_is_named(tmp_path):
    clip = with_xmp_box(text_clip(tmp_path / "bad.mp4", 1),
                        b"<?xpacket begin='' id='x'?><x:xmpmeta><rdf:RDF><oops></x:xmpmeta><?xpacket end='w'?>")
    fields, unread = xmp_texts(clip, (640, 360))
    assert fields == [] and len(unread) == 1 and "XMP packet cannot be read" in unread[0], unread


# -- the whole check ----------------------------------------------------------------------------

@pytest.mark.faces
@pytest.mark.slow
def test_name_burned_into_frames_from_2_to_4_seconds_blocks_once_with_when(checker, title_2_to_4):
    result = checker.check_path(title_2_to_4)
    assert result.verdict == "block", result.reasons  # a name-restricted full name read in a photo blocks
    hits = _names(result, "ocr")
    assert len(hits) == 1, hits  # one showing, one entry (not one per frame read)
    hit = hits[0]
    assert hit["student_number"] == N and hit["form"] == "full" and hit["strength"] == "block"
    assert hit["start"] == pytest.approx(2.0, abs=0.3) and hit["end"] == pytest.approx(4.0, abs=0.3)
    assert hit["view"] == "the frame at 0:02.00" and len(hit["box"]) == 4
    reason = next(r for r in result.reasons if r.startswith("ocr"))
    assert reason.startswith("ocr in the frame at 0:02.00 at ") and "(from 0:02.00 to 0:03." in reason, reason
    assert "names name-restricted Priya Natarajan" in reason
    video = result.to_json()["video"]
    assert video["ocr"] is True and video["ocr_seconds"] == 1.0
    assert 2 <= video["frames_read_for_text"] <= 6, video  # not every sampled frame (24)


@pytest.mark.faces
@pytest.mark.slow
def test_photo_restricted_full_name_in_frames_is_a_review_as_in_photos(checker, tmp_path):
    clip = text_clip(tmp_path / "tag.mp4", 2, [(0.5, 2, title_card("Marcus Ellery"))])
    result = checker.check_path(clip)
    assert result.verdict == "review", result.reasons
    (hit,) = _names(result, "ocr")
    assert hit["student_number"] == R and hit["restriction"] == "photo" and hit["strength"] == "review"


@pytest.mark.faces
@pytest.mark.slow
def test_ocr_off_reads_no_frame_and_says_so(face_roster, title_2_to_4):
    result = Checker(open_db(face_roster), record=False, policy=Policy(ocr=False)).check_path(title_2_to_4)
    assert result.verdict == "pass", result.reasons
    video = result.to_json()["video"]
    assert video["ocr"] is False and video["frames_read_for_text"] == 0
    assert "text inside the frames was not read (ocr is off)" in video["ocr_note"]


@pytest.mark.faces
@pytest.mark.parametrize("suffix", [".mp4", ".webm"])  # MKV is not a clip checked (yet): its cues are read above
def test_name_in_a_subtitle_track_blocks_with_the_cue_time(face_roster, tmp_path, suffix):
    clip = text_clip(tmp_path / f"speech{suffix}", 3, subtitles=[(1.0, 2.5, "Well done Priya Natarajan")])
    result = Checker(open_db(face_roster), record=False, policy=Policy(ocr=False)).check_path(clip)
    assert result.verdict == "block", result.reasons
    (hit,) = _names(result, "metadata:subtitle")
    assert hit["source"] == "metadata:subtitle stream #1" and (hit["start"], hit["end"]) == (1.0, 2.5)
    assert any(r.startswith("metadata:subtitle stream #1 (from 0:01.00 to 0:02.50) names name-restricted")
               for r in result.reasons), result.reasons


@pytest.mark.faces
def test_name_in_chapter_title_xmp_and_quicktime_key_is_found(face_roster, tmp_path):
    clip = text_clip(tmp_path / "IMG_0042.mov", 2, chapters=[(0, 2, "Solo: Priya Natarajan")],
                     metadata={"com.apple.quicktime.description": "Priya Natarajan's recital"})
    with_xmp_box(clip, xmp_packet(description="Priya Natarajan and friends"))
    result = Checker(open_db(face_roster), record=False, policy=Policy(ocr=False)).check_path(clip)
    assert result.verdict == "block", result.reasons
    sources = {n["source"] for n in _names(result) if n["student_number"] == N}
    assert sources == {"metadata:chapter 1 title", "metadata:video com.apple.quicktime.description",
                       "metadata:XMP dc:description"}, sources
    assert result.to_json()["video"]["xmp_fields"] == 1


@pytest.mark.faces
def test_name_in_a_technical_key_is_not_searched(face_roster, tmp_path):
    clip = text_clip(tmp_path / "clip.mp4", 1, stream_metadata={"encoder": "Priya Natarajan",
                                                                  "handler_name": "Priya Natarajan"})
    result = Checker(open_db(face_roster), record=False, policy=Policy(ocr=False)).check_path(clip)
    assert result.verdict == "pass", result.reasons
    assert _names(result) == []


@pytest.mark.faces
def test_an_unreadable_xmp_packet_is_a_review(face_roster, tmp_path):
    clip = with_xmp_box(text_clip(tmp_path / "clip.mp4", 1), b"<?xpacket begin='' id='x'?><x:xmpmeta><oops>")
    result = Checker(open_db(face_roster), record=False, policy=Policy(ocr=False)).check_path(clip)
    assert result.verdict == "review", result.reasons
    assert any("XMP packet at byte" in r and "not checked" in r for r in result.reasons), result.reasons


@pytest.mark.faces
@pytest.mark.slow
def test_scan_keeps_when_of_names_fresh_and_from_the_cache(face_roster, tmp_path):
    """The scan's worker reads the frames' text and the subtitles; the second scan decides the clip
    again from the cached evidence and says the same, times included."""
    root = tmp_path / "event"
    root.mkdir()
    text_clip(root / "awards.mp4", 3, [(1, 2, title_card("Priya Natarajan"))],
              subtitles=[(0.5, 1.5, "Our winner, Priya Natarajan")])
    scan, by_name = scan_twice(face_roster, root, tmp_path)
    assert [list(found) for found in by_name] == [["awards.mp4"]] * 2
    docs = [found["awards.mp4"] for found in by_name]
    assert scan.cached == 1
    for doc in docs:
        assert doc["verdict"] == "block"
        spans = sorted((n["source"], n["start"], n["end"]) for n in doc["names"])
        assert spans[0][0] == "metadata:subtitle stream #1" and spans[0][1:] == (0.5, 1.5)
        assert spans[1][0] == "ocr" and spans[1][1] == pytest.approx(1.0, abs=0.3)
        assert spans[1][2] == pytest.approx(2.0, abs=0.3)
    assert docs[0]["names"] == docs[1]["names"] and docs[0]["reasons"] == docs[1]["reasons"]


@pytest.mark.faces
def test_a_subtitle_stream_of_pictures_is_a_review(face_roster, tmp_path):
    """DVD subtitles are pictures: their words cannot be searched, so the clip is not passed."""
    clip = text_clip(tmp_path / "dvd.mp4", 1, subtitle_codec="dvd_subtitle", subtitles=[(0.2, 0.8, "pixels")])
    result = Checker(open_db(face_roster), record=False, policy=Policy(ocr=False)).check_path(clip)
    assert result.verdict == "review", result.reasons
    assert any("subtitle stream #1 was not read: it is pictures" in r for r in result.reasons), result.reasons
