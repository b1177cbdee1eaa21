#!/usr/bin/env python3
"""Benchmark: consentguard scan vs the face_recognition CLI on 12 MP event photos.

Builds N photos of 4000x3000 (12 MP): a blurred street background with real
faces pasted at widths from 40 to 400 px; in each photo the restricted student
(the PyPI sdist's obama photos, enrolled from obama.jpg) appears at a known size.
Both tools get the same portrait and photos; both use every core. Prints time per
photo, the ratio, and how many of the restricted student's faces each found.

The face_recognition CLI shrinks photos to 1,600 px before looking, so faces
below about 100 px in a 12 MP photo are lost; consentguard detects at full size.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parent.parent
FACES = ROOT / ".cache" / "pypi_faces"
SIZES = [40, 56, 64, 80, 120, 200, 300, 400]


def face_width(path: Path) -> int:
    from consentguard.inspect.faces import detect_faces
    from consentguard.inspect.image import load_image
    return max(f.width for f in detect_faces(load_image(path).rgb))


def paste(scene, path: Path, width: int, x: int, y: int, tight: bool = False) -> None:
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    k = width / face_width(path)
    if tight and "lfw" in path.parts:  # LFW photos often show other people at the edges: keep the centre
        im = im.crop((55, 40, 195, 210))
    scene.paste(im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.LANCZOS), (x, y))


def make_photos(folder: Path, n: int, plain: bool = False) -> list[int]:
    """Write n photos; return the restricted face's width in each."""
    others = [FACES / "biden.jpg"] + sorted((ROOT.parent / "shared" / "faces" / "lfw").glob("*/*_0001.jpg"))[:40]
    city = ROOT.parent / "shared" / "faces" / "groups" / "deface-city.jpg"
    widths = []
    for i in range(n):
        scene = (Image.open(city).convert("RGB").resize((4000, 3000)).filter(ImageFilter.GaussianBlur(6))
                 if city.is_file() and not plain else Image.new("RGB", (4000, 3000), (110, 120, 100)))
        width = SIZES[i % len(SIZES)]
        paste(scene, FACES / ("obama2.jpg" if i % 2 else "obama3.jpg"), width, 300 + 37 * i, 900)
        for j in range(8):  # other people, various sizes
            paste(scene, others[(i * 8 + j) % len(others)], SIZES[(i + j + 3) % len(SIZES)],
                  1500 + (j % 4) * 600, 200 + (j // 4) * 1400, True)
        scene.save(folder / f"event_{i:02d}.jpg", quality=90)
        widths.append(width)
    return widths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--plain", action="store_true",
                    help="a plain background instead of the blurred street photo, whose passers-by add about "
                         "15 faces per photo")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos, known = tmp / "photos", tmp / "known"
        photos.mkdir(), known.mkdir()
        widths = make_photos(photos, args.photos, args.plain)
        shutil.copy(FACES / "obama.jpg", known / "restricted.jpg")
        (tmp / "portraits").mkdir()
        shutil.copy(FACES / "obama.jpg", tmp / "portraits" / "900001.jpg")
        (tmp / "e.csv").write_text("Student_Number,First_Name,Last_Name,Media_Opt_Out\n900001,Marcus,Ellery,Y\n")
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "CONSENTGUARD_DB": str(tmp / "cg.db")}
        subprocess.run([bin_dir / "consentguard", "sync", tmp / "e.csv", "--photos", tmp / "portraits"],
                       env=env, check=True, capture_output=True)

        import json

        def run_scan(*extra):
            start = time.perf_counter()
            scan = subprocess.run([bin_dir / "consentguard", "scan", photos, "--json", "-q",
                                   "--workers", str(args.workers), *extra], env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            docs = json.loads(scan.stdout)["results"]
            faces = sum(len(d["faces"]) for d in docs)
            return seconds, {Path(d["path"]).name for d in docs
                             if any(f["student_number"] == "900001" for f in d["faces"])}, faces

        ours, found_ours, faces_ours = run_scan("--no-ocr")
        thorough, found_thorough, faces_thorough = run_scan("--thorough", "--no-ocr")
        with_ocr, _, _ = run_scan()

        start = time.perf_counter()
        ref = subprocess.run([bin_dir / "face_recognition", "--cpus", str(args.workers), "--tolerance", "0.6",
                              known, photos], capture_output=True, text=True)
        theirs = time.perf_counter() - start
        found_ref = {Path(line.split(",")[0]).name for line in ref.stdout.splitlines()
                     if line.split(",")[1:2] == ["restricted"]}

        n = args.photos
        print(f"{n} photos of 12 MP (4000x3000), 9 pasted faces each (the pasted photos hold more: see faces "
              f"found), {args.workers} workers; restricted face widths {', '.join(map(str, widths))} px")
        print(f"faces found per photo: default {faces_ours / n:.1f}, thorough {faces_thorough / n:.1f}")
        print(f"{'tool':<34}{'s/photo':>9}{'x ref':>8}{'restricted found':>18}")
        print(f"{'face_recognition CLI (reference)':<34}{theirs / n:>9.2f}{1:>8.2f}{len(found_ref):>12} of {n}")
        print(f"{'consentguard scan (default, no OCR)':<34}{ours / n:>9.2f}{ours / theirs:>8.2f}{len(found_ours):>12} of {n}")
        print(f"{'consentguard scan --thorough':<34}{thorough / n:>9.2f}{thorough / theirs:>8.2f}"
              f"{len(found_thorough):>12} of {n}")
        print(f"{'consentguard scan, OCR on':<34}{with_ocr / n:>9.2f}{with_ocr / theirs:>8.2f}")

        def missed(found):
            return sorted(w for i, w in enumerate(widths) if f"event_{i:02d}.jpg" not in found) or "none"
        print(f"restricted face widths missed: reference {missed(found_ref)}; default {missed(found_ours)}; "
              f"thorough {missed(found_thorough)}")


if __name__ == "__main__":
    main()
