#!/usr/bin/env python3
"""Measure name matching on the names corpus: precision and recall, per source and per strength.

Syncs tests/corpus/names/roster.csv into a temporary database (a real sync),
checks every caption of captions.tsv, renders the images of images.tsv
(certificates, name tags, slides and jerseys for OCR; metadata written the way
cameras, Windows and Lightroom write it; file names) and checks each photo, then
compares the hits (student, block/review) with the expected ones.

A hit counts as correct when the student is right; "strength right" also needs
block/review to match. Negative items (no restricted name) must have no hit:
every hit there is a false alarm.

Usage: python scripts/evaluate_names.py [--images-only | --captions-only] [-v]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
# The corpus is read and rendered by the tests' helper (tests/test_names_corpus.py uses it too).
from helpers.names_corpus import CORPUS, expected_hits, read_tsv, render_images  # noqa: E402


class Tally:
    def __init__(self):
        self.expected = self.found = self.correct = self.strength_right = 0
        self.false_alarms: list[str] = []
        self.missed: list[str] = []

    def add(self, label: str, expected: set, got: set) -> None:
        exp_students = {s for s, _ in expected}
        got_students = {s for s, _ in got}
        self.expected += len(exp_students)
        self.found += len(got_students)
        self.correct += len(exp_students & got_students)
        self.strength_right += len(expected & got)
        for s in sorted(got_students - exp_students):
            self.false_alarms.append(f"{label!r}: {s}")
        for s in sorted(exp_students - got_students):
            self.missed.append(f"{label!r}: {s}")

    def line(self, name: str) -> str:
        precision = self.correct / self.found if self.found else 1.0
        recall = self.correct / self.expected if self.expected else 1.0
        strength = self.strength_right / self.expected if self.expected else 1.0
        return (f"{name:<22} expected {self.expected:>4}  found {self.found:>4}  precision {precision:7.1%}  "
                f"recall {recall:7.1%}  strength right {strength:7.1%}  false alarms {len(self.false_alarms)}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--captions-only", action="store_true")
    ap.add_argument("--images-only", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    from consentguard import Checker, open_db, sync_roster

    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "cg.db")
        sync_roster(db, CORPUS / "roster.csv")
        checker = Checker(db, record=False)
        tallies = {}
        if not args.images_only:
            rows = read_tsv(CORPUS / "captions.tsv")
            for row in rows:
                hits = checker.find_names(row["caption"])
                t = tallies.setdefault(f"captions: {row['kind']}", Tally())
                t.add(row["caption"], expected_hits(row["expected"]), {(h.student_number, h.strength) for h in hits})
            print(f"{len(rows)} captions: {sum(1 for r in rows if r['expected'])} mention restricted students; "
                  "the others use ordinary words that are names, name permitted students, name places "
                  "or use a name in another sense")
        if not args.captions_only:
            cache = ROOT / ".cache" / "names_corpus"
            images = render_images(cache)
            start = time.perf_counter()
            for path, row in images:
                result = checker.check_path(path)
                got = {(h.student_number, h.strength) for h in result.decision.names}
                source = row["where"].split(":")[0]
                tallies.setdefault(f"images: {source}", Tally()).add(row["file"], expected_hits(row["expected"]), got)
            seconds = time.perf_counter() - start
            print(f"{len(images)} images (OCR, metadata, file names) checked in {seconds:.1f} s "
                  f"({seconds / len(images):.2f} s each, 2400x1800, OCR on)")
        total = Tally()
        for name, t in tallies.items():
            print(t.line(name))
            total.expected += t.expected
            total.found += t.found
            total.correct += t.correct
            total.strength_right += t.strength_right
            total.false_alarms += t.false_alarms
            total.missed += t.missed
        print(total.line("all"))
        if args.verbose or total.false_alarms or total.missed:
            for item in total.missed:
                print(f"  missed      {item}")
            for item in total.false_alarms:
                print(f"  false alarm {item}")
        return 0 if not total.missed and not total.false_alarms else 1


if __name__ == "__main__":
    sys.exit(main())
