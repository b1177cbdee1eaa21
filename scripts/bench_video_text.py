#!/usr/bin/env python3
"""What reading the text in a video's frames costs, against the face stage, in the same run.

    scripts/bench_video_text.py [--seconds 10] [--faces DIR] [--ocr-seconds 1.0]

Makes two 1080p H.264 clips at 30 fps from a real group photo (``--faces``: the shared face set,
default ../shared/faces), each with a lower third naming a student from 2 s to 5 s and another
from 6 s to 8 s: **tripod** (the picture still but for the titles: a concert, an assembly) and
**pan** (the photo panning 2 px a frame, so no two frames are the same: a phone in a hand). Each is
streamed as a check streams it (a frame every ``video_sample_seconds``) and, on one core, every
sampled frame goes through the face stage (``find_and_encode``) and through
:class:`consentguard.inspect.video.TextFrames`, which picks the frames read by OCR (at least every
``video_ocr_seconds``, at once on a new title, never twice the same picture). It prints per clip
the seconds per second of video of each stage (1.0 = real time), the frames read for text, and the
names read with when; and the cost of OCR on one 1080p frame (median of 3), then of OCR on every
sampled frame (the naive way) for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CONSENTGUARD_OCR_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont, ImageOps  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consentguard.inspect.faces import find_and_encode  # noqa: E402
from consentguard.inspect.ocr import read_lines  # noqa: E402
from consentguard.inspect.video import READ, SAME, TextFrames, open_video  # noqa: E402
from consentguard.policy import Policy  # noqa: E402

SIZE = (1920, 1080)
FPS = 30
TITLES = [(2.0, 5.0, "Priya Natarajan, grade 4"), (6.0, 8.0, "Marcus Ellery")]


def _titled(frame: np.ndarray, text: str) -> np.ndarray:
    """``frame`` with a lower third: white 48 px text on a dark band, as a video editor puts it."""
    im = Image.fromarray(frame)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 900, SIZE[0], 990), fill=(20, 30, 60))
    draw.text((80, 915), text, fill=(255, 255, 255), font=ImageFont.load_default(size=48))
    return np.asarray(im)


def make_clip(path: Path, photo: Path, seconds: float, pan: bool) -> Path:
    import av

    im = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    scale = max((SIZE[0] + 2 * FPS * seconds) / im.width, SIZE[1] / im.height)
    big = np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), Image.BILINEAR))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for i in range(round(seconds * FPS)):
            x = min(2 * i, big.shape[1] - SIZE[0]) if pan else 0
            frame = np.ascontiguousarray(big[:SIZE[1], x:x + SIZE[0]])
            title = next((text for a, b, text in TITLES if a <= i / FPS < b), None)
            if title:
                frame = _titled(frame, title)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def run(clip: Path, policy: Policy, every_frame: bool = False) -> dict:
    """Seconds in the face stage and in the text stage over the whole clip, frames read, names seen."""
    faces_s = text_s = 0.0
    frames, seen = TextFrames(policy.video_ocr_seconds), {}
    sampled = read = 0
    showing: list[str] = []
    with open_video(clip, policy.video_max_seconds, policy.video_max_side) as video:
        for frame in video.frames(policy.video_sample_seconds, policy.video_max_seconds):
            sampled += 1
            start = time.perf_counter()
            find_and_encode(frame.rgb, policy.encode_jitters, policy.detect_mode, policy.face_promises)
            faces_s += time.perf_counter() - start
            start = time.perf_counter()
            look = READ if every_frame else frames.look(frame.time, frame.rgb)
            if look == READ:
                read += 1
                showing = [line.text for line in read_lines(frame.rgb, policy.detect_mode, policy.ocr_sides)[0]]
            for text in showing if look in (READ, SAME) else []:  # the same picture: the same words, still there
                first, _ = seen.get(text, (frame.time, frame.time))
                seen[text] = (first, frame.time)
            text_s += time.perf_counter() - start
    return {"faces": faces_s, "text": text_s, "sampled": sampled, "read": read, "seen": seen}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each clip (default 10)")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--ocr-seconds", type=float, default=Policy().video_ocr_seconds)
    ap.add_argument("--naive", action="store_true", help="also time OCR on every sampled frame")
    args = ap.parse_args()
    photo = args.faces / "groups" / "fr-obama_and_biden.jpg"
    if not photo.is_file():
        sys.exit(f"{photo}: not found (pass --faces DIR, the shared face set)")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as one worker has
    policy = Policy(video_ocr_seconds=args.ocr_seconds)
    with tempfile.TemporaryDirectory() as tmp:
        frame = make_clip(Path(tmp) / "one.mp4", photo, 0.1, False)
        with open_video(frame, 60, 4096) as video:
            rgb = next(video.frames(1, 60)).rgb
        find_and_encode(rgb)  # load the models outside the timings
        read_lines(rgb)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            read_lines(_titled(rgb, TITLES[0][2]))
            times.append(time.perf_counter() - start)
        print(f"OCR of one 1080p frame (long side {policy.ocr_side} px): {statistics.median(times):.2f} s "
              "(median of 3), one core")
        for name, pan in (("tripod", False), ("pan", True)):
            clip = make_clip(Path(tmp) / f"{name}.mp4", photo, args.seconds, pan)
            got = run(clip, policy)
            per = {k: got[k] / args.seconds for k in ("faces", "text")}
            names = "; ".join(f"{t!r} {a:.2f}-{b:.2f} s" for t, (a, b) in got["seen"].items() if "Priya" in t
                              or "Marcus" in t)
            print(f"{name}: {args.seconds:g} s of 1080p{FPS}, {got['sampled']} frames sampled: faces "
                  f"{per['faces']:.2f} s/s, text {per['text']:.2f} s/s ({got['read']} frames read, a frame at "
                  f"least every {policy.video_ocr_seconds:g} s), text/faces {per['text'] / per['faces']:.2f}; "
                  f"read: {names or 'nothing'}")
            if args.naive:
                naive = run(clip, policy, every_frame=True)
                print(f"  naive (OCR on every sampled frame): text {naive['text'] / args.seconds:.2f} s/s "
                      f"({naive['read']} frames read)")


if __name__ == "__main__":
    main()
