"""Name matching: find the names of name-restricted students in text.

Text is compared case- and accent-insensitively, word by word, while every hit
keeps the exact span of the original text it came from. This module finds
full names (first [middle] last, and "Last, First"); issue #5 adds the rest.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from .index import Student

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` (same length not guaranteed)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Token:
    word: str  # folded
    start: int  # span in the original text
    end: int


def tokenize(text: str) -> list[Token]:
    """Words of ``text`` folded, with their spans in the original."""
    tokens = []
    for match in _WORD.finditer(text):
        word = fold(match.group()).replace("’", "'")
        if word.endswith("'s"):  # possessive: "Maria's"
            word = word[:-2]
        tokens.append(Token(word.replace("'", ""), match.start(), match.end()))  # O'Brien = OBrien
    return tokens


def name_words(name: str) -> list[str]:
    return [t.word for t in tokenize(name)]


@dataclass
class NameHit:
    student_number: str
    text: str      # the exact words found, as written
    source: str    # caption | ocr | metadata:<field> | filename
    form: str      # full | last_first
    strength: str  # block | review
    start: int
    end: int

    def to_json(self) -> dict:
        return {"student_number": self.student_number, "text": self.text, "source": self.source,
                "form": self.form, "strength": self.strength, "span": [self.start, self.end]}


def _find_sequence(tokens: list[Token], words: list[str]) -> Iterable[tuple[int, int]]:
    n = len(words)
    if n == 0:
        return
    for i in range(len(tokens) - n + 1):
        if all(tokens[i + k].word == words[k] for k in range(n)):
            yield i, i + n - 1


def find_names(text: str, students: Iterable[Student], source: str) -> list[NameHit]:
    """Every full-name mention in ``text`` of the given (name-restricted) students."""
    if not text:
        return []
    tokens = tokenize(text)
    hits: list[NameHit] = []
    for student in students:
        first, last = name_words(student.first_name), name_words(student.last_name)
        if not first or not last:
            continue
        patterns = [(first + last, "full"), (last + first, "last_first")]
        for words, form in patterns:
            for i, j in _find_sequence(tokens, words):
                start, end = tokens[i].start, tokens[j].end
                hits.append(NameHit(student.student_number, text[start:end], source, form,
                                    "block", start, end))
        for middle_words in _middle_patterns(student, first, last):
            for i, j in _find_sequence(tokens, middle_words):
                start, end = tokens[i].start, tokens[j].end
                hits.append(NameHit(student.student_number, text[start:end], source, "full",
                                    "block", start, end))
    return _dedupe(hits)


def _middle_patterns(student: Student, first: list[str], last: list[str]) -> list[list[str]]:
    middle = name_words(student.middle_name)
    if not middle:
        return []
    return [first + middle + last, first + middle[:1] + last]


def _dedupe(hits: list[NameHit]) -> list[NameHit]:
    seen, out = set(), []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        key = (hit.student_number, hit.start)
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out
