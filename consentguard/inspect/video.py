"""Video clips: stream the frames to check, applying the rotation a phone recorded (issue #14).

Stage: **inspect** (decode). A clip is read with PyAV (FFmpeg inside its wheel) frame by frame and
never held whole: :meth:`Video.frames` yields one upright RGB frame per ``video_sample_seconds``
(the first frame at or after each multiple of it), so a face on screen for twice that long is
seen in at least two frames. Every decoded frame is counted; only the sampled ones are converted.

Fail closed: a file with no video stream, no frame, or that FFmpeg cannot open is an
:class:`~consentguard.errors.ImageError` (verdict ``error``); a stream that stops before the
duration its container declares, or a decode error part-way, leaves the part not read in
:attr:`Video.unchecked`, which the decision turns into a review naming the seconds not checked.
Past the duration or resolution limit (settings) the clip is refused with an error naming the file.

Text (issue #14): :func:`container_texts` gives every text the container carries (all string
metadata of the container and of each stream but :data:`TECHNICAL_KEYS`, QuickTime keys, chapter
titles), :func:`subtitle_cues` the text of every subtitle stream with each cue's time,
:func:`xmp_texts` the XMP packets found by scanning the file in chunks, and :class:`TextFrames`
which sampled frames are worth reading (OCR). A text part that cannot be read is named as a part
not checked, never skipped.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from consentguard.errors import ImageError

#: The clips checked (by extension): the scan's file walk and check route them here.
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".webm", ".avi"})
#: Container and stream metadata keys (FFmpeg's, lower case) that hold only what a program wrote
#: (its name, a format, a time, a place, a device): every *other* string key is searched for names.
TECHNICAL_KEYS = frozenset({
    "encoder", "encoded_by", "handler_name", "vendor_id", "creation_time", "major_brand", "minor_version",
    "compatible_brands", "language", "duration", "timecode", "rotate", "bps", "number_of_frames",
    "number_of_bytes", "_statistics_writing_app", "_statistics_writing_date_utc", "_statistics_tags",
    "com.apple.quicktime.creationdate", "com.apple.quicktime.location.iso6709",
    "com.apple.quicktime.location.accuracy.horizontal", "com.apple.quicktime.make",
    "com.apple.quicktime.model", "com.apple.quicktime.software", "com.apple.quicktime.content.identifier",
    "com.apple.quicktime.full-frame-rate-playback-intent", "com.apple.quicktime.live-photo.auto",
    "com.apple.quicktime.live-photo.vitality-score", "com.apple.quicktime.live-photo.vitality-scoring-version",
    "location", "location-eng", "date",
})
#: What a scan's cached result of a clip depends on in this reader (runners.scan): changed when a
#: clip is read differently (2: other video streams named, times from the first frame, a time that
#: jumps back sampled; 3: text in frames, every metadata key, chapters, subtitles, XMP; faces followed in tracks, the evidence holds them; 4: a time that jumps
#: back ends every track), so a clip is checked again rather than passed from the cache.
VIDEO_VERSION = "video4"
#: XMP packets are found by scanning the file (any container) in chunks of this many bytes...
XMP_CHUNK = 1 << 20
#: ...and one longer than this (bytes) is not read: a part not checked.
XMP_MAX = 4 << 20
XMP_BEGIN, XMP_END = b"<?xpacket begin", b"<?xpacket end"
#: Subtitle codecs whose cues are pictures (DVD, Blu-ray, DVB) or need a decoder not built in
#: (teletext): their words cannot be searched, so such a stream is a part not checked.
PICTURE_SUBTITLES = frozenset({"dvd_subtitle", "dvdsub", "hdmv_pgs_subtitle", "pgssub", "dvb_subtitle", "dvbsub",
                               "xsub", "dvb_teletext", "libzvbi_teletextdec"})
#: A sampled frame whose grey levels, averaged over cells of TEXT_CELL x TEXT_CELL pixels, all moved less than
#: SAME_LEVEL since the last frame read for text looks the same (it is not read again). One changed
#: a lot (a new title, a cut: read at once) when, even moved by up to PAN_CELLS cells each way to fit
#: the last frame read best (a camera panning is no new title), 1% of its cells moved CHANGED_LEVEL or more.
TEXT_CELL = 16
SAME_LEVEL = 3.0
CHANGED_LEVEL = 24.0
PAN_CELLS = 4
#: A stream that ends this many seconds (or more) before the declared duration was cut short.
SHORT_BY = 0.5
FRAME_VIEW = "the frame at {}"
_FRAME_TIME = re.compile(r"^the frame at (\d+):(\d\d(?:\.\d+)?)$")


def is_video(path: str | Path) -> bool:
    return Path(str(path)).suffix.lower() in VIDEO_EXTENSIONS


def clock(seconds: float, decimals: int = 2) -> str:
    """"0:04.25" (decimals 2) or "0:04" (decimals 0): how reasons and views name a moment."""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    if decimals == 0:
        return f"{int(minutes)}:{int(rest):02d}"
    return f"{int(minutes)}:{rest:0{3 + decimals}.{decimals}f}"


def frame_view(seconds: float) -> str:
    """The view label of a sampled frame (FaceEvidence.view): "the frame at 0:04.25"."""
    return FRAME_VIEW.format(clock(seconds))


def frame_time(view: str | None) -> float | None:
    """The time (s) of a view made by :func:`frame_view`, else None (a photo's frame, page, ...)."""
    found = _FRAME_TIME.match(view or "")
    return int(found.group(1)) * 60 + float(found.group(2)) if found else None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The file's SHA-256, read in chunks (a clip is never read into memory whole)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                digest.update(block)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    return digest.hexdigest()


@dataclass
class Frame:
    time: float        # seconds from the start of the clip
    rgb: np.ndarray    # upright (the clip's rotation applied)


@dataclass
class Video:
    """An open clip: what its container says, and (after :meth:`frames`) what was read of it."""

    name: str
    container: object = field(repr=False)
    stream: object = field(repr=False)
    width: int                 # as shown (after the rotation, once a frame is read)
    height: int
    duration: float | None     # declared by the container (None: not declared)
    rotation: int              # degrees the frames are turned anticlockwise to be shown (the display matrix)
    codec: str
    fps: float | None
    metadata: list = field(default_factory=list)  # inspect.metadata.TextField: title, comment, ...
    unchecked: list[str] = field(default_factory=list)  # parts not read: each a review
    decoded: int = 0           # frames decoded
    sampled: int = 0           # frames checked
    last: float | None = None  # time of the last frame decoded
    start: float | None = None  # the time its first frame carries (declared, else the first decoded)

    def frames(self, step: float, max_seconds: float) -> Iterator[Frame]:
        """One upright frame per ``step`` seconds, streamed. A packet that cannot be decoded is
        skipped and named in :attr:`unchecked` (the rest of the clip is still checked); a container
        that cannot be read further ends the clip there, named too. A frame past ``max_seconds`` (a
        container that did not declare its duration) refuses the clip (ImageError). Times count from the
        clip's first frame; a time that jumps back starts the sampling again from there."""
        due, bad, before = 0.0, [], None

        def unreadable(why: str) -> None:
            self.unchecked.append(f"{self.name}: the video file could not be read after "
                                  f"{clock(self.last or 0.0)} ({why}): the rest of the clip was not "
                                  "checked; check it by eye")

        for frame, t, _ in self.decode(lambda at, why: bad.append((at, why)), unreadable):
            if t > max_seconds:
                raise ImageError(f"{self.name}: longer than video_max_seconds ({max_seconds:g} s): refused "
                                 "(raise the setting to check it)")
            if before is not None and t + 1e-6 < before:
                due = t  # the time jumped back (joined recordings): these frames are new, sample them
            before = t
            if t + 1e-6 < due:
                continue
            due = (int(t / step + 1e-6) + 1) * step
            self.sampled += 1
            self.rotation = frame.rotation or 0
            rgb = _upright(frame.to_ndarray(format="rgb24"), self.rotation)
            self.height, self.width = rgb.shape[:2]
            yield Frame(t, rgb)
        self._account(bad)

    def decode(self, bad: Callable[[float, str], None], unreadable: Callable[[str], None],
               *others) -> Iterator[tuple]:
        """Every frame of the video stream decoded, as ``(frame, time, None)`` (time from
        :meth:`_time`; :attr:`decoded` and :attr:`last` kept), and every packet of the streams
        ``others`` demuxed with it as ``(None, None, packet)``. The one home of what damage is:
        a packet that cannot be decoded, or that FFmpeg decodes only by concealing damage (said only
        in its log), is passed to ``bad(time, why)`` (which may raise; else the packet's frames, if
        any, still come); a container that cannot be read further to ``unreadable(why)``, and the
        clip ends there unless it raises."""
        import av

        with _decoder_errors() as errors:
            packets = self.container.demux(self.stream, *others)
            while True:
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except av.error.FFmpegError as exc:
                    unreadable(_why(exc))
                    break
                if packet.stream is not self.stream:
                    yield None, None, packet
                    continue
                at = float(packet.pts * packet.time_base) if packet.pts is not None and packet.time_base else None
                at = at if at is not None else self.last or 0.0
                try:
                    decoded, why = packet.decode(), None
                except av.error.FFmpegError as exc:
                    decoded, why = [], _why(exc)
                found = errors.new()  # concealed damage: FFmpeg says so only in its log
                for said in (why, found):
                    if said:
                        bad(at, said)
                for frame in decoded:
                    t = self._time(frame)
                    self.decoded += 1
                    self.last = t if self.last is None else max(self.last, t)
                    yield frame, t, None
            if found := errors.new():  # logged by a decoder thread after its packet was looked at
                bad(self.last or 0.0, found)

    def _time(self, frame) -> float:
        """A frame's time from the start of the clip: a clip cut from a longer recording carries
        the recording's times (its first frame at 5 s, say), which would put every "when" late and
        hide a truncation (the last frame would seem to reach the declared duration)."""
        if frame.time is None:
            return self.decoded / (self.fps or 25.0)
        if self.start is None:
            self.start = frame.time
        return round(frame.time - self.start, 6)  # 5.04 - 5.0 is 0.0399..., which would skip its sample

    def _account(self, bad: list[tuple[float, str]]) -> None:
        """After the last frame: no frame at all is an error; packets not decoded and a stream
        that stops before its declared duration are parts not checked."""
        if not self.decoded:
            raise ImageError(f"{self.name}: no frame of the video could be decoded: not checked")
        if bad:
            times = [t for t, _ in bad]
            span = clock(min(times)) if len(bad) == 1 else f"{clock(min(times))}-{clock(max(times))}"
            self.unchecked.append(f"{self.name}: the video is damaged in {len(bad)} place{'s' if len(bad) > 1 else ''} "
                                  f"({span}: {bad[0][1]}): the frames there could not be decoded, or only with "
                                  "gaps filled in, so they were not checked reliably; check it by eye")
        if self.duration and self.last is not None and self.last < self.duration - SHORT_BY - 1 / (self.fps or 25.0):
            self.unchecked.append(f"{self.name}: the video stream stops at {clock(self.last)} of the "
                                  f"{clock(self.duration)} its container declares (a truncated or damaged "
                                  f"file): {clock(self.last)}-{clock(self.duration)} was not checked; "
                                  "check it by eye")

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> Video:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Errors:
    """FFmpeg's error messages logged since the last look (a decoder conceals a damaged picture
    and goes on: its log is the only sign)."""

    def __init__(self, logs):
        self.logs, self.seen = logs, 0

    def new(self) -> str | None:
        import av.logging

        fresh, self.seen = self.logs[self.seen:], len(self.logs)
        messages = [message.strip() for level, _, message in fresh if level <= av.logging.ERROR]
        return messages[0] if messages else None


@contextmanager
def _decoder_errors():
    """Capture FFmpeg's error log (every thread: frame-threaded decoders log from theirs) while a
    clip is decoded, repeated messages included; the log level is put back afterwards."""
    import av.logging

    level, repeated = av.logging.get_level(), av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.ERROR)
    av.logging.set_skip_repeated(False)
    try:
        with av.logging.Capture(local=False) as logs:
            yield _Errors(logs)
    finally:
        av.logging.set_level(level)
        av.logging.set_skip_repeated(repeated)


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The frame turned as its display matrix says (``rotation`` degrees anticlockwise)."""
    k = round((rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def open_video(path: str | Path, max_seconds: float, max_side: int) -> Video:
    """Open a clip for :meth:`Video.frames`; ImageError (one line naming the file) when it cannot
    be opened, has no video stream, or is past the duration or resolution limit."""
    import av

    name = str(path)
    try:
        container = av.open(name, metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise ImageError(f"{name}: not a readable video ({_why(exc)}): not checked") from exc
    except OSError as exc:
        raise ImageError(f"{name}: cannot read file: {exc.strerror or exc}") from exc
    try:
        return _probe(container, name, max_seconds, max_side)
    except BaseException:
        container.close()
        raise


def _probe(container, name: str, max_seconds: float, max_side: int) -> Video:
    if not container.streams.video:
        raise ImageError(f"{name}: no video stream (audio only, or not a video): not checked")
    stream, others = _main_stream(container.streams.video)
    stream.thread_type = "AUTO"
    ctx = stream.codec_context
    width, height = ctx.width, ctx.height  # as stored: the frames say how they are turned
    if not width or not height:
        raise ImageError(f"{name}: the video stream declares no picture size: not checked")
    if max(width, height) > max_side:
        raise ImageError(f"{name}: {width}x{height} is larger than video_max_side ({max_side} px): refused "
                         "(raise the setting to check it)")
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    if duration is not None and duration > max_seconds:
        raise ImageError(f"{name}: {clock(duration, 0)} long, longer than video_max_seconds ({max_seconds:g} s): "
                         "refused (raise the setting to check it)")
    rate = stream.average_rate or stream.guessed_rate
    start = None
    if stream.start_time is not None and stream.time_base is not None:
        start = float(stream.start_time * stream.time_base)
    elif container.start_time is not None:
        start = container.start_time / 1_000_000
    metadata = container_texts(container, start or 0.0)
    unchecked = [f"{name}: the file holds {len(others) + 1} video streams (other camera angles, a cover "
                 f"picture or thumbnail); only stream #{stream.index} was checked, so stream"
                 f"{'s' if len(others) > 1 else ''} {', '.join(f'#{s.index}' for s in others)} "
                 "could show a restricted student unseen: check it by eye"] if others else []
    return Video(name, container, stream, width, height, duration, 0, ctx.name or "?",
                 float(rate) if rate else None, metadata, unchecked, start=start)


def _main_stream(streams) -> tuple[object, list]:
    """The video stream to check (the first that is not a cover picture) and the other video
    streams: FFmpeg decodes one at a time, and a second camera angle or a cover picture could
    show a face that the first never does, so the others are each a part not checked."""
    from av.stream import Disposition

    moving = [s for s in streams if not s.disposition & Disposition.attached_pic]
    main = (moving or list(streams))[0]
    return main, [s for s in streams if s is not main]


# -- text the container carries ----------------------------------------------------------------

def _text_keys(metadata) -> list[tuple[str, str]]:
    """The (key, value) pairs of a metadata dict that a person may have written (not TECHNICAL_KEYS)."""
    return [(k, str(v)) for k, v in metadata.items()
            if k.lower() not in TECHNICAL_KEYS and not k.lower().startswith("_statistics") and str(v).strip()]


def container_texts(container, origin: float | None = None) -> list:
    """Every text the container carries in its metadata (inspect.metadata.TextField): the
    container's keys ("video title", "video com.apple.quicktime.description"), each stream's
    ("stream #1 title") and each chapter's title ("chapter 2 title", with its time), leaving
    out only :data:`TECHNICAL_KEYS`. Chapter times count from ``origin`` (the clip's first frame's
    own time; default the container's start)."""
    from consentguard.inspect.metadata import TextField

    fields = [TextField(f"video {k.lower()}", v) for k, v in _text_keys(container.metadata)]
    for stream in container.streams:
        fields += [TextField(f"stream #{stream.index} {k.lower()}", v) for k, v in _text_keys(stream.metadata)]
    start = origin if origin is not None else container.start_time / 1_000_000 if container.start_time else 0.0
    for n, chapter in enumerate(container.chapters(), 1):
        base = chapter.get("time_base") or 0
        seconds = (max(0.0, float(chapter["start"] * base) - start), max(0.0, float(chapter["end"] * base) - start))
        fields += [TextField(f"chapter {n} {k.lower()}", v, seconds=seconds)
                   for k, v in _text_keys(chapter.get("metadata") or {})]
    return fields


def subtitle_cues(path: str | Path, origin: float = 0.0) -> tuple[list, list[str]]:
    """The text of every subtitle stream (mov_text/tx3g, WebVTT, SubRip, ASS ...), one
    inspect.metadata.TextField per cue with its time (seconds from the clip's first frame,
    ``origin`` being that frame's own time), and the parts not read: a stream of pictures (DVD,
    Blu-ray subtitles), one with no decoder, or one the decoder fails on is a part not checked,
    never skipped (the other streams are still read)."""
    import av

    from consentguard.inspect.metadata import TextField

    name = str(path)
    try:
        container = av.open(name, metadata_errors="replace")
    except (av.error.FFmpegError, OSError) as exc:
        return [], [f"{name}: its subtitle streams could not be opened ({_why(exc)}): names in them were not checked"]
    cues, failed = [], {}  # stream index -> why it was not read (fully)
    with container:
        streams = list(container.streams.subtitles)
        if not streams:
            return [], []
        try:
            for packet in container.demux(streams):
                index = packet.stream.index
                if index in failed or packet.size == 0:
                    continue
                try:
                    texts = _cue_texts(packet)
                except (av.error.FFmpegError, ValueError, AttributeError) as exc:
                    failed[index] = f"it could not be decoded ({_why(exc)})"
                    continue
                if texts is None:
                    failed[index] = "it is pictures, not text (DVD or Blu-ray subtitles)"
                    continue
                at = float(packet.pts * packet.time_base) - origin if packet.pts is not None else 0.0
                until = at + float((packet.duration or 0) * packet.time_base)
                seconds = (round(max(at, 0.0), 3), round(max(until, at, 0.0), 3))
                cues += [TextField(_subtitle_label(packet.stream), text, seconds=seconds) for text in texts]
        except av.error.FFmpegError as exc:
            for stream in streams:
                failed.setdefault(stream.index, f"the file could not be read to its end ({_why(exc)})")
    unread = [f"{name}: subtitle stream #{index} was not read: {why}: names in it were not checked; check it "
              "by eye" for index, why in sorted(failed.items())]
    return cues, unread


def _subtitle_label(stream) -> str:
    language = stream.metadata.get("language")
    return f"subtitle stream #{stream.index}" + (f" ({language})" if language and language != "und" else "")


def _cue_texts(packet) -> list[str] | None:
    """The words of one subtitle packet: ASS/SSA override tags ({\\b1}) and line breaks (\\N)
    out; None for a picture (a bitmap subtitle has no words to search)."""
    if packet.stream.codec_context is not None and packet.stream.codec_context.name in PICTURE_SUBTITLES:
        return None
    texts = []
    for rect in packet.decode():
        if getattr(rect, "type", None) == b"bitmap" or not hasattr(rect, "dialogue"):
            return None
        raw = rect.dialogue or rect.text or b""
        text = _words(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
        if text:
            texts.append(text)
    if not texts and any(c.isalpha() for c in _words(_cue_payload(packet))):
        at = clock(float(packet.pts * packet.time_base)) if packet.pts is not None else "?"
        raise ValueError(f"the cue at {at} holds words that decoded to nothing")  # dropped: never a silent pass
    return texts


def _words(text: str) -> str:
    return " ".join(re.sub(r"\{[^}]*\}", "", text).replace("\\N", " ").replace("\\n", " ").split())


def _cue_payload(packet) -> str:
    """A subtitle packet's own text, as stored: an ASS event's text is its last field (after 8
    commas: read order, layer, style, ...); a mov_text cue starts with its length (2 bytes)."""
    data = bytes(packet)
    codec = packet.stream.codec_context.name if packet.stream.codec_context else ""
    if codec == "mov_text":
        data = data[2:2 + int.from_bytes(data[:2], "big")] if len(data) >= 2 else b""
    text = data.decode("utf-8", "replace")
    if codec in ("ass", "ssa"):
        text = text.split(",", 8)[8] if text.count(",") >= 8 else text
    return text


def xmp_texts(path: str | Path, size: tuple[int, int]) -> tuple[list, list[str]]:
    """The text fields of every XMP packet in the file (an MP4/MOV uuid or XMP_ box, a Matroska tag,
    an AVI chunk: XMP packets are made to be found by scanning for ``<?xpacket begin``), read in
    chunks, and the packets that could not be read (cut off, too long, not XML): parts not checked."""
    from consentguard.inspect.metadata import MetadataError, xmp_fields

    name, fields, unread = str(path), [], []
    try:
        packets = list(_xmp_packets(path))
    except OSError as exc:
        return [], [f"{name}: the file could not be read again for XMP metadata ({exc.strerror or exc}): names "
                    "in it were not checked"]
    for offset, packet in packets:
        if packet is None:
            unread.append(f"{name}: an XMP packet at byte {offset} has no end within {XMP_MAX >> 20} MB (cut off "
                          "or damaged): names in it were not checked; check the file's metadata by eye")
            continue
        try:
            fields += xmp_fields(packet, size)
        except MetadataError as exc:
            unread.append(f"{name}: the XMP packet at byte {offset}: {exc}: names in it were not checked")
    return fields, unread


def _xmp_packets(path: str | Path) -> Iterator[tuple[int, bytes | None]]:
    """(offset, packet bytes) of each ``<?xpacket begin`` ... ``<?xpacket end ...?>`` in the file,
    None for one with no end within XMP_MAX bytes; the file is read XMP_CHUNK bytes at a time."""
    keep = len(XMP_BEGIN) - 1
    with open(path, "rb") as f:
        buffer, base = b"", 0  # buffer starts at file offset base
        while True:
            block = f.read(XMP_CHUNK)
            buffer += block
            start = buffer.find(XMP_BEGIN)
            while start >= 0:
                end = buffer.find(XMP_END, start)
                close = buffer.find(b"?>", end) if end >= 0 else -1
                if close < 0:
                    if len(buffer) - start > XMP_MAX or not block:
                        yield base + start, None
                        buffer, base = buffer[start + len(XMP_BEGIN):], base + start + len(XMP_BEGIN)
                        start = buffer.find(XMP_BEGIN)
                        continue
                    break  # its end may be in the next chunk
                yield base + start, buffer[start:close + 2]
                buffer, base = buffer[close + 2:], base + close + 2
                start = buffer.find(XMP_BEGIN)
            if not block:
                return
            if start < 0:  # nothing open: keep only what could be the start of a marker cut in two
                cut = max(0, len(buffer) - keep)
                buffer, base = buffer[cut:], base + cut


# -- which frames are read for text -------------------------------------------------------------

#: What :meth:`TextFrames.look` says of a sampled frame.
READ, SAME, SKIP = "read", "same", "skip"


class TextFrames:
    """Which sampled frames are read for text (OCR of a 1080p frame costs about as much as its
    face stage, so reading every sampled frame would double a clip's time): one at least every
    ``every`` seconds, at once one that
    changed a lot since the last one read (a title appears, not the camera panning; at most every
    ``every / 2`` s), and never
    one that looks the same as the last one read (a title held on screen is read once). A frame not
    read is SAME (its text is the last read one's: a hit seen there lasts to it) or SKIP."""

    def __init__(self, every: float):
        self.every, self.last, self.signature = every, None, None
        self.read = 0

    def look(self, time: float, rgb: np.ndarray) -> str:
        signature = _signature(rgb)
        if self.signature is None or signature.shape != self.signature.shape:
            return self._read(time, signature)
        moved = float(np.abs(signature - self.signature).max())
        if moved < SAME_LEVEL:
            return SAME
        since = time - self.last
        if since < 0 or since + 1e-6 >= self.every:
            return self._read(time, signature)
        if since + 1e-6 >= self.every / 2 and _changed(self.signature, signature) >= CHANGED_LEVEL:
            return self._read(time, signature)
        return SKIP

    def _read(self, time: float, signature: np.ndarray) -> str:
        self.last, self.signature = time, signature
        self.read += 1
        return READ


def _changed(before: np.ndarray, now: np.ndarray) -> float:
    """How much of ``now`` is new since ``before`` (signatures): the 99th percentile of the cells'
    change at the shift (up to PAN_CELLS cells each way) that explains most of it."""
    h, w = before.shape
    best = math.inf
    for dy in range(-PAN_CELLS, PAN_CELLS + 1):
        for dx in range(-PAN_CELLS, PAN_CELLS + 1):
            a = before[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
            b = now[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
            diff = np.abs(a - b).ravel()
            k = int(diff.size * 0.99)
            best = min(best, float(np.partition(diff, k)[k]))
    return best


def _signature(rgb: np.ndarray) -> np.ndarray:
    """The frame's grey levels averaged over TEXT_CELL-pixel cells (what :class:`TextFrames` compares)."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grid = (max(8, grey.shape[1] // TEXT_CELL), max(8, grey.shape[0] // TEXT_CELL))
    return cv2.resize(grey, grid, interpolation=cv2.INTER_AREA).astype(np.float32)
