#!/usr/bin/env python3
"""Time name matching against large rosters, and count the false alarms of the typo rule.

Timing: one 300-word text (as OCR of a slide gives) searched for the names of N
name-restricted students, every form on, per call; once with numbered synthetic
names (Maria17 Surname17) and once with realistic names (Faker, several locales),
which the typo rule (``fuzzy``) also looks at.

False alarms (--false-alarms): every hit on real prose no student is named in
(Python's own documentation, the licence texts of /usr/share/common-licenses and
Python's LICENSE) and on the negative captions of the names corpus, with every
student of a realistic roster of 2,000 name-restricted; per form, so the typo rule's
share shows. Exact forms may hit there too (a student named "Free Foundation"...).

Usage: python scripts/bench_names.py [--students 500 2000 8000] [--false-alarms]
"""

from __future__ import annotations

import argparse
import random
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

from consentguard.match.index import Student
from consentguard.match.names import find_names, first_name_counts

ROOT = Path(__file__).resolve().parent.parent
FIRSTS = ["Maria", "Priya", "Ethan", "Noah", "Ava", "Liam", "Mia", "Lucas", "Emma", "Zoe", "Omar", "Aisha"]
WORDS = ["the", "class", "at", "fair", "and", "Maria", "Gonzalez", "science", "award", "to", "Priya"]
LOCALES = ["en_US", "en_GB", "es_MX", "de_DE", "pl_PL", "fr_FR", "it_IT", "pt_BR", "vi_VN", "hi_IN", "da_DK",
           "nl_NL", "tr_TR", "sv_SE", "ga_IE"]


def synthetic_roster(n: int, rng: random.Random) -> list[Student]:
    return [Student(str(i), f"{rng.choice(FIRSTS)}{i % 50}", f"Surname{i}", False, True) for i in range(n)]


def realistic_roster(n: int, seed: int = 1) -> list[Student]:
    """``n`` name-restricted students with names as Faker writes them for schools' usual languages."""
    from faker import Faker

    fake = Faker(LOCALES)
    Faker.seed(seed)
    return [Student(str(i), fake.first_name(), fake.last_name(), False, True) for i in range(n)]


def prose() -> str:
    """Real English prose on this machine that names no student."""
    import pydoc_data.topics

    parts = list(pydoc_data.topics.topics.values())
    for folder in (Path("/usr/share/common-licenses"), Path(sysconfig.get_paths()["stdlib"])):
        files = sorted(folder.glob("*")) if folder.name == "common-licenses" else [folder / "LICENSE.txt"]
        parts += [f.read_text(encoding="utf-8", errors="replace") for f in files if f.is_file()]
    return "\n".join(parts)


def time_it(text: str, students: list[Student]) -> float:
    counts = first_name_counts(students)
    find_names(text, students, "ocr", counts, compact=True)  # warm the per-name caches, as a Checker does
    times = []
    for _ in range(5):
        start = time.perf_counter()
        find_names(text, students, "ocr", counts, compact=True)
        times.append(time.perf_counter() - start)
    return sorted(times)[2]


def false_alarms(n: int) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import evaluate_names as ev

    students = realistic_roster(n)
    counts = first_name_counts(students)
    text = prose()
    negatives = [r["caption"] for r in ev.read_tsv(ev.CORPUS / "captions.tsv") if not r["expected"]]
    print(f"false alarms, {n} realistic name-restricted students:")
    for label, texts in ((f"prose ({len(text.split())} words)", text.split("\n\n")),
                         (f"negative captions ({len(negatives)})", negatives)):
        forms: Counter = Counter()
        examples: dict[str, list[str]] = {}
        for chunk in texts:
            for hit in find_names(chunk, students, "caption", counts):
                forms[hit.form] += 1
                student = next(s for s in students if s.student_number == hit.student_number)
                examples.setdefault(hit.form, []).append(f"{hit.text!r} ({student.first_name} {student.last_name})")
        print(f"  {label}: {sum(forms.values())} hits {dict(forms)}")
        for form, items in examples.items():
            print(f"    {form}: {', '.join(items[:8])}{' ...' if len(items) > 8 else ''}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, nargs="+", default=[500, 2000, 8000])
    ap.add_argument("--false-alarms", action="store_true", help="count hits on prose and negative captions")
    args = ap.parse_args()
    if args.false_alarms:
        false_alarms(2000)
        return
    rng = random.Random(1)
    text = " ".join(rng.choice(WORDS) for _ in range(300))
    real = " ".join(prose().split()[5000:5300])
    print("name-restricted students  seconds per 300-word text (median of 5, warm)")
    print(f"{'':>24}  synthetic  realistic  realistic names, prose text")
    for n in args.students:
        synthetic, realistic = synthetic_roster(n, rng), realistic_roster(n)
        print(f"{n:>24}  {time_it(text, synthetic):9.4f}  {time_it(text, realistic):9.4f}  {time_it(real, realistic):9.4f}")


if __name__ == "__main__":
    main()
