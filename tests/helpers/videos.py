"""Real video clips made from real face photos with PyAV's encoder (issue #14 tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def face_card(photo: Path, size: tuple[int, int] = (640, 360), face_height: int = 300) -> np.ndarray:
    """A frame-sized picture with the photo scaled to ``face_height`` in the middle, on grey."""
    im = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    im.thumbnail((size[0], face_height))
    frame = Image.new("RGB", size, (90, 110, 130))
    frame.paste(im, ((size[0] - im.width) // 2, (size[1] - im.height) // 2))
    return np.asarray(frame)


def head_card(photo: Path, size: tuple[int, int] = (640, 360), face_height: int = 300) -> np.ndarray:
    """:func:`face_card` of the photo cropped around its largest face (twice its width), so the face
    fills the frame whatever the photo's framing (a full-length portrait's face would be 46 px)."""
    from consentguard.inspect.faces import find_and_encode

    im = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    left, top, right, bottom = max((f.box for f in find_and_encode(np.asarray(im))), key=lambda b: b[2] - b[0])
    half = right - left
    crop = im.crop((max(0, left - half // 2), max(0, top - half // 2), min(im.width, right + half // 2),
                    min(im.height, bottom + half)))
    frame = Image.new("RGB", size, (90, 110, 130))
    crop.thumbnail((size[0], face_height))
    frame.paste(crop, ((size[0] - crop.width) // 2, (size[1] - crop.height) // 2))
    return np.asarray(frame)


def make_clip(path: Path, seconds: float, scenes: list[tuple[float, float, np.ndarray]],
              size: tuple[int, int] = (640, 360), fps: int = 25, codec: str = "libx264",
              rotation: int | None = None, title: str | None = None, faststart: bool = False,
              sound: str | None = None, start: float = 0.0) -> Path:
    """A clip of ``seconds`` at ``fps``: plain grey except while a scene (start, end, picture) is on
    screen. ``rotation``: the display rotation written in the container (the frames are stored
    turned so that applying it shows them upright, as a phone does). ``faststart``: the index (moov)
    before the frames, as phones and web exports write it, so a cut file still opens. ``sound``: an
    audio codec ("aac", "libopus") for a sound track of the same length. ``start``: the time of the
    first frame (a clip cut from a longer recording, or a broadcast capture, need not start at 0)."""
    from fractions import Fraction

    import av

    blank = np.full((size[1], size[0], 3), 100, np.uint8)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        stream = out.add_stream(codec, rate=fps)
        k = round((rotation or 0) / 90) % 4
        stored = (size[1], size[0]) if k % 2 else size
        stream.width, stream.height = stored
        stream.pix_fmt = "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        if title:
            out.metadata["title"] = title
        audio = out.add_stream(sound, rate=48000) if sound else None  # every stream before the first packet
        for i in range(round(seconds * fps)):
            t = i / fps
            picture = next((p for start, end, p in scenes if start <= t < end), blank)
            if k:  # stored turned clockwise by the rotation, so that the display's turn undoes it
                picture = np.ascontiguousarray(np.rot90(picture, -k))
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            if start:
                frame.pts, frame.time_base = i + round(start * fps), Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio is not None:
            _sound(out, audio, seconds)
    return path


def _sound(out, stream, seconds: float) -> None:
    import av

    size = stream.codec_context.frame_size or 960
    samples = (np.sin(np.arange(size) / 10) * 0.1).astype(np.float32)[None, :]
    for i in range(round(seconds * 48000 / size)):
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, i * size
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def audio_only(path: Path, seconds: float = 1.0) -> Path:
    """An M4A-like MP4 with an AAC sound track and no video stream."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        samples = (np.sin(np.arange(1024) / 10) * 0.1).astype(np.float32)[None, :]
        for i in range(round(seconds * 44100 / 1024)):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 44100
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def two_streams(path: Path, seconds: float, first: np.ndarray, second: np.ndarray, fps: int = 25) -> Path:
    """An MP4 with two video streams of ``seconds`` (a multi-angle or picture-in-picture export):
    the first shows ``first`` throughout, the second ``second``."""
    import av

    with av.open(str(path), "w") as out:
        streams = []
        for picture in (first, second):
            stream = out.add_stream("libx264", rate=fps)
            stream.height, stream.width = picture.shape[:2]
            stream.pix_fmt = "yuv420p"
            streams.append((stream, picture))
        for _ in range(round(seconds * fps)):
            for stream, picture in streams:
                for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                    out.mux(packet)
        for stream, _ in streams:
            for packet in stream.encode():
                out.mux(packet)
    return path


