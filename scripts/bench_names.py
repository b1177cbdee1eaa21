#!/usr/bin/env python3
"""Time name matching against large rosters: one 300-word text (as OCR of a slide gives) searched
for the names of N name-restricted students, every form on, per call.

Usage: python scripts/bench_names.py [--students 500 2000 8000]
"""

import argparse
import random
import time

from consentguard.index import Student
from consentguard.names import find_names, first_name_counts

FIRSTS = ["Maria", "Priya", "Ethan", "Noah", "Ava", "Liam", "Mia", "Lucas", "Emma", "Zoe", "Omar", "Aisha"]
WORDS = ["the", "class", "at", "fair", "and", "Maria", "Gonzalez", "science", "award", "to", "Priya"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, nargs="+", default=[500, 2000, 8000])
    args = ap.parse_args()
    rng = random.Random(1)
    text = " ".join(rng.choice(WORDS) for _ in range(300))
    print("name-restricted students  seconds per 300-word text (median of 5, warm)")
    for n in args.students:
        students = [Student(str(i), f"{rng.choice(FIRSTS)}{i % 50}", f"Surname{i}", False, True) for i in range(n)]
        counts = first_name_counts(students)
        find_names(text, students, "ocr", counts, compact=True)  # warm the per-name caches, as a Checker does
        times = []
        for _ in range(5):
            start = time.perf_counter()
            find_names(text, students, "ocr", counts, compact=True)
            times.append(time.perf_counter() - start)
        print(f"{n:>24}  {sorted(times)[2]:.4f}")


if __name__ == "__main__":
    main()
