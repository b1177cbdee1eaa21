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
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from consentguard.errors import ImageError

#: The clips checked (by extension): the scan's file walk and check route them here.
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".webm", ".avi"})
#: Container metadata fields whose text is searched for names (FFmpeg's keys, lower case).
NAME_FIELDS = ("title", "comment", "description", "artist", "album", "keywords", "subtitle", "synopsis")
#: What a scan's cached result of a clip depends on in this reader (runners.scan): changed when a
#: clip is read differently (2: other video streams named, times from the first frame, a time that
#: jumps back sampled; 3: faces followed in tracks, the evidence holds them), so a clip is checked
#: again rather than passed from the cache.
VIDEO_VERSION = "video3"
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
        import av

        due, bad, before = 0.0, [], None
        with _decoder_errors() as errors:
            packets = self.container.demux(self.stream)
            while True:
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except av.error.FFmpegError as exc:
                    self.unchecked.append(f"{self.name}: the video file could not be read after "
                                          f"{clock(self.last or 0.0)} ({_why(exc)}): the rest of the clip was not "
                                          "checked; check it by eye")
                    break
                at = float(packet.pts * packet.time_base) if packet.pts is not None and packet.time_base else None
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError as exc:
                    bad.append((at if at is not None else self.last or 0.0, _why(exc)))
                    continue
                finally:
                    if found := errors.new():  # concealed damage: FFmpeg says so only in its log
                        bad.append((at if at is not None else self.last or 0.0, found))
                for frame in decoded:
                    t = self._time(frame)
                    self.decoded += 1
                    self.last = t if self.last is None else max(self.last, t)
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
            if found := errors.new():  # logged by a decoder thread after its packet was looked at
                bad.append((self.last or 0.0, found))
        self._account(bad)

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
    from consentguard.inspect.metadata import TextField

    metadata = [TextField(f"video {k.lower()}", str(v)) for k, v in {**container.metadata, **stream.metadata}.items()
                if k.lower() in NAME_FIELDS and str(v).strip()]
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
