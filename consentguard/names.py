"""Name matching: find the names of name-restricted students in text.

Text is compared case- and accent-insensitively, word by word, while every hit
keeps the exact span of the original text it came from. The same matcher reads
captions, text found in the photo, metadata fields and file names; ``source``
says which.

Forms, strongest first (``FORMS``):

=============  =====================================  ========
form           example (student Maria Gonzalez)        strength
=============  =====================================  ========
full           Maria Gonzalez, Maria J. Gonzalez,     block
               MARIA GONZALEZ, Maria Gonzalez's
last_first     Gonzalez, Maria                        block
joined         #MariaGonzalez, maria_gonzalez.jpg     block
nickname       Alex Gonzalez (for Alexandra)          review
part_surname   Maria Smith (for Maria Smith-Jones)     review
first_initial  Maria G.                               review
initials       M.G. (with the full stops)             review
file_initial   mgonzalez.jpg, gonzalezm.jpg           review
first_only     Maria (a first name few students have)  review
=============  =====================================  ========

Names that are also ordinary words ("Grace", "Will", "Young": ``COMMON_WORDS``)
never count alone, and a form made only of such words ("Grace Young", "Will
B.") counts only when every word is capitalised in the text, as names are.

A first name alone is a review hit when it is not an ordinary word and at most
``FIRST_ONLY_MAX_SHARED`` students of the roster have it: then it points at a
handful of children, and in a class photo, at one.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from .index import Student
from .nicknames import variants

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

BLOCK, REVIEW = "block", "review"

#: Changes whenever matching or the places searched change, so cached scan results are not reused.
MATCHER_VERSION = "names3"
FORMS = {"full": BLOCK, "last_first": BLOCK, "joined": BLOCK, "nickname": REVIEW, "part_surname": REVIEW, "first_initial": REVIEW,
         "initials": REVIEW, "file_initial": REVIEW, "first_only": REVIEW}

#: A first name alone is a review hit only if at most this many students have it.
FIRST_ONLY_MAX_SHARED = 3

#: Names that are also ordinary English words: never a hit alone, and a form
#: made only of them needs capitals. Curated; see tests/test_names.py.
COMMON_WORDS = frozenset("""
    ace amber angel april art august autumn bay bill blue bo bob brandy brook buddy candy carol
    chance chase chip christian clay cliff crystal dale dawn dean destiny dot drew dusty earl
    eden ember faith fern frank gene ginger glen grace guy hal harmony hazel heather holly honor
    hope hunter iris ivy jack jade jay jewel journey joy june justice king lane lark laurel lily
    major mark mason max may melody mercy miles misty page pat patience pearl penny pierce piper
    prince rain ray reed rich river robin rock rocky rose ruby rusty sage sandy scout shade sky
    skip sonny spring star sterling storm summer sunny taylor trinity true violet wade will
    willow winter wren
    baker banks bell berry best bird bishop black bloom bond booth brown bush butler cash chance
    church cook cooper crane cross day dean field fisher ford fox frost gold good gray green
    grey hall hart hill holiday house hunt jones king lake lamb lane law little long love
    lucky mann marsh mason may miller mills moon moore morning noble north park parker
    pool porter price rice rich rivers rose rush salt sharp short small snow south spring
    stone strong swan turner wall ward waters west white wise wolf wood woods young