def with_cover(path: Path, seconds: float, cover: np.ndarray, fps: int = 25) -> Path:
    """A plain grey MP4 with a cover picture (an attached picture stream, as iTunes and some
    phone apps write a clip's thumbnail) showing ``cover``."""
    import av
    from av.stream import Disposition

    height, width = cover.shape[:2]
    with av.open(str(path), "w") as out:
        art = out.add_stream("mjpeg", rate=1)
        art.width, art.height, art.pix_fmt = width, height, "yuvj420p"
        art.disposition = Disposition.attached_pic
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        picture = av.VideoFrame.from_ndarray(cover, format="rgb24").reformat(format="yuvj420p")
        for packet in [*art.encode(picture), *art.encode()]:
            out.mux(packet)
        blank = np.full_like(cover, 100)
        for _ in range(round(seconds * fps)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(blank, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def time_jumps_back(path: Path, seconds: int = 4, back: int = 1000, picture: np.ndarray | None = None,
                    second: np.ndarray | None = None) -> Path:
    """A WebM (VP9) of ``seconds`` whose second half is bright (200) and first half dark (50), one
    cluster per second, with the third second's cluster timestamp moved ``back`` ms earlier (the
    timestamp discontinuity of a joined or re-muxed recording): its frames carry times the clip
    already had, and the last frame still reaches the declared duration. ``picture`` (240x320 RGB):
    shown throughout instead (``second``: in the second half)."""
    import av

    with av.open(str(path), "w", options={"cluster_time_limit": "1000"}) as out:
        stream = out.add_stream("libvpx-vp9", rate=25, options={"g": "25", "deadline": "realtime", "cpu-used": "8"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(seconds * 25):
            shown = picture if picture is not None else np.full((240, 320, 3), 50 if i < seconds * 25 // 2 else 200,
                                                                 np.uint8)
            if second is not None and i >= seconds * 25 // 2:
                shown = second
            for packet in stream.encode(av.VideoFrame.from_ndarray(shown, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = bytearray(path.read_bytes())
    clusters, at = [], 0
    while (at := data.find(b"\x1f\x43\xb6\x75", at + 1)) > 0:  # Cluster, then its Timestamp (0xE7)
        stamp = data.find(b"\xe7", at + 4, at + 20)
        size = data[stamp + 1] & 0x7F
        clusters.append((stamp + 2, size, int.from_bytes(data[stamp + 2:stamp + 2 + size], "big")))
    start, size, value = clusters[2]
    data[start:start + size] = (value - back).to_bytes(size, "big")
    path.write_bytes(bytes(data))
    return path


def head(photo: Path, height: int = 150) -> np.ndarray:
    """The photo cropped around its largest face as :func:`head_card` crops it, ``height`` px tall."""
    from consentguard.inspect.faces import find_and_encode

    im = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    left, top, right, bottom = max((f.box for f in find_and_encode(np.asarray(im))), key=lambda b: b[2] - b[0])
    half = right - left
    crop = im.crop((max(0, left - half // 2), max(0, top - half // 2), min(im.width, right + half // 2),
                    min(im.height, bottom + half)))
    crop.thumbnail((10 * height, height))
    return np.asarray(crop)


def stage(heads: list[tuple[np.ndarray, int, int]], size: tuple[int, int] = (640, 360)) -> np.ndarray:
    """A frame of ``size`` on grey with each head pasted with its top-left corner at (x, y), in order
    (a later head covers an earlier one where they overlap), cut off at the frame's edges."""
    frame = np.full((size[1], size[0], 3), (90, 110, 130), np.uint8)
    for picture, x, y in heads:
        h, w = picture.shape[:2]
        left, top = max(x, 0), max(y, 0)
        right, bottom = min(x + w, size[0]), min(y + h, size[1])
        if right > left and bottom > top:
            frame[top:bottom, left:right] = picture[top - y:bottom - y, left - x:right - x]
    return frame


def moving_clip(path: Path, seconds: float, picture_at, size: tuple[int, int] = (640, 360), fps: int = 25) -> Path:
    """An H.264 clip of ``seconds`` whose frame at time t is ``picture_at(t)`` (an RGB array of ``size``)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(round(seconds * fps)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture_at(i / fps), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
