#!/usr/bin/env python3
"""Seconds of work per second of 1080p video: consentguard's way, the old way and the naive way, same run.

    scripts/bench_video.py [--seconds 10] [--naive-seconds 1] [--faces DIR] [--mode default]

Makes two 1080p H.264 clips at 30 fps from real face photos panning slowly (so no two frames are the
same; ``--faces``: the shared face set, default ../shared/faces): **2 faces** (fr-obama_and_biden) and
a **group** (dlib-bald_guys, 11 faces). Then times, for each clip, in one process on the machine's
cores (cv2's DNN runs CenterFace on 2 threads, FFmpeg decodes on its own threads, dlib is single-threaded):

* **consentguard**: the clip streamed by :mod:`consentguard.inspect.video`, a frame every
  ``video_sample_seconds``, faces searched down to the thorough promise (:func:`video_scale`) and
  followed by :mod:`consentguard.inspect.track`, which encodes only what a track needs;
* **old**: the same sampled frames, each searched as a photo (a 1080p frame at full size) and every
  face encoded (the behaviour before the tracker, for the before/after ratio);
* **naive**: every frame decoded and put through the photo face stage (over ``--naive-seconds``).

It prints seconds per second of video (1.0 = real time) with the faces found and encoded, the ratios,
the peak memory of the process after each way (``resource.getrusage``: frames are streamed, so it does
not grow with the clip) and the load average (the machine may be shared: compare the ratios of one
run). Matching and the decision take milliseconds per clip and are left out; so is OCR.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consentguard.inspect.faces import find_and_encode  # noqa: E402
from consentguard.inspect.track import Tracker, follow  # noqa: E402
from consentguard.inspect.video import open_video  # noqa: E402
from consentguard.policy import DEFAULTS, Policy  # noqa: E402

SIZE = (1920, 1080)
FPS = 30
CLIPS = {"2 faces": "fr-obama_and_biden.jpg", "group": "dlib-bald_guys.jpg"}


def make_clip(path: Path, photo: Path, seconds: float) -> Path:
    """A 1080p clip of ``photo`` (scaled to cover the frame and the pan) panning 2 px a frame."""
    import av

    im = ImageOps.exif_transpose(Image.open(photo)).convert("RGB")
    scale = max((SIZE[0] + 2 * FPS * seconds) / im.width, SIZE[1] / im.height)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BILINEAR)
    big = np.asarray(im)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for i in range(round(seconds * FPS)):
            x = min(2 * i, big.shape[1] - SIZE[0])
            frame = np.ascontiguousarray(big[:SIZE[1], x:x + SIZE[0]])
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def ours(clip: Path, policy: Policy) -> dict:
    """The default way: sampled, tracked, encoded when a track needs it."""
    start, frames, found, encoded = time.perf_counter(), 0, 0, 0
    tracker = Tracker(policy.video_encode_seconds)
    with open_video(clip, policy.video_max_seconds, policy.video_max_side) as video:
        for frame in video.frames(policy.video_sample_seconds, policy.video_max_seconds):
            faces, done = follow(frame.rgb, frame.time, tracker, policy)
            frames, found, encoded = frames + 1, found + len(faces), encoded + len(done)
    return {"took": time.perf_counter() - start, "frames": frames, "found": found, "encoded": encoded,
            "tracks": len(tracker.tracks)}


def old(clip: Path, policy: Policy) -> dict:
    """Before the tracker: every sampled frame through the photo face stage, every face encoded."""
    start, frames, found, encoded = time.perf_counter(), 0, 0, 0
    with open_video(clip, policy.video_max_seconds, policy.video_max_side) as video:
        for frame in video.frames(policy.video_sample_seconds, policy.video_max_seconds):
            faces = find_and_encode(frame.rgb, policy.encode_jitters, policy.detect_mode, policy.face_promises)
            frames, found = frames + 1, found + len(faces)
            encoded += sum(f.encoding is not None for f in faces)
    return {"took": time.perf_counter() - start, "frames": frames, "found": found, "encoded": encoded}


def naive(clip: Path, policy: Policy, seconds: float) -> dict:
    """Every frame of the first ``seconds`` through the photo face stage."""
    import av

    start, frames, found = time.perf_counter(), 0, 0
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            if frame.time >= seconds:
                break
            faces = find_and_encode(frame.to_ndarray(format="rgb24"), policy.encode_jitters, policy.detect_mode,
                                    policy.face_promises)
            frames, found = frames + 1, found + len(faces)
    return {"took": time.perf_counter() - start, "frames": frames, "found": found, "encoded": found}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def line(name: str, r: dict, seconds: float) -> str:
    per = r["took"] / seconds
    tracks = f", {r['tracks']} tracks" if "tracks" in r else ""
    return (f"  {name:<13} {seconds:g} s in {r['took']:6.1f} s = {per:5.2f} s per second of video; "
            f"{r['frames']} frames, {r['found'] / max(r['frames'], 1):.1f} faces a frame, "
            f"{r['encoded']} encoded{tracks}; peak memory {peak_mb():.0f} MB")


def main() -> None:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each clip (default 10)")
    ap.add_argument("--naive-seconds", type=float, default=1.0, help="seconds timed the naive way (default 1)")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--mode", choices=("default", "thorough"), default=DEFAULTS["detect_mode"])
    ap.add_argument("--only", choices=sorted(CLIPS), help="one clip only")
    args = ap.parse_args()
    policy = Policy(detect_mode=args.mode)
    print(f"{os.cpu_count()} cores, cv2 threads {cv2.getNumThreads()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.mode} mode, a frame every "
          f"{policy.video_sample_seconds:g} s, encoded at least every {policy.video_encode_seconds:g} s per track")
    find_and_encode(np.zeros((64, 64, 3), np.uint8))  # load the models outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        for label, name in CLIPS.items():
            if args.only and args.only != label:
                continue
            photo = args.faces / "groups" / name
            if not photo.is_file():
                sys.exit(f"{photo}: not found (pass --faces DIR, the shared face set)")
            clip = make_clip(Path(tmp) / f"{label.replace(' ', '_')}.mp4", photo, args.seconds)
            print(f"{label} ({name}, 1080p{FPS}, {args.seconds:g} s):")
            new = ours(clip, policy)
            print(line("consentguard", new, args.seconds))
            before = old(clip, policy)
            print(line("old", before, args.seconds))
            slow = naive(clip, policy, args.naive_seconds)
            print(line("naive", slow, args.naive_seconds))
            per = new["took"] / args.seconds
            print(f"  consentguard is {before['took'] / new['took']:.1f}x faster than the old way and "
                  f"{(slow['took'] / args.naive_seconds) / per:.0f}x faster than the naive way")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