""".split())

_FILE_SEPARATORS = re.compile(r"[_\-.+ ]+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` (same length not guaranteed)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Token:
    word: str   # folded, apostrophes and possessive 's removed
    start: int  # span in the original text
    end: int
    capital: bool = False  # starts with a capital letter in the original
    stop: bool = False     # a full stop follows directly ("G.")


def tokenize(text: str) -> list[Token]:
    """Words of ``text`` folded, with their spans in the original."""
    tokens = []
    for match in _WORD.finditer(text):
        raw = match.group()
        word = fold(raw).replace("’", "'")
        if word.endswith("'s"):  # possessive: "Maria's"
            word = word[:-2]
        tokens.append(Token(word.replace("'", ""), match.start(), match.end(), raw[:1].isupper(),
                            text[match.end():match.end() + 1] == "."))
    return tokens


@lru_cache(maxsize=65536)
def _name_words(name: str) -> tuple[str, ...]:
    return tuple(t.word for t in tokenize(name))


def name_words(name: str) -> list[str]:
    """The folded words of a name (cached: the same roster names are looked up for every photo)."""
    return list(_name_words(name))


@dataclass
class NameHit:
    student_number: str
    text: str      # the exact words found, as written
    source: str    # caption | ocr | metadata:<field> | filename | folder
    form: str      # see FORMS
    strength: str  # block | review
    start: int
    end: int
    box: tuple[int, int, int, int] | None = field(default=None)  # where in the photo (OCR text, face region)
    restriction: str = "name"  # name: a name-restricted student is named; photo: a photo-restricted one is shown
    view: str | None = None  # OCR text in another picture of the file ("frame 3 of 12"); its box is there

    def to_json(self) -> dict:
        doc = {"student_number": self.student_number, "text": self.text, "source": self.source,
               "form": self.form, "strength": self.strength, "span": [self.start, self.end],
               "restriction": self.restriction}
        if self.box is not None:
            doc["box"] = list(self.box)
        if self.view is not None:
            doc["view"] = self.view
        return doc


@dataclass
class _Pattern:
    words: list[str]
    form: str
    initials_need_stop: bool = False  # single letters must be followed by "." (initials)


def _patterns(student: Student) -> list[_Pattern]:
    return _patterns_for(student.first_name, student.legal_first_name, student.middle_name, student.last_name)


@lru_cache(maxsize=65536)
def _patterns_for(first_name: str, legal_first_name: str, middle_name: str, last_name: str) -> list[_Pattern]:
    last = name_words(last_name)
    firsts = [w for w in (name_words(first_name), name_words(legal_first_name)) if w]
    firsts = [f for i, f in enumerate(firsts) if f not in firsts[:i]]
    if not last or not firsts:
        return []
    middle = name_words(middle_name)
    patterns = []
    for first in firsts:
        patterns += [_Pattern(first + last, "full"), _Pattern(last + first, "last_first")]
        if middle:
            patterns += [_Pattern(first + middle + last, "full"), _Pattern(first + [middle[0][0]] + last, "full")]
        patterns.append(_Pattern(first + [last[0][0]], "first_initial"))
        if "-" in last_name:  # "Maria Smith" for Maria Smith-Jones
            patterns += [_Pattern(first + [part], "part_surname") for part in last if len(part) > 1]
        patterns.append(_Pattern([first[0][0], last[0][0]], "initials", initials_need_stop=True))
    for first in firsts:
        for nick in sorted(variants(" ".join(first))):
            if [nick] not in firsts:
                patterns.append(_Pattern([nick] + last, "nickname"))
    for other in _surname_spellings(last):  # St. John / Saint John
        patterns += [_Pattern(first + other, "full") for first in firsts]
        patterns += [_Pattern(other + first, "last_first") for first in firsts]
    return patterns


#: Surname words written two ways ("St. John" and "Saint John", "Ste. Marie" and "Sainte Marie").
SURNAME_SPELLINGS = {"st": "saint", "saint": "st", "ste": "sainte", "sainte": "ste"}


def _surname_spellings(last: list[str]) -> list[list[str]]:
    if not any(w in SURNAME_SPELLINGS for w in last):
        return []
    return [[SURNAME_SPELLINGS.get(w, w) for w in last]]


def _joined(student: Student) -> list[tuple[str, str]]:
    """One-word spellings (hashtags, file names): (word, form)."""
    last = "".join(name_words(student.last_name))
    out = []
    for first in {"".join(name_words(student.first_name)), "".join(name_words(student.legal_first_name))} - {""}:
        if last:
            out += [(first + last, "joined"), (last + first, "joined")]
    return out


def _file_initials(student: Student) -> list[str]:
    last = "".join(name_words(student.last_name))
    first = "".join(name_words(student.first_name or student.legal_first_name))
    if len(last) < 4 or not first:  # "jli.jpg" would be noise
        return []
    return [first[0] + last, last + first[0]]


def _matches(tokens: list[Token], i: int, pattern: _Pattern) -> bool:
    n = len(pattern.words)
    if i + n > len(tokens):
        return False
    for k, word in enumerate(pattern.words):
        token = tokens[i + k]
        if token.word != word:
            return False
        if len(word) == 1:  # an initial: written as a capital ("G"), or with a full stop ("g.")
            if pattern.initials_need_stop and not (token.stop and token.capital):
                return False
            if not (token.capital or token.stop):
                return False
    if all(w in COMMON_WORDS or len(w) == 1 for w in pattern.words):
        return all(tokens[i + k].capital for k in range(n))
    return True


def _compact(text: str) -> tuple[str, list[int]]:
    """``text`` folded with everything but letters and digits removed, and where each character came from."""
    chars, where = [], []
    for i, ch in enumerate(text):
        for c in fold(ch):
            if c.isalnum():
                chars.append(c)
                where.append(i)
    return "".join(chars), where


#: Shortest first+last name looked for inside run-together text ("AwardedtoMariaGonzalez").
COMPACT_MIN = 8


@dataclass
class RosterNames:
    """What the first-name-alone rule needs to know about the whole roster."""

    counts: Counter  # folded first name -> how many students have it
    surnames: dict[str, list[list[str]]]  # folded first name -> surname words of each student with it

    def names_another(self, first: str, tokens: list[Token], i: int, student: Student) -> bool:
        """Whether the first name at ``tokens[i]`` starts the full name of another student."""
        own = name_words(student.last_name)
        for last in self.surnames.get(first, []):
            if last != own and [t.word for t in tokens[i + 1:i + 1 + len(last)]] == last:
                return True
        return False


def find_names(text: str, students: Iterable[Student], source: str,
               first_name_counts: RosterNames | None = None, compact: bool = False,
               restriction: str = "name") -> list[NameHit]:
    """Every mention in ``text`` of the given (name-restricted) students.

    ``first_name_counts`` (:func:`first_name_counts`: how many students of the
    roster have each first name, and their surnames) enables first-name-only
    hits; without it they are not looked for. A first name followed by the
    surname of another student with that first name is that student, not a hit.
    ``compact`` also finds full names run together with the words around them,
    as OCR writes them when it misses the spaces. ``restriction`` is recorded on
    every hit: "photo" when the text says who is shown (face regions).
    """
    if not text:
        return []
    tokens = tokenize(text)
    students = list(students)
    file_like = source in ("filename", "folder")
    hits: list[NameHit] = []

    def hit(student: Student, i: int, j: int, form: str) -> None:
        start, end = tokens[i].start, tokens[j].end
        if len(tokens[j].word) == 1 and tokens[j].stop:  # "Maria G." keeps its full stop
            end += 1
        if start > 0 and text[start - 1] == "#":
            start -= 1
        hits.append(NameHit(student.student_number, text[start:end], source, form, FORMS[form], start, end,
                            restriction=restriction))

    at: dict[str, list[int]] = {}  # where each word stands: a pattern is only tried where its first word is
    for i, token in enumerate(tokens):
        at.setdefault(token.word, []).append(i)
    for student in students:
        for pattern in _patterns(student):
            for i in at.get(pattern.words[0], ()):
                if _matches(tokens, i, pattern):
                    hit(student, i, i + len(pattern.words) - 1, pattern.form)
        for word, form in _joined(student):
            for i in at.get(word, ()):
                hit(student, i, i, form)
        for word in _file_initials(student) if file_like else ():
            for i in at.get(word, ()):
                hit(student, i, i, "file_initial")
        if first_name_counts is not None:
            for first in {w for w in (name_words(student.first_name) + name_words(student.legal_first_name))}:
                if (first in COMMON_WORDS or len(first) < 3
                        or first_name_counts.counts.get(first, 0) > FIRST_ONLY_MAX_SHARED):
                    continue
                for i in at.get(first, ()):
                    if not first_name_counts.names_another(first, tokens, i, student):
                        hit(student, i, i, "first_only")
    if compact:
        squeezed, where = _compact(text)
        for student in students:
            for word, _ in _joined(student):
                if len(word) < COMPACT_MIN:
                    continue
                pos = squeezed.find(word)
                while pos >= 0:
                    start, end = where[pos], where[pos + len(word) - 1] + 1
                    hits.append(NameHit(student.student_number, text[start:end], source, "joined", BLOCK, start, end,
                                        restriction=restriction))
                    pos = squeezed.find(word, pos + 1)
    return _dedupe(hits)


_RANK = {form: rank for rank, form in enumerate(FORMS)}

#: How each form is described in a reason.
DESCRIBE = {"full": "full name", "last_first": "last name, first name", "joined": "name written as one word",
            "nickname": "nickname and last name", "part_surname": "first name and part of the surname",
            "first_initial": "first name and last initial", "initials": "initials",
            "file_initial": "initial and last name in a file name",
            "first_only": f"first name alone, shared by at most {FIRST_ONLY_MAX_SHARED} students"}


def _dedupe(hits: list[NameHit]) -> list[NameHit]:
    """One hit per student and place: the strongest, longest; none inside another of the same student."""
    best: list[NameHit] = []
    for hit in sorted(hits, key=lambda h: (_RANK[h.form], -(h.end - h.start), h.start)):
        if any(h.student_number == hit.student_number and h.start <= hit.start and hit.end <= h.end
               for h in best):
            continue
        best.append(hit)
    return sorted(best, key=lambda h: (h.start, h.student_number))


def first_name_counts(students: Iterable[Student]) -> RosterNames:
    """How many students have each (folded) first name, preferred or legal, and their surnames."""
    counts: Counter = Counter()
    surnames: dict[str, list[list[str]]] = {}
    for s in students:
        firsts = {w for w in name_words(s.first_name) + name_words(s.legal_first_name)}
        counts.update(firsts)
        for first in firsts:
            surnames.setdefault(first, []).append(name_words(s.last_name))
    return RosterNames(counts, surnames)


def scrub(text: str, hits: Iterable[NameHit], replacement: str = "a student") -> str:
    """``text`` with every hit replaced by ``replacement`` ("a student's" for a possessive)."""
    spans = sorted({(h.start, h.end) for h in hits})
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last = [], 0
    for start, end in merged:
        original = text[start:end]
        possessive = original.endswith(("'s", "’s"))
        out.append(text[last:start] + replacement + ("'s" if possessive else ""))
        last = end
    return "".join(out) + text[last:]
