"""Safe copies of video clips: every face that did not pass hidden in every frame, sound kept,
every piece of metadata gone (issue #14).

Stage: **output**. The copy is made from a clip's check result (``Checker.check_video(...).to_json()``)
and the clip itself, decoded frame by frame and encoded afresh (H.264, yuv420p), never held whole.
What is hidden in each decoded frame, not only in the sampled ones the check looked at:

1. every face track of the result whose verdict is not "pass", its box interpolated between the
   sampled frames it was seen in and held for one sample step (``video_sample_seconds``) before
   its first and after its last (a face entering or leaving between two samples);
2. every face a quick search of the frame itself finds (CenterFace proposals at the scale that
   finds faces of ``thorough_face_px``, every ``redact_video_every`` frames, boxes carried to the
   frames between) that does not lie on a passed track there (IoU >= ``PASSED_IOU``): a face the
   check never judged is never left visible (after a time that jumps back, joined recordings whose
   times repeat, a passed track's box could be the other recording's: no face found is left there);
3. the boxes of restricted names read in the frames, for the time they were seen.

Each area is grown by ``redact_grow`` and pixelated and blurred as a photo's safe copy is
(:func:`consentguard.output.redact.hide`). Frames keep their times (same frame rate and duration);
a phone clip's rotation is applied to the pixels, so no rotation tag is left. Sound is copied as
it is where the output container takes its codec, else encoded to AAC. Nothing else is written:
no container or stream tags, chapters, subtitles, cover pictures or data streams.

Fail closed: no copy of a clip whose check ended in an error, that is not the clip checked (its
SHA-256), that was not read whole (the result's unchecked parts: a copy of a clip not fully checked
must not look safe), or in which a frame cannot be decoded now. The copy is written to a private
(0600) temporary file beside the target and renamed only when complete.
"""

from __future__ import annotations

import bisect
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from consentguard.errors import ConsentGuardError
from consentguard.inspect.video import _upright, clock, open_video, sha256_file
from consentguard.output.redact import hide

