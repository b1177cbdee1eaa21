#!/usr/bin/env python3
"""Seconds of work per second of 1080p video for a clip's safe copy: ours against deface, same clip.

    scripts/bench_redact_video.py [--seconds 10] [--faces DIR] [--deface PATH] [--every 1 2]

Makes the 1080p30 H.264 clip of scripts/bench_video.py (a group photo panning 2 px a frame, so no two
frames are the same, faces about 150-250 px wide), then times on this machine (wall clock and CPU):

* **consentguard** (:func:`consentguard.output.redact_video.redact_video`): every frame decoded,
  searched for faces every ``--every`` frames (CenterFace at the video scale), the leftmost face
  hidden as a restricted track and every face off the passed tracks hidden, H.264 written again.
  The result document it works from is made here the way the tracker's looks (each face found in
  a sampled frame put on a track by its place from the left), so the check itself is not timed
  (scripts/bench_video.py times that);
* **deface** (ORB-HCI's CenterFace anonymiser, PyPI ``deface``), run as a program on the same clip
  with its defaults, if ``--deface PATH`` (or ``deface`` on PATH) is there. Install it in a venv of
  its own, never in consentguard's::

      python3 -m venv /tmp/deface-venv && /tmp/deface-venv/bin/pip install deface
      scripts/bench_redact_video.py --deface /tmp/deface-venv/bin/deface

Prints seconds per second of video (1.0 = real time) for each.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_video import FPS, make_clip  # noqa: E402

from consentguard.inspect.faces import find_and_encode  # noqa: E402
from consentguard.inspect.video import open_video, sha256_file  # noqa: E402
from consentguard.output.redact_video import redact_video  # noqa: E402
from consentguard.policy import Policy  # noqa: E402

INSTALL = ("deface is not installed: python3 -m venv /tmp/deface-venv && /tmp/deface-venv/bin/pip install deface, "
           "then pass --deface /tmp/deface-venv/bin/deface (never into consentguard's environment)")


def result_doc(clip: Path, policy: Policy) -> dict:
    """A check result with tracks, as the tracker writes them: faces of each sampled frame, tracked
    by their order from the left; the leftmost is restricted (block), the others passed."""
    tracks: dict[int, list] = {}
    with open_video(clip, policy.video_max_seconds, policy.video_max_side) as video:
        for frame in video.frames(policy.video_sample_seconds, policy.video_max_seconds):
            boxes = sorted(f.box for f in find_and_encode(frame.rgb, 1, policy.detect_mode, policy.face_promises))
            for k, box in enumerate(boxes):
                tracks.setdefault(k, []).append([round(frame.time, 3), *box])
        decoded = video.decoded
    return {"path": str(clip), "sha256": sha256_file(clip), "verdict": "block", "reasons": [], "faces": [],
            "names": [], "video": {"frames_decoded": decoded, "sample_seconds": policy.video_sample_seconds,
                                   "unchecked": [], "tracks": [
                                       {"id": k, "verdict": "block" if k == 0 else "pass", "student_number": None,
                                        "boxes": boxes} for k, boxes in tracks.items()]}}


def ours(clip: Path, out: Path, doc: dict, policy: Policy) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, what was hidden)."""
    cpu, wall = time.process_time(), time.perf_counter()
    done = redact_video(clip, out, doc, policy)
    return time.perf_counter() - wall, time.process_time() - cpu, done


def deface(program: str, clip: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the deface process) with deface's defaults."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run([program, str(clip), "-o", str(out)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the clip (default 10)")
    ap.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces")
    ap.add_argument("--deface", help="the deface program (default: deface on PATH)")
    ap.add_argument("--every", type=int, nargs="+", default=[2, 1],
                    help="redact_video_every values to time (default: 2 1)")
    args = ap.parse_args()
    photo = args.faces / "groups" / "fr-obama_and_biden.jpg"
    if not photo.is_file():
        sys.exit(f"{photo}: not found (pass --faces DIR, the shared face set)")
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "bench.mp4", photo, args.seconds)
        find_and_encode(np.zeros((64, 64, 3), np.uint8))  # load the models outside the timings
        doc = result_doc(clip, Policy())
        print(f"clip: {args.seconds:g} s of 1080p{FPS}, {len(doc['video']['tracks'])} face tracks")
        for every in args.every:
            wall, cpu, done = ours(clip, Path(tmp) / f"ours{every}.mp4", doc, Policy(redact_video_every=every))
            print(f"consentguard (faces searched every {every} frame{'s' if every > 1 else ''}): {wall:.1f} s = "
                  f"{wall / args.seconds:.2f} s per second of video (CPU {cpu / args.seconds:.2f} s per second; "
                  f"{done.frames} frames, frames with a face found only by the search: {len(done.found_only)})")
        program = args.deface or shutil.which("deface")
        if not program or not Path(program).exists():
            print(INSTALL)
            return
        wall, cpu = deface(program, clip, Path(tmp) / "deface.mp4")
        print(f"deface (defaults): {wall:.1f} s = {wall / args.seconds:.2f} s per second of video "
              f"(CPU {cpu / args.seconds:.2f} s per second)")


if __name__ == "__main__":
    main()
