#!/usr/bin/env python3
"""Seconds of work per second of 1080p video: consentguard's way against the naive way, same run.

    scripts/bench_video.py [--seconds 10] [--naive-seconds 2] [--faces DIR] [--mode default]

Makes a 1080p H.264 clip at 30 fps from real face photos (a group photo panning slowly, so no two
frames are the same; ``--faces``: the shared face set, default ../shared/faces), then times, on one
core (a video is checked in one worker; a scan spreads files over the cores):

* **consentguard**: the clip streamed by :mod:`consentguard.inspect.video`, a frame every
  ``video_sample_seconds`` through the face stage (``find_and_encode``: detect, confirm, encode);
* **naive**: every frame decoded and put through the same photo face stage (over
  ``--naive-seconds`` of the clip only: it is slow).

It prints seconds per second of video for both (1.0 = real time) and the faces found. Matching and
the decision take milliseconds per clip and are left out; so is OCR (not run on video frames yet).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consentguard.inspect.faces import find_and_encode  # noqa: E402
from consentguard.inspect.video import open_video  # noqa: E402
from consentguard.policy import DEFAULTS, Policy  # noqa: E402

SIZE = (1920, 1080)
FPS = 30


def make_clip(path: Path, photo: Path, seconds: float) -> Path:
    """A 1080p clip of ``photo`` panning 2 px a frame (faces about 150-250 px wide)."""
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


def ours(clip: Path, policy: Policy) -> tuple[float, int, int]:
    """(seconds, frames checked, faces found) for the whole clip, sampled."""
    start, frames, faces = time.perf_counter(), 0, 0
    with open_video(clip, policy.video_max_seconds, policy.video_max_side) as video:
        for frame in video.frames(policy.video_sample_seconds, policy.video_max_seconds):
            faces += len(find_and_encode(frame.rgb, policy.encode_jitters, policy.detect_mode, policy.face_promises))
            frames += 1
    return time.perf_counter() - start, frames, faces


def naive(clip: Path, policy: Policy, seconds: float) -> tuple[float, int, int]:
    """(seconds, frames, faces) with every frame of the first ``seconds`` through the photo face stage."""
    import av

    start, frames, faces = time.perf_counter(), 0, 0
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            if frame.time >= seconds:
                break
            rgb = frame.to_ndarray(format="rgb24")
            faces += len(find_and_encode(rgb, policy.encode_jitters, policy.detect_mode, policy.face_promises))
            frames += 1
    return time.perf_counter() - start, frames, faces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the clip (default 10)")
    ap.add_argument("--naive-seconds", type=float, default=2.0, help="seconds timed the naive way (default 2)")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--mode", choices=("default", "thorough"), default=DEFAULTS["detect_mode"])
    args = ap.parse_args()
    photo = args.faces / "groups" / "fr-obama_and_biden.jpg"
    if not photo.is_file():
        sys.exit(f"{photo}: not found (pass --faces DIR, the shared face set)")
    policy = Policy(detect_mode=args.mode)
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "bench.mp4", photo, args.seconds)
        find_and_encode(np.zeros((64, 64, 3), np.uint8))  # load the models outside the timings
        took, frames, faces = ours(clip, policy)
        print(f"consentguard ({args.mode}, a frame every {policy.video_sample_seconds:g} s): {args.seconds:g} s of "
              f"1080p{FPS} in {took:.1f} s = {took / args.seconds:.2f} s per second of video "
              f"({frames} frames checked, {faces / max(frames, 1):.1f} faces per frame), one core")
        n_took, n_frames, n_faces = naive(clip, policy, args.naive_seconds)
        print(f"naive (every frame through the photo path): {args.naive_seconds:g} s in {n_took:.1f} s = "
              f"{n_took / args.naive_seconds:.2f} s per second of video ({n_frames} frames, "
              f"{n_faces / max(n_frames, 1):.1f} faces per frame), one core")
        print(f"speed-up: {(n_took / args.naive_seconds) / (took / args.seconds):.1f}x")


if __name__ == "__main__":
    main()
