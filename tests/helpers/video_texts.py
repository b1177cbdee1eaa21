"""Clips that carry text (issue #14, text in videos): words burned into frames, subtitle streams,
chapters, container and QuickTime keys, an XMP packet. Real files written with PyAV's muxers."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: The XMP box's type in MP4/MOV (Adobe's uuid for XMP), as Premiere, Lightroom and exiftool write it.
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")


def title_card(text: str, size: tuple[int, int] = (640, 360), font_px: int = 40,
               background: tuple[int, int, int] = (100, 100, 100)) -> np.ndarray:
    """A frame with ``text`` as a lower third: white on a dark band, as a school's video editor puts it."""
    im = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=font_px)
    top = size[1] - font_px * 2 - 10
    draw.rectangle((0, top, size[0], top + font_px * 2), fill=(20, 30, 60))
    draw.text((font_px // 2, top + font_px // 2), text, fill=(255, 255, 255), font=font)
    return np.asarray(im)


def text_clip(path: Path, seconds: float, scenes: list[tuple[float, float, np.ndarray]] = (),
              size: tuple[int, int] = (640, 360), fps: int = 10, subtitles: list[tuple[float, float, str]] = (),
              chapters: list[tuple[float, float, str]] = (), metadata: dict | None = None,
              stream_metadata: dict | None = None, subtitle_codec: str | None = None) -> Path:
    """A clip (H.264, or VP9 in WebM) plain grey but while a scene is on screen, with optional
    subtitle cues (start, end, text) in a subtitle stream (mov_text in MP4/MOV, SubRip in MKV,
    WebVTT in WebM: ``subtitle_codec`` to choose), chapters (start, end, title), container and
    video-stream metadata (MOV/MP4 keys such as com.apple.quicktime.* are written as QuickTime keys)."""
    import av

    blank = np.full((size[1], size[0], 3), 100, np.uint8)
    suffix = path.suffix.lower()
    codec = subtitle_codec or {".mkv": "subrip", ".webm": "webvtt"}.get(suffix, "mov_text")
    options = {"movflags": "use_metadata_tags"} if suffix in (".mp4", ".mov", ".m4v") else {}
    with av.open(str(path), "w", options=options) as out:
        video = out.add_stream("libvpx-vp9" if suffix == ".webm" else "libx264", rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        for key, value in (stream_metadata or {}).items():
            video.metadata[key] = value
        subs = None
        if subtitles:
            subs = out.add_mux_stream(codec)
            subs.time_base = Fraction(1, 1000)
        for key, value in (metadata or {}).items():
            out.metadata[key] = value
        if chapters:
            out.set_chapters([{"id": k, "start": round(a * 1000), "end": round(b * 1000),
                               "time_base": Fraction(1, 1000), "metadata": {"title": title}}
                              for k, (a, b, title) in enumerate(chapters, 1)])
        for i in range(round(seconds * fps)):
            t = i / fps
            picture = next((p for start, end, p in scenes if start <= t < end), blank)
            for packet in video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        for start, end, text in subtitles:
            words = text.encode("utf-8")
            packet = av.Packet(struct.pack(">H", len(words)) + words if codec == "mov_text" else words)
            packet.pts = packet.dts = round(start * 1000)
            packet.duration = round((end - start) * 1000)
            packet.time_base = Fraction(1, 1000)
            packet.stream = subs
            out.mux(packet)
    return path


def xmp_packet(**properties: str) -> bytes:
    """An XMP packet as Adobe's tools write it, with dc:title / dc:description (x-default) and
    Iptc4xmpExt:PersonInImage values."""
    parts = []
    for name, value in properties.items():
        if name == "PersonInImage":
            parts.append(f"<Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>{value}</rdf:li></rdf:Bag>"
                         "</Iptc4xmpExt:PersonInImage>")
        else:
            parts.append(f"<dc:{name}><rdf:Alt><rdf:li xml:lang='x-default'>{value}</rdf:li></rdf:Alt></dc:{name}>")
    return ("<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>"
            "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
            "<rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/' "
            "xmlns:Iptc4xmpExt='http://iptc.org/std/Iptc4xmpExt/2008-02-29/'>"
            + "".join(parts) + "</rdf:Description></rdf:RDF></x:xmpmeta>"
            + " " * 200 + "<?xpacket end='w'?>").encode("utf-8")


def with_xmp_box(path: Path, packet: bytes) -> Path:
    """Append a top-level MP4/MOV ``uuid`` box holding ``packet`` (where Premiere and exiftool put a
    clip's XMP): players and FFmpeg skip a box they do not know, so the clip still plays."""
    with open(path, "ab") as f:
        f.write(struct.pack(">I", 8 + 16 + len(packet)) + b"uuid" + XMP_UUID + packet)
    return path