#: The safe copy's container by the target's extension (H.264 in each).
OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}
#: Sound codecs copied as they are into each container (FFmpeg's names); any other is encoded to AAC.
COPY_AUDIO = {"mp4": frozenset({"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}),
              "mov": frozenset({"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s16be", "pcm_s24le",
                                "pcm_f32le"})}
#: A face the per-frame search finds is left visible only where it lies on a passed track by at least
#: this IoU (dlib-style boxes compared; the photo's review matching uses the same 0.3, SAME_FACE_IOU).
PASSED_IOU = 0.3
#: libx264's settings: "veryfast" keeps encoding a small share of the work (scripts/bench_redact_video.py);
#: CRF 20 is visually close to the source.
X264_OPTIONS = {"preset": "veryfast", "crf": "20"}
#: Hidden moments closer than this (s) are reported as one span.
SPAN_GAP = 0.5


@dataclass
class Track:
    """A face track of the check result: its verdict and its boxes at the sampled frames it was seen in."""

    id: int
    verdict: str
    student_number: str | None
    times: list[float]
    boxes: list[tuple[float, float, float, float]]

    @classmethod
    def of(cls, doc: dict) -> Track:
        rows = sorted((float(r[0]), tuple(float(c) for c in r[1:5])) for r in doc["boxes"])
        return cls(int(doc["id"]), doc["verdict"], doc.get("student_number"), [t for t, _ in rows],
                   [b for _, b in rows])

    def box_at(self, t: float, hold: float, across_gaps: bool = True) -> tuple | None:
        """The box at ``t``: interpolated between the samples around it, the first (last) box up to
        ``hold`` seconds before (after) them, else None. ``across_gaps`` False: only where a sample
        is within ``hold`` (a passed track's box, which leaves a face visible, is never stretched
        over sampled frames in which the track was not seen)."""
        times = self.times
        if not times or t < times[0] - hold or t > times[-1] + hold:
            return None
        i = bisect.bisect_right(times, t)
        if i == 0:
            return self.boxes[0]
        if i == len(times):
            return self.boxes[-1]
        t0, t1 = times[i - 1], times[i]
        if not across_gaps and min(t - t0, t1 - t) > hold:
            return None
        a = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
        return tuple(p + (q - p) * a for p, q in zip(self.boxes[i - 1], self.boxes[i]))


@dataclass
class Redacted:
    """What a safe copy hid, for the person who made it (printed by ``consentguard redact``)."""

    path: str
    frames: int = 0
    duration: float = 0.0
    sound: list[str] = field(default_factory=list)          # per sound track: "aac copied", "pcm_s16le -> aac"
    tracks: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # verdict -> spans hidden
    found_only: list[float] = field(default_factory=list)   # times of frames with a face found only per frame
    names: int = 0                                           # name boxes hidden

    @property
    def found_only_spans(self) -> list[tuple[float, float]]:
        return spans(self.found_only)


def spans(times: list[float], gap: float = SPAN_GAP) -> list[tuple[float, float]]:
    """Sorted moments joined into (start, end) spans where they are less than ``gap`` apart."""
    out: list[list[float]] = []
    for t in sorted(times):
        if out and t - out[-1][1] < gap:
            out[-1][1] = t
        else:
            out.append([t, t])
    return [(a, b) for a, b in out]


def output_format(name: str) -> str:
    """The container of a safe copy named ``name``; a one-line error for any other extension."""
    suffix = Path(name).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ConsentGuardError(f"{name}: cannot write a video safe copy with this extension; use .mp4, .m4v or .mov")
    return OUTPUT_FORMATS[suffix]


def tracks_of(doc: dict, step: float) -> list[Track]:
    """The face tracks of a clip's result. A result made before tracks existed has one entry per
    person (``faces``, with ``start``/``end`` and a representative box): each becomes a track held at
    that box at every sample (``step``) from its start to its end; every face found per frame is then
    judged against those (a face that moved away from that box is hidden)."""
    video = doc.get("video") or {}
    if video.get("tracks") is not None:
        return [Track.of(t) for t in video["tracks"]]
    found = []
    for k, face in enumerate(doc.get("faces", [])):
        start = face.get("start", face.get("time"))
        end = face.get("end", start)
        if start is None or not face.get("box"):
            continue
        box = tuple(float(c) for c in face["box"])
        times = [float(t) for t in np.arange(start, end + step / 2, step)] or [float(start)]
        found.append(Track(-1 - k, face["verdict"], face.get("student_number"), times, [box] * len(times)))
    return found


def refuse_unsafe(src: str, doc: dict, sha256: str) -> None:
    """Refuse (one line naming the file) a result a safe copy must not be made from."""
    if doc.get("verdict") == "error":
        first = (doc.get("reasons") or ["no reason given"])[0]
        raise ConsentGuardError(f"{src}: the check ended in an error ({first}): no safe copy")
    video = doc.get("video")
    if not video:
        raise ConsentGuardError(f"{src}: the result given is not a video's check result: no safe copy")
    if doc.get("sha256") != sha256:
        raise ConsentGuardError(f"{src}: not the clip that was checked (its content differs): no safe copy; "
                                "check this file and make the copy from its result")
    unchecked = video.get("unchecked")
    if unchecked is None:
        raise ConsentGuardError(f"{src}: the result does not say whether every part of the clip was read "
                                "(made by an older version): check the clip again")
    if unchecked:
        raise ConsentGuardError(f"{src}: parts of the clip were not checked ({unchecked[0]}): no safe copy, "
                                "since a copy of a clip not fully checked would look safe; edit it by hand")


def name_boxes(doc: dict, hold: float) -> list[tuple[tuple, float, float]]:
    """Boxes of names read in the frames, with the time they are hidden (``start``/``end`` of the hit,
    held for ``hold``; a hit that says no time: the whole clip)."""
    found = []
    for hit in doc.get("names", []):
        if not hit.get("box"):
            continue
        start, end = hit.get("start"), hit.get("end", hit.get("start"))
        found.append((tuple(hit["box"]), -np.inf if start is None else start - hold,
                      np.inf if end is None else end + hold))
    return found


def redact_video(src: str | Path, dst: str | Path, doc: dict, policy,
                 progress: Callable[[float, float | None], None] | None = None) -> Redacted:
    """Write the safe copy of clip ``src`` to ``dst`` from its check result ``doc`` (see the module's
    docstring for what is hidden and refused). ``progress(seconds, duration)`` is called every
    second of video written."""
    src, dst = str(src), Path(dst)
    fmt = output_format(str(dst))
    refuse_unsafe(src, doc, sha256_file(src))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    except OSError as exc:
        raise ConsentGuardError(f"{dst}: cannot write the safe copy there: {exc.strerror or exc}") from exc
    os.close(fd)  # created 0600; FFmpeg writes it again in place
    try:
        summary = _write(src, tmp, fmt, doc, policy, progress)
        os.chmod(tmp, 0o600)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    summary.path = str(dst)
    return summary


def _write(src: str, tmp: str, fmt: str, doc: dict, policy, progress) -> Redacted:
    import av

    step = (doc.get("video") or {}).get("sample_seconds") or policy.video_sample_seconds
    hider = _Hider(tracks_of(doc, step), name_boxes(doc, step), step, policy)
    summary = Redacted(src)
    with open_video(src, policy.video_max_seconds, policy.video_max_side) as video, \
            av.open(tmp, "w", format=fmt, options={"movflags": "+faststart"}) as out:
        vin = video.stream
        sounds = [_Sound(s) for s in video.container.streams.audio]
        encoder = _Encoder(out, vin, lambda: [s.open(out, fmt) for s in sounds])  # the video stream first
        delayed = _Delay(hider, encoder, policy.redact_video_every)
        said, early = 0.0, []

        def undecodable(_at: float, why: str) -> None:
            raise ConsentGuardError(f"{src}: a frame after {clock(video.last or 0.0)} cannot be decoded ({why}): "
                                    "no safe copy (a frame not decoded could not be hidden)")

        def unreadable(why: str) -> None:
            raise ConsentGuardError(f"{src}: the video file could not be read after {clock(video.last or 0)} "
                                    f"({why}): no safe copy")

        for frame, t, packet in video.decode(undecodable, unreadable, *[s.source for s in sounds]):
            if packet is not None:
                sound = next(s for s in sounds if s.source is packet.stream)
                early.append((sound, packet))  # the file's header waits for the video stream
                if encoder.stream is not None:
                    early = _mux_sound(early)
                continue
            delayed.push(frame, t)  # t is the check's clock: tracks' times count from the first frame
            early = _mux_sound(early)
            if progress is not None and t >= said + 1.0:
                said = t
                progress(t, video.duration)
        delayed.flush()
        encoder.flush()
        _mux_sound(early)
        for sound in sounds:
            sound.flush()
        _same_frames(src, video, doc)
        summary.frames, summary.duration = video.decoded, round(video.last or 0.0, 3)
        summary.sound = [s.said for s in sounds]
    summary.tracks, summary.found_only, summary.names = hider.tracks_hidden(), hider.found_only, hider.names
    return summary


def _mux_sound(packets: list) -> list:
    """Write sound packets held back; nothing is left held."""
    for sound, packet in packets:
        sound.mux(packet)
    return []


def _same_frames(src: str, video, doc: dict) -> None:
    """The clip decoded now must be the clip the check decoded (same frames), or its tracks'
    boxes and times would not fit."""
    checked = (doc.get("video") or {}).get("frames_decoded")
    if checked is not None and checked != video.decoded:
        raise ConsentGuardError(f"{src}: {video.decoded} frames decoded now, {checked} when it was checked: "
                                "no safe copy (check it again)")


class _Hider:
    """Which boxes to hide in the frame at a given time: non-passed tracks, names read in frames,
    and the faces found in the frame itself that lie on no passed track."""

    def __init__(self, tracks: list[Track], names: list, step: float, policy):
        from consentguard.inspect.faces import PROPOSAL_FACE_PX

        self.hidden = [t for t in tracks if t.verdict != "pass"]
        self.passed = [t for t in tracks if t.verdict == "pass"]
        self.names_at, self.step, self.grow = names, step, policy.redact_grow
        #: the shrink that makes the smallest face the thorough mode promises PROPOSAL_FACE_PX wide for CenterFace
        self.scale = min(1.0, PROPOSAL_FACE_PX / policy.thorough_face_px)
        self.seen: dict[int, list[float]] = {}
        self.found_only: list[float] = []
        self.names = 0
        self.time: float | None = None
        self.jumped = False  # the time went back: times no longer say which recording a track was in

    def detect(self, frame, rotation: int) -> list[tuple]:
        """CenterFace proposals in the upright frame (no dlib confirmation: any face-like area counts)."""
        from consentguard.inspect.faces import propose_faces

        width = max(1, round(frame.width * self.scale))
        height = max(1, round(frame.height * self.scale))
        small = _upright(frame.to_ndarray(format="rgb24", width=width, height=height), rotation)
        scale = (small.shape[1] / (frame.height if round(rotation / 90) % 2 else frame.width))
        return [tuple(b[:4]) for b in propose_faces(None, scale, small)]

    def boxes(self, t: float, found: list[tuple]) -> list[tuple]:
        """The boxes to hide at ``t`` given the faces ``found`` in (or carried to) this frame."""
        from consentguard.inspect.faces import _iou, derived_box

        boxes = []
        for track in self.hidden:
            box = track.box_at(t, self.step)
            if box is not None:
                boxes.append(box)
                self.seen.setdefault(track.id, []).append(t)
        self.jumped = self.jumped or (self.time is not None and t < self.time - 1e-6)
        self.time = t
        passed = [] if self.jumped else [b for b in (tr.box_at(t, self.step, across_gaps=False) for tr in self.passed)
                                         if b is not None]
        alone = False
        for face in found:
            like = derived_box(face)  # the geometry of the tracks' (dlib's) boxes
            if any(_iou(like, p) >= PASSED_IOU for p in passed):
                continue
            boxes.append(face)
            alone = alone or not any(_iou(like, h) >= PASSED_IOU for h in boxes[:len(boxes) - 1])
        if alone:
            self.found_only.append(t)
        names = [box for box, start, end in self.names_at if start <= t <= end]
        self.names = max(self.names, len(names))
        return boxes + names

    def tracks_hidden(self) -> dict[str, list[tuple[float, float]]]:
        spans_by: dict[str, list[tuple[float, float]]] = {}
        for track in self.hidden:
            times = self.seen.get(track.id)
            if times:
                spans_by.setdefault(track.verdict, []).append((min(times), max(times)))
        return spans_by


class _Delay:
    """Searches every ``every``-th frame for faces and hides each frame's boxes: a frame between two
    searched ones gets the faces of both (it waits for the next search; one frame held at a time)."""

    def __init__(self, hider: _Hider, encoder: _Encoder, every: int):
        self.hider, self.encoder, self.every = hider, encoder, every
        self.count, self.before, self.waiting = 0, [], []

    def push(self, frame, t: float) -> None:
        k, self.count = self.count, self.count + 1
        if k % self.every:
            self.waiting.append((frame, t))
            return
        found = self.hider.detect(frame, self.encoder.rotation(frame))
        for held, at in self.waiting:
            self._emit(held, at, self.before + found)
        self.waiting, self.before = [], found
        self._emit(frame, t, found)

    def flush(self) -> None:
        """The last frames after the last search: searched themselves."""
        for held, at in self.waiting:
            self._emit(held, at, self.before + self.hider.detect(held, self.encoder.rotation(held)))
        self.waiting = []

    def _emit(self, frame, t: float, found: list[tuple]) -> None:
        self.encoder.encode(frame, self.hider.boxes(t, found), self.hider.grow)


class _Encoder:
    """H.264 (yuv420p) of the upright frames, each keeping its time."""

    def __init__(self, out, vin, then: Callable[[], object]):
        import av

        self.av, self.out, self.vin, self.then = av, out, vin, then
        self.stream = None
        self.last_pts = None
        self.stored = (vin.codec_context.width, vin.codec_context.height)
        self.rate = vin.average_rate or vin.guessed_rate or 25

    def rotation(self, frame) -> int:
        return frame.rotation or 0

    def _open(self, width: int, height: int) -> None:
        self.stream = self.out.add_stream("libx264", rate=self.rate, options=dict(X264_OPTIONS))
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.time_base = self.vin.time_base
        self.stream.codec_context.time_base = self.vin.time_base
        self.then()

    def encode(self, frame, boxes: list[tuple], grow: float) -> None:
        av, rotation = self.av, self.rotation(frame)
        if boxes or rotation:
            rgb = _upright(frame.to_ndarray(format="rgb24"), rotation)
            picture = np.asarray(hide(rgb, boxes, grow)) if boxes else rgb
            out = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        else:
            out = frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
        if self.stream is None:
            self._open(out.width - out.width % 2, out.height - out.height % 2)
        if (out.width, out.height) != (self.stream.width, self.stream.height):
            out = out.reformat(width=self.stream.width, height=self.stream.height)
        pts = frame.pts if frame.pts is not None else (self.last_pts or -1) + 1
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1  # a time that jumps back (joined recordings): kept in order, never dropped
        self.last_pts = pts
        out.pts, out.time_base = pts, self.vin.time_base
        for packet in self.stream.encode(out):
            self.out.mux(packet)

    def flush(self) -> None:
        if self.stream is not None:
            for packet in self.stream.encode():
                self.out.mux(packet)


class _Sound:
    """One sound track: its packets copied where the container takes its codec, else decoded and
    encoded to AAC."""

    def __init__(self, source):
        self.source, self.stream, self.encoder, self.said = source, None, False, ""

    def open(self, out, fmt: str) -> None:
        name = self.source.codec_context.name
        if name in COPY_AUDIO[fmt]:
            self.stream = out.add_stream_from_template(self.source)
            self.said = f"{name} copied"
        else:
            self.stream = out.add_stream("aac", rate=self.source.codec_context.sample_rate or 48000)
            self.stream.layout = self.source.codec_context.layout
            self.encoder, self.said = True, f"{name} encoded to aac"
        self.out = out

    def mux(self, packet) -> None:
        if not self.encoder:
            if packet.dts is None:  # the demuxer's flush packet
                return
            packet.stream = self.stream
            self.out.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            for encoded in self.stream.encode(frame):
                self.out.mux(encoded)

    def flush(self) -> None:
        if self.encoder:
            for packet in self.stream.encode():
                self.out.mux(packet)
