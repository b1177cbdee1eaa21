#!/usr/bin/env python3
"""Measure OCR: time per 12 MP photo and the smallest text read, per mode, on one core.

Renders a name ("Priya Natarajan") at font sizes from 12 to 64 px, straight and
tilted 10 degrees, onto a real crowd photo enlarged to 12 MP (4000x3000; a flat
background without ../shared/faces), then reads it with consentguard's OCR in
each mode and prints the seconds (median of 3) and which sizes were read. The
figures behind consentguard/inspect/ocr.py and the README.

Usage: python scripts/bench_ocr.py
"""

import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("CONSENTGUARD_OCR_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from consentguard.inspect.ocr import OCR_SIDE, read_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SIZES = [12, 16, 20, 24, 28, 36, 48, 64]
NAME = "Priya Natarajan"


def card(size: int, angle: float) -> Image.Image:
    font = ImageFont.load_default(size=size)
    im = Image.new("RGB", (int(font.getlength(NAME)) + size, int(size * 1.8)), "white")
    ImageDraw.Draw(im).text((size // 2, size // 4), NAME, fill=(20, 20, 60), font=font)
    return im.rotate(angle, expand=True, fillcolor=(150, 160, 140)) if angle else im


def scene(angle: float) -> tuple[np.ndarray, list[tuple[int, tuple[int, int, int, int]]]]:
    crowd = ROOT.parent / "shared" / "faces" / "groups" / "crowd-11.jpg"
    background = (Image.open(crowd).convert("RGB").resize((4000, 3000)) if crowd.is_file()
                  else Image.new("RGB", (4000, 3000), (96, 120, 104)))
    placed = []
    for i, size in enumerate(SIZES):
        im = card(size, angle)
        x, y = 200 + (i % 2) * 2000, 200 + (i // 2) * 700
        background.paste(im, (x, y))
        placed.append((size, (x, y, x + im.width, y + im.height)))
    return np.asarray(background), placed


def main() -> None:
    print(f"12 MP photo (4000x3000), '{NAME}' at font sizes {SIZES} px; one core; median of 3 runs")
    print(f"{'mode':<9}{'long side':>10}{'angle':>7}{'seconds':>9}  read at font size (px)")
    for mode in OCR_SIDE:
        for angle in (0, 10):
            rgb, placed = scene(angle)
            read_text(rgb, mode)  # warm up
            times, lines = [], []
            for _ in range(3):
                start = time.perf_counter()
                lines = read_text(rgb, mode)
                times.append(time.perf_counter() - start)
            read = []
            for size, (x1, y1, x2, y2) in placed:
                texts = " ".join(line.text for line in lines if x1 - 20 <= line.box[0] and line.box[2] <= x2 + 20
                                 and y1 - 20 <= line.box[1] and line.box[3] <= y2 + 20)
                read.append("yes" if "Natarajan" in texts.replace(" ", "") else "-")
            print(f"{mode:<9}{OCR_SIDE[mode]:>10}{angle:>7}{statistics.median(times):>9.2f}  "
                  + " ".join(f"{s}:{r}" for s, r in zip(SIZES, read)))


if __name__ == "__main__":
    main()
