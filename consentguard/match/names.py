"""Name matching: find the names of name-restricted students in text.

Text is compared case- and accent-insensitively, word by word, while every hit
keeps the exact span of the original text it came from. Before comparing, letters
are written in plain Latin (NFKC, then anyascii: Łukasz = Lukasz, Søren = Soren,
Straße = Strasse, Æsa = Aesa), invisible characters (zero-width space, soft hyphen,
BOM) are dropped, and each word is also read in its German spelling (Müller =
Mueller = Muller: an umlaut written on either side) and with look-alike letters of
other scripts read as the Latin letter they imitate (Cyrillic "Маriа" = Maria).
The same matcher reads captions, text found in the photo, metadata fields and
file names; ``source`` says which.

Text is read as a person sees it (``_shown``): HTML entities decoded and tags
read as separators ("Maria&nbsp;Gonz&aacute;lez", "<b>Maria</b><br>Gonzalez"),
URL escapes decoded in file names ("Maria%20Gonzalez.jpg"), every apostrophe
look-alike (‘ ’ ` ´ ′ ʻ ʼ ...) read as "'", a word hyphenated at a line break
joined, text under a right-to-left override also in its displayed order, letters
in circles or squares and regional indicators read as their letters, and a run of
single letters spaced out or dotted ("M a r i a", "M.a.r.i.a") read as one word.
Digits are words of their own ("Gonzalez2"), a name with an apostrophe is also
found with it dropped or spaced ("O Brien"), and a full name run together inside
one longer word is found in any text ("#GoMariaGonzalez2025").

Forms, strongest first (``FORMS``); the strength is a name-restricted student's in a caption, and
every form's verdict in each kind of text, for each restriction, is one table in the decision
stage (:data:`consentguard.decide.NAME_STRENGTH`), which matching follows:

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
fuzzy          Maria Gonzales (one letter off a word)  review
first_only     Maria (a first name few students have)  review
=============  =====================================  ========

Names that are also ordinary words ("Grace", "Will", "Young": ``COMMON_WORDS``)
never count alone, and a form made only of such words ("Grace Young", "Will
B.") counts only when every word is capitalised in the text, as names are.

A name with a typo is a review hit, never a block, and only when the name is long
enough that one letter off still points at that student (``FUZZY_MIN_NAME``).

A first name alone is a review hit when it is not an ordinary word and at most
``FIRST_ONLY_MAX_SHARED`` students of the roster have it: then it points at a
handful of children, and in a class photo, at one.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Iterable

from consentguard.decide import DESCRIBE, NAME_STRENGTH, NameHit, Verdict, name_strength  # noqa: F401 (NameHit, DESCRIBE: kept importable here)
from consentguard.match.index import Student
from consentguard.match.nicknames import variants
from consentguard.policy import DEFAULTS

#: A word: letters, joined across apostrophes ("O'Brien"); a run of digits is a word of its own, so
#: a number glued to a name ("Gonzalez2", "#MariaGonzalez2025") does not hide it.
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+", re.UNICODE)

#: Characters written for an apostrophe: ASCII, smart quotes (‘ ’ ‛), backtick, acute accent, prime,
#: modifier letters (ʻ okina, ʼ, ʽ, ʹ) and the fullwidth one; all read as "'".
APOSTROPHES = "'\u2018\u2019\u201b\u0060\u00b4\u2032\u02b9\u02bb\u02bc\u02bd\uff07"

#: Changes whenever matching or the places searched change, so cached scan results are not reused.
MATCHER_VERSION = "names6"
#: The forms of a name, strongest first; what each counts for, where: consentguard.decide.NAME_STRENGTH.
FORMS = tuple(NAME_STRENGTH)

#: A first name alone is a review hit only if at most this many students have it (setting
#: first_only_max_shared; :func:`first_name_counts` takes the policy's).
FIRST_ONLY_MAX_SHARED = DEFAULTS["first_only_max_shared"]

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


#: Letters written another way in German (Müller = Mueller) and Scandinavian (Ålborg = Aalborg)
#: spelling; transliteration alone gives the other spelling (Muller).
GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ø": "oe", "å": "aa",
                        "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "Ø": "Oe", "Å": "Aa"})


@lru_cache(maxsize=None)
def _confusables() -> dict[str, str]:
    """Non-Latin letters that look like a Latin one (Cyrillic р, Greek ν), from Unicode's
    confusables list (confusable_homoglyphs ships it): the look-alike, not the transliteration
    (Cyrillic р reads "r" but is written to look like "p")."""
    import json
    from importlib.resources import files

    table = json.loads(files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8"))
    out = {}
    for char, glyphs in table.items():
        if len(char) != 1 or char.isascii() or not char.isalpha():
            continue
        latin = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()]
        if latin:  # Unicode writes capital I as l (they look alike): keep the case
            out[char] = "I" if latin[0] == "l" and char.isupper() else latin[0]
    return out


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=16)
def _normalise(text: str) -> tuple[str, list[int], list[int]]:
    """``text`` with letters in plain Latin (NFKC, then anyascii: Łukasz -> Lukasz, Straße ->
    Strasse, Мария -> Mariya) and invisible characters (zero-width space, soft hyphen, BOM)
    removed; other characters are kept as they are. Also where each character came from:
    its span in ``text`` (start, end), so every hit keeps the exact original span.
    (Cached: the words and the run-together text of one text are both read from it.)"""
    from anyascii import anyascii

    out, starts, ends = [], [], []
    i = 0
    for match in _NON_ASCII.finditer(text):
        k = match.start()
        if k < i:  # an accent already read with its letter
            continue
        out.append(text[i:k])  # plain ASCII: as it is
        starts += range(i, k)
        ends += range(i + 1, k + 1)
        j = k + 1
        while j < len(text) and unicodedata.combining(text[j]):  # a letter and its accents: one unit
            j += 1
        unit = text[k:j]
        category = unicodedata.category(unit[0])
        if category == "Cf":  # invisible: zero-width space, soft hyphen, BOM, joiners
            piece = ""
        elif category[0] in "LMN":
            piece = anyascii(unicodedata.normalize("NFKC", unit))
        elif category == "So" and _enclosed(unit[0]):  # a letter in a circle or a square: the letter
            piece = _enclosed(unit[0])
        else:  # punctuation, symbols, spaces, emoji: not part of a word, kept as they are
            piece = unit
        if not piece and category[0] == "M" and ends and ends[-1] == k:  # accents of a plain letter ("e\u0301")
            ends[-1] = j
        out.append(piece)
        starts += [k] * len(piece)
        ends += [j] * len(piece)
        i = j
    out.append(text[i:])
    starts += range(i, len(text))
    ends += range(i + 1, len(text) + 1)
    return "".join(out), starts, ends


#: HTML tags that do not break a word where they stand ("Gon<b>zalez</b>" shows "Gonzalez");
#: every other tag (<br>, <p>, <td> ...) separates words.
INLINE_TAGS = frozenset("a abbr b bdi bdo big cite code del dfn em font i ins kbd mark q s samp small span "
                        "strike strong sub sup time tt u var wbr".split())
_TAG = re.compile(r"<!--.*?-->|<\s*/?\s*([A-Za-z][A-Za-z0-9]*)\b[^<>]{0,500}>", re.DOTALL)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?")
_URL_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_APOSTROPHE = re.compile(f"[{APOSTROPHES[1:]}]")
#: A word hyphenated at a line break ("Gon-\nzalez"): one word.
_LINE_BREAK_HYPHEN = re.compile(r"(?<=[^\W\d_])[-\u2010\u00ad][ \t]*\r?\n[ \t]*(?=[^\W\d_])")
#: A right-to-left override and what it reverses on screen: up to the pop (PDF) or the line's end.
_RIGHT_TO_LEFT = re.compile("\u202e([^\u202c\n]*)\u202c?")


def _rewrite(text: str, starts: list[int], ends: list[int], pattern: re.Pattern, fill) -> tuple[str, list[int], list[int]]:
    """Each match of ``pattern`` replaced by ``fill(match)`` (None: kept); the characters put in
    come from the whole match's span of the original text (``starts``/``ends``: where each
    character of ``text`` came from)."""
    out, new_starts, new_ends, i = [], [], [], 0
    for match in pattern.finditer(text):
        a, b = match.span()
        piece = fill(match)
        if piece is None or a == b:
            continue
        out.append(text[i:a])
        new_starts += starts[i:a]
        new_ends += ends[i:a]
        out.append(piece)
        new_starts += [starts[a]] * len(piece)
        new_ends += [ends[b - 1]] * len(piece)
        i = b
    if not out:
        return text, starts, ends
    out.append(text[i:])
    return "".join(out), new_starts + starts[i:], new_ends + ends[i:]


def _tag(match: re.Match) -> str:
    return "" if (match.group(1) or "").lower() in INLINE_TAGS else " "


def _entity(match: re.Match) -> str | None:
    decoded = html.unescape(match.group())
    return None if decoded == match.group() else decoded


def _unquote(match: re.Match) -> str:
    from urllib.parse import unquote

    return unquote(match.group(), errors="replace")


@lru_cache(maxsize=16)
def _shown(text: str, file_like: bool = False, displayed: bool = False,
           tags: bool = False) -> tuple[str, list[int], list[int]]:
    """``text`` as a reader sees it, and where each character came from (start, end in ``text``):
    HTML entities as a browser shows them (a caption pasted from a web page: "Maria&nbsp;
    Gonzalez") and, with ``tags``, HTML tags too ("<b>Maria</b><br>Gonzalez"); URL escapes decoded in file names ("Maria%20Gonzalez.jpg"); every apostrophe
    look-alike written "'"; a word hyphenated at a line break joined; and with ``displayed``,
    text after a right-to-left override (U+202E) in the order it is shown, reversed."""
    starts, ends = list(range(len(text))), list(range(1, len(text) + 1))
    if tags and "<" in text:
        text, starts, ends = _rewrite(text, starts, ends, _TAG, _tag)
    if "&" in text:
        text, starts, ends = _rewrite(text, starts, ends, _ENTITY, _entity)
    if file_like and "%" in text:
        text, starts, ends = _rewrite(text, starts, ends, _URL_ESCAPES, _unquote)
    if not text.isascii() or "`" in text:
        text, starts, ends = _rewrite(text, starts, ends, _APOSTROPHE, lambda m: "'")
    if "\n" in text:
        text, starts, ends = _rewrite(text, starts, ends, _LINE_BREAK_HYPHEN, lambda m: "")
    if displayed:
        text, starts, ends = _reverse_overrides(text, starts, ends)
    return text, starts, ends


def _reverse_overrides(text: str, starts: list[int], ends: list[int]) -> tuple[str, list[int], list[int]]:
    """Each right-to-left override run in the order it is displayed. Its characters all come from
    the whole run, override marks included: a name in it is replaced whole, and no half-reversed
    text is left to show."""
    out, new_starts, new_ends, i = [], [], [], 0
    for match in _RIGHT_TO_LEFT.finditer(text):
        a, b = match.span()
        run = match.group(1)[::-1]
        out.append(text[i:a] + run)
        new_starts += starts[i:a] + [starts[a]] * len(run)
        new_ends += ends[i:a] + [ends[b - 1]] * len(run)
        i = b
    out.append(text[i:])
    return "".join(out), new_starts + starts[i:], new_ends + ends[i:]


def _enclosed(char: str) -> str:
    """The letter a symbol encloses: circled (Ⓜ), parenthesized (⒢), squared (🄼), negative
    squared or circled (🅶), regional indicator (🇬); "" for any other symbol."""
    match = _ENCLOSED_NAME.search(unicodedata.name(char, ""))
    if not match:
        return ""
    return match.group(2).lower() if match.group(1) == "SMALL" else match.group(2)


_ENCLOSED_NAME = re.compile(r"(?:LATIN (CAPITAL|SMALL) LETTER|REGIONAL INDICATOR SYMBOL LETTER) ([A-Z])$")


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` in plain Latin letters (same length not guaranteed)."""
    return (text if text.isascii() else _normalise(text)[0]).casefold()


def _spellings(raw: str) -> set[str]:
    """Other folded spellings of one word: the German one (Müller -> mueller) and the one it
    imitates with look-alike letters from other scripts (Cyrillic "Маriа" -> maria)."""
    if raw.isascii():
        return set()
    raw = unicodedata.normalize("NFC", raw)
    out = set()
    german = raw.translate(GERMAN)
    if german != raw:
        out.add(_word(german))
    table = _confusables()
    skeleton = "".join(table.get(c, c) for c in raw)
    if skeleton != raw:
        out.add(_word(skeleton))
    return out


def _word(raw: str) -> str:
    """The folded form of one word: apostrophes and the possessive 's dropped."""
    word = fold(_APOSTROPHE.sub("'", raw))
    if word.endswith("'s"):  # possessive: "Maria's"
        word = word[:-2]
    return word.replace("'", "")


@dataclass(frozen=True)
class Token:
    word: str   # folded, apostrophes and possessive 's removed
    start: int  # span in the original text
    end: int
    capital: bool = False  # starts with a capital letter in the original
    stop: bool = False     # a full stop follows directly ("G.")
    others: frozenset[str] = frozenset()  # other spellings of the word (see _spellings)

    @property
    def forms(self) -> frozenset[str]:
        return self.others | {self.word}


def tokenize(text: str) -> list[Token]:
    """Words of ``text`` folded, with their spans in the original."""
    shown, starts, ends = _shown(text)
    return _back(_words(shown), shown is text, starts, ends)


def _words(shown: str) -> list[Token]:
    """Words of ``shown`` (the text as read: see _shown) folded, with their spans in it."""
    plain, starts, ends = _normalise(shown)
    tokens = []
    for match in _WORD.finditer(plain):
        start, end = starts[match.start()], ends[match.end() - 1]
        raw = shown[start:end]
        tokens.append(Token(_word(match.group()), start, end, raw[:1].isupper(), shown[end:end + 1] == ".",
                            frozenset(_spellings(raw))))
    return _letter_spaced(shown, tokens)


def _back(tokens: list[Token], same: bool, starts: list[int], ends: list[int]) -> list[Token]:
    """``tokens`` with their spans in the original text (``starts``/``ends``: see _shown)."""
    if same:
        return tokens
    return [replace(t, start=min(starts[t.start:t.end]), end=max(ends[t.start:t.end])) for t in tokens]


#: The fewest single letters in a row, spaced out or dotted ("M a r i a", "M.a.r.i.a"), read as one word.
SPACED_MIN = 3
_SPACING = frozenset({" ", ".", ". "})


def _letter_spaced(shown: str, tokens: list[Token]) -> list[Token]:
    """Runs of at least SPACED_MIN single letters, one space or full stop apart, as one word: a
    display style ("M a r i a  G o n z a l e z": two spaces part the words) that reads as the name."""
    out, i = [], 0
    while i < len(tokens):
        j = i
        while (j + 1 < len(tokens) and _letter(tokens[j]) and _letter(tokens[j + 1])
               and shown[tokens[j].end:tokens[j + 1].start] in _SPACING):
            j += 1
        if j - i + 1 >= SPACED_MIN:
            run = tokens[i:j + 1]
            out.append(Token("".join(t.word for t in run), run[0].start, run[-1].end, run[0].capital, run[-1].stop))
            i = j + 1
        else:
            out.append(tokens[i])
            i += 1
    return out


def _letter(token: Token) -> bool:
    return len(token.word) == 1 and token.word.isalpha()


@lru_cache(maxsize=65536)
def _name_words(name: str) -> tuple[str, ...]:
    return tuple(t.word for t in tokenize(name))


def name_words(name: str) -> list[str]:
    """The folded words of a name (cached: the same roster names are looked up for every photo)."""
    return list(_name_words(name))


@lru_cache(maxsize=65536)
def _name_spellings(name: str) -> tuple[tuple[str, ...], ...]:
    """The folded words of a roster name, then its German spelling if it has another one
    (Müller: muller, mueller), then, for a name with an apostrophe, its words split there
    (O'Brien: obrien, o brien); a text is matched against each."""
    plain = _name_words(name)
    out = [plain, _name_words(unicodedata.normalize("NFC", name).translate(GERMAN))]
    out.append(_name_words(_APOSTROPHE.sub(" ", name.replace("'", " "))))  # O'Brien also written "O Brien"
    return tuple(dict.fromkeys(out))


def name_spellings(name: str) -> list[list[str]]:
    return [list(words) for words in _name_spellings(name) if words]


@dataclass
class _Pattern:
    words: list[str]
    form: str
    initials_need_stop: bool = False  # single letters must be followed by "." (initials)
    whole: frozenset[str] = frozenset()  # one-letter words written in full, not initials ("o" of "O Brien")


def _patterns(student: Student) -> list[_Pattern]:
    return _patterns_for(student.first_name, student.legal_first_name, student.middle_name, student.last_name)


@lru_cache(maxsize=65536)
def _patterns_for(first_name: str, legal_first_name: str, middle_name: str, last_name: str) -> list[_Pattern]:
    lasts = name_spellings(last_name)
    firsts = _firsts(first_name, legal_first_name)
    if not lasts or not firsts:
        return []
    middle = name_words(middle_name)
    whole = frozenset(w for words in firsts + lasts for w in words if len(w) == 1 and _has_apostrophe(first_name + legal_first_name + last_name))
    patterns = []
    for first in firsts:
        for last in lasts:
            patterns += [_Pattern(first + last, "full", whole=whole), _Pattern(last + first, "last_first", whole=whole)]
            if middle:
                patterns += [_Pattern(first + middle + last, "full"),
                             _Pattern(first + [middle[0][0]] + last, "full")]
            if "-" in last_name:  # "Maria Smith" for Maria Smith-Jones
                patterns += [_Pattern(first + [part], "part_surname") for part in last if len(part) > 1]
            if len(last) > 1 or len(first) > 1:  # "Anna SmithJones", "Smith-\nJones" joined at a line break
                joined_first, joined_last = ["".join(first)], ["".join(last)]
                patterns += [_Pattern(joined_first + joined_last, "full"), _Pattern(joined_last + joined_first, "last_first")]
        patterns.append(_Pattern(first + [lasts[0][0][0]], "first_initial"))
        patterns.append(_Pattern([first[0][0], lasts[0][0][0]], "initials", initials_need_stop=True))
    for first in firsts:
        for nick in sorted(variants(" ".join(first))):
            if [nick] not in firsts:
                patterns += [_Pattern([nick] + last, "nickname") for last in lasts]
    for other in _surname_spellings(lasts[0]):  # St. John / Saint John
        patterns += [_Pattern(first + other, "full") for first in firsts]
        patterns += [_Pattern(other + first, "last_first") for first in firsts]
    return patterns


def _has_apostrophe(name: str) -> bool:
    return "'" in name or bool(_APOSTROPHE.search(name))


def _firsts(first_name: str, legal_first_name: str) -> list[list[str]]:
    """Every spelling of the preferred and the legal first name, each once."""
    firsts: list[list[str]] = []
    for name in (first_name, legal_first_name):
        firsts += [f for f in name_spellings(name) if f not in firsts]
    return firsts


@lru_cache(maxsize=65536)
def _alone_words(first_name: str, legal_first_name: str) -> frozenset[str]:
    """The words of a student's first names that may name them alone: not ordinary words, not
    shorter than 3 letters, and not particles the roster writes in lower case among capitalised
    words ("del" of "María del Carmen": it would flag every "del" key in a text)."""
    words = set()
    for name in (first_name, legal_first_name):
        tokens = tokenize(name)
        mixed = any(t.capital for t in tokens)  # a roster written all in lower case has no particles to tell
        words |= {t.word for t in tokens if (t.capital or not mixed) and len(t.word) >= 3 and t.word not in COMMON_WORDS}
    return frozenset(words)


#: Surname words written two ways ("St. John" and "Saint John", "Ste. Marie" and "Sainte Marie").
SURNAME_SPELLINGS = {"st": "saint", "saint": "st", "ste": "sainte", "sainte": "ste"}


def _surname_spellings(last: list[str]) -> list[list[str]]:
    if not any(w in SURNAME_SPELLINGS for w in last):
        return []
    return [[SURNAME_SPELLINGS.get(w, w) for w in last]]


def _joined(student: Student) -> tuple[tuple[str, str], ...]:
    """One-word spellings (hashtags, file names): (word, form)."""
    return _joined_for(student.first_name, student.legal_first_name, student.last_name)


@lru_cache(maxsize=65536)
def _joined_for(first_name: str, legal_first_name: str, last_name: str) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for first in _firsts(first_name, legal_first_name):
        for last in name_spellings(last_name):
            out += [("".join(first + last), "joined"), ("".join(last + first), "joined")]
    return tuple(dict.fromkeys(out))


def _file_initials(student: Student) -> list[str]:
    first = "".join(name_words(student.first_name or student.legal_first_name))
    out = []
    for last in ("".join(words) for words in name_spellings(student.last_name)):
        if len(last) >= 4 and first:  # "jli.jpg" would be noise
            out += [first[0] + last, last + first[0]]
    return out


def _matches(tokens: list[Token], i: int, pattern: _Pattern) -> bool:
    n = len(pattern.words)
    if i + n > len(tokens):
        return False
    for k, word in enumerate(pattern.words):
        token = tokens[i + k]
        if word != token.word and word not in token.others:
            return False
        if len(word) == 1 and word not in pattern.whole:  # an initial: a capital ("G"), or a full stop ("g.")
            if pattern.initials_need_stop and not (token.stop and token.capital):
                return False
            if not (token.capital or token.stop):
                return False
    if all(w in COMMON_WORDS or len(w) == 1 for w in pattern.words):
        return all(tokens[i + k].capital for k in range(n))
    return True


def _compact(text: str) -> tuple[str, list[int], list[int]]:
    """``text`` folded with everything but letters and digits removed, and where each character
    came from (start, end in ``text``)."""
    plain, starts, ends = _normalise(text)
    chars, where, until = [], [], []
    for k, ch in enumerate(plain):
        for c in ch.casefold():
            if c.isalnum():
                chars.append(c)
                where.append(starts[k])
                until.append(ends[k])
    return "".join(chars), where, until


#: Hyphens that join the parts of one name ("Al-Sayed", "#AaliyahAl-Sayed").
_HYPHENS = frozenset("-‐‑‒–")
#: The most words one name joined by hyphens is looked for in (a long chain costs the square).
COMPOUND_MAX = 5


def _compounds(text: str, tokens: list[Token]) -> dict[str, list[tuple[int, int]]]:
    """Words joined by hyphens read as one word ("#AaliyahAl-Sayed": aaliyahalsayed), with the
    first and last token of each; a hashtag or file name may hyphenate a surname."""
    out: dict[str, list[tuple[int, int]]] = {}
    for i in range(len(tokens)):
        joined = tokens[i].word
        for j in range(i + 1, min(len(tokens), i + COMPOUND_MAX)):
            if text[tokens[j - 1].end:tokens[j].start] not in _HYPHENS:
                break
            joined += tokens[j].word
            out.setdefault(joined, []).append((i, j))
    return out


#: A name with a typo ("Maximilano Villanueva") is a review hit: only a first and last name of one
#: word each, at least FUZZY_MIN_NAME letters together, each word at most one edit away (a letter
#: added, dropped, changed, or two swapped), and only words of FUZZY_MIN_WORD letters or more may
#: differ. Neither word may be an ordinary word, and together they must not be exactly the name
#: of another student of the roster. Measured: no such hit on 115,000 words of English prose nor
#: on the corpus's negative captions, against 2,000 realistic names (scripts/bench_names.py).
FUZZY_MIN_WORD = 5
FUZZY_MIN_NAME = 11


@lru_cache(maxsize=65536)
def _fuzzy_names(first_name: str, legal_first_name: str, last_name: str) -> tuple[tuple[str, str, str], ...]:
    """(first, last, as the roster writes it) for each spelling of a name the typo rule applies to."""
    out = []
    for first_raw in (first_name, legal_first_name):
        for first in name_spellings(first_raw):
            for last in name_spellings(last_name):
                if (len(first) == len(last) == 1 and first[0].isalpha() and last[0].isalpha()
                        and len(first[0]) + len(last[0]) >= FUZZY_MIN_NAME
                        and max(len(first[0]), len(last[0])) >= FUZZY_MIN_WORD):
                    out.append((first[0], last[0], f"{first_raw} {last_name}"))
    return tuple(dict.fromkeys(out))


def _fuzzy(text: str, tokens: list[Token], students: list[Student], roster: "RosterNames | None",
           file_like: bool) -> list[tuple[Student, int, str]]:
    """Two words in a row that are a student's first and last name with a typo, in either order
    ("Maximilano Villanueva", "Villanueva, Maximilano", villanueva_maximilano.jpg): (student, index
    of the first word, the name as the roster writes it). Distances come from rapidfuzz (optimal
    string alignment: one insertion, deletion, substitution or swap of neighbours costs one)."""
    pairs = [(i, order) for i in range(len(tokens) - 1) for order in _fuzzy_orders(text, tokens, i, file_like)]
    if not pairs:
        return []
    by_first: dict[str, list[tuple[str, str, Student]]] = {}
    for student in students:
        for first, last, written in _fuzzy_names(student.first_name, student.legal_first_name, student.last_name):
            by_first.setdefault(first, []).append((last, written, student))
    if not by_first:
        return []
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    words = sorted({form for i, _ in pairs for k in (0, 1) for form in tokens[i + k].forms})
    roster_words = sorted(set(by_first) | {last for entries in by_first.values() for last, _, _ in entries})
    near: dict[str, dict[str, int]] = {}
    for block in range(0, len(words), 256):  # a long text: its words a block at a time, memory stays small
        chunk = words[block:block + 256]
        distances = process.cdist(chunk, roster_words, scorer=OSA.distance, score_cutoff=1, workers=1)
        for row, word in zip(distances, chunk):
            near[word] = {roster_words[k]: int(row[k]) for k in (row <= 1).nonzero()[0]}
    out = []
    for i, order in pairs:
        a, b = tokens[i + order[0]], tokens[i + order[1]]
        if roster is not None and any([last] in roster.surnames.get(first, []) for first in a.forms for last in b.forms):
            continue  # another student's exact name
        firsts, lasts = _nearest(a.forms, near), _nearest(b.forms, near)
        for first, d_first in firsts.items():
            for last, written, student in by_first.get(first, ()):
                d_last = lasts.get(last)
                if (d_last is not None and d_first + d_last > 0
                        and (d_first == 0 or len(first) >= FUZZY_MIN_WORD)
                        and (d_last == 0 or len(last) >= FUZZY_MIN_WORD)):
                    out.append((student, i, written))
    return out


def _nearest(forms: Iterable[str], near: dict[str, dict[str, int]]) -> dict[str, int]:
    """Roster words at most one edit from any spelling of a word, with the smallest distance."""
    out: dict[str, int] = {}
    for form in forms:
        for word, distance in near[form].items():
            out[word] = min(distance, out.get(word, distance))
    return out


FIRST_LAST, LAST_FIRST = (0, 1), (1, 0)


def _fuzzy_orders(text: str, tokens: list[Token], i: int, file_like: bool) -> list[tuple[int, int]]:
    """How tokens i and i+1 could be a first and last name with a typo: first last (a space
    between), last, first (a comma), either (a file name's separator); or not at all."""
    a, b = tokens[i], tokens[i + 1]
    if not (a.word.isalpha() and b.word.isalpha() and len(a.word) >= 3 and len(b.word) >= 3
            and a.word not in COMMON_WORDS and b.word not in COMMON_WORDS):
        return []
    between = text[a.end:b.start]
    if between.isspace():
        return [FIRST_LAST]
    if between.startswith(",") and between[1:].isspace():
        return [LAST_FIRST]
    if file_like and _FILE_SEPARATORS.fullmatch(between):
        return [FIRST_LAST, LAST_FIRST]
    return []


#: Shortest first+last name looked for inside run-together text ("AwardedtoMariaGonzalez").
COMPACT_MIN = 8


@dataclass
class RosterNames:
    """What the first-name-alone rule needs to know about the whole roster."""

    counts: Counter  # folded first name -> how many students have it
    surnames: dict[str, list[list[str]]]  # folded first name -> surname words of each student with it
    max_shared: int = FIRST_ONLY_MAX_SHARED  # a first name alone is a hit only if at most this many have it

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
    A full name run together inside one longer word is always found ("#GoMariaGonzalez2025",
    "MariaGonzalez2024.jpg"); ``compact`` also finds full names run together with the words
    around them, as OCR writes them when it misses the spaces. ``restriction`` is recorded on
    every hit: "photo" when the text says who is shown (face regions).

    The text is read as shown (see _shown: HTML entities, URL escapes in file names, apostrophes,
    line breaks); text with HTML tags both with the tags and as a browser shows it (a tag may hold
    a name: <img alt="Maria Gonzalez">, or be no tag: "<Maria Gonzalez>"), and text under a
    right-to-left override both as stored and as displayed. Every hit keeps its span in ``text``.
    """
    if not text:
        return []
    students = list(students)
    file_like = source in ("filename", "folder")
    hits: list[NameHit] = []
    tag_views = (False, True) if "<" in text and _TAG.search(text) else (False,)
    for displayed, tags in ((d, t) for d in ((False, True) if "\u202e" in text else (False,)) for t in tag_views):
        shown, starts, ends = _shown(text, file_like, displayed, tags)
        for hit in _find(shown, students, source, first_name_counts, compact, restriction, file_like):
            if shown is not text:
                hit.start, hit.end = min(starts[hit.start:hit.end]), max(ends[hit.start:hit.end])
                hit.text = text[hit.start:hit.end]
            hits.append(hit)
    return _dedupe(hits)


def _find(text: str, students: list[Student], source: str, first_name_counts: RosterNames | None,
          compact: bool, restriction: str, file_like: bool) -> list[NameHit]:
    """find_names in ``text`` as shown; spans in it."""
    tokens = _words(text)
    hits: list[NameHit] = []

    def hit(student: Student, i: int, j: int, form: str, matched: str | None = None) -> None:
        start, end = tokens[i].start, tokens[j].end
        if len(tokens[j].word) == 1 and tokens[j].stop:  # "Maria G." keeps its full stop
            end += 1
        add(student, start, end, form, matched)

    def add(student: Student, start: int, end: int, form: str, matched: str | None = None) -> None:
        strength = name_strength(form, source, restriction)
        if strength is None:  # not looked for there (NAME_STRENGTH)
            return
        if start > 0 and text[start - 1] == "#":
            start -= 1
        hits.append(NameHit(student.student_number, text[start:end], source, form, strength, start, end,
                            restriction=restriction, matched=matched))
    at: dict[str, list[int]] = {}  # where each word stands: a pattern is only tried where its first word is
    for i, token in enumerate(tokens):
        for form in token.forms:
            at.setdefault(form, []).append(i)
    compounds = _compounds(text, tokens)
    looked_for = {form for form in FORMS if name_strength(form, source, restriction)}  # the rest: no hit
    for student in students:
        for pattern in _patterns(student):
            for i in at.get(pattern.words[0], ()):
                if _matches(tokens, i, pattern):
                    hit(student, i, i + len(pattern.words) - 1, pattern.form)
        for word, form in _joined(student):
            for i in at.get(word, ()):
                hit(student, i, i, form)
            for i, j in compounds.get(word, ()):
                hit(student, i, j, form)
        for word in _file_initials(student) if "file_initial" in looked_for else ():
            for i in at.get(word, ()):
                hit(student, i, i, "file_initial")
        if first_name_counts is not None and "first_only" in looked_for:
            for first in _alone_words(student.first_name, student.legal_first_name):
                if first_name_counts.counts.get(first, 0) > first_name_counts.max_shared:
                    continue
                for i in at.get(first, ()):
                    if not first_name_counts.names_another(first, tokens, i, student):
                        hit(student, i, i, "first_only")
    fuzzy = _fuzzy(text, tokens, students, first_name_counts, file_like) if "fuzzy" in looked_for else []
    for student, i, matched in fuzzy:
        hit(student, i, i + 1, "fuzzy", matched)
    squeezed, where, until = _compact(text)
    for student in students:
        for word, _ in _joined(student):
            if len(word) < COMPACT_MIN:
                continue
            pos = squeezed.find(word)
            while pos >= 0:
                start, end = where[pos], until[pos + len(word) - 1]
                if compact:
                    add(student, start, end, "joined")
                elif not any(c.isspace() for c in text[start:end]):  # inside one word: the whole word
                    add(student, *_whole_word(text, start, end), "joined")
                pos = squeezed.find(word, pos + 1)
    return hits


def _whole_word(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the hashtag, handle or word that ``text[start:end]`` stands in ("#GoMariaGonzalez2025"):
    the reason quotes it and the scrubbed text replaces it whole."""
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "#@"):
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end


_RANK = {form: rank for rank, form in enumerate(FORMS)}

def _dedupe(hits: list[NameHit]) -> list[NameHit]:
    """One hit per student and place: the strongest, longest; none inside another of the same student."""
    best: list[NameHit] = []
    for hit in sorted(hits, key=lambda h: (_RANK[h.form], -(h.end - h.start), h.start)):
        if any(h.student_number == hit.student_number and h.start <= hit.start and hit.end <= h.end
               for h in best):
            continue
        best.append(hit)
    return sorted(best, key=lambda h: (h.start, h.student_number))


def first_name_counts(students: Iterable[Student], max_shared: int = FIRST_ONLY_MAX_SHARED) -> RosterNames:
    """How many students have each (folded) first name, preferred or legal, and their surnames;
    ``max_shared``: how many may share a first name for it alone to be a hit."""
    counts: Counter = Counter()
    surnames: dict[str, list[list[str]]] = {}
    for s in students:
        firsts = {w for w in name_words(s.first_name) + name_words(s.legal_first_name)}
        counts.update(firsts)
        for first in firsts:
            surnames.setdefault(first, []).append(name_words(s.last_name))
    return RosterNames(counts, surnames, max_shared)


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
        possessive = len(original) > 2 and original[-1] == "s" and original[-2] in APOSTROPHES
        out.append(text[last:start] + replacement + ("'s" if possessive else ""))
        last = end
    return "".join(out) + text[last:]


# -- people staff declare as shown (check --people) ------------------------------------------

class DeclaredError(ValueError):
    """A declared person who is not exactly one student of the roster (the message names them)."""


_NUMBER = re.compile(r"^(?:(?P<name>.*?)\s*\(\s*)?#?\s*(?P<number>[0-9A-Za-z_-]*\d[0-9A-Za-z_-]*)\s*\)?$")


def declared_people(text: str, students: dict[str, Student]) -> list:
    """The students named in ``text`` ("Marcus Ellery; Priya N (#100118); #100104"), each exactly
    one student: a student number (with or without "#", alone or in brackets after a name), or a
    name written as the roster has it, its legal first name, a nickname of the first name, or with
    the middle name, letters folded (Łukasz = Lukasz, case and accents ignored). An unknown name or
    one shared by several students is a :class:`DeclaredError` naming it (and the numbers to choose
    from). A person declared twice counts once."""
    from consentguard.decide import Declared

    found: dict[str, Declared] = {}
    for raw in (part.strip() for part in re.split(r"[;\n]", text or "")):
        if not raw:
            continue
        match = _NUMBER.match(raw)
        if match and match.group("number") in students:
            number = match.group("number")
            written = (match.group("name") or "").strip()
            if written and tuple(name_words(written)) not in _declared_forms(students[number]):
                # a mistyped number must not swap a restricted student for a permitted one
                raise DeclaredError(f"declared person {raw!r}: #{number} is {students[number].full_name}, "
                                    f"not {written}: check the name and the number")
        elif match and match.group("name") is None and any(c.isdigit() for c in raw):
            raise DeclaredError(f"declared person {raw!r}: no student has that number")
        else:
            wanted = tuple(name_words(raw))
            numbers = sorted(n for n, s in students.items() if wanted in _declared_forms(s))
            if not numbers:
                raise DeclaredError(f"declared person {raw!r}: no student of the roster has that name "
                                    "(give their student number, e.g. #100104)")
            if len(numbers) > 1:
                raise DeclaredError(f"declared person {raw!r}: {len(numbers)} students have that name "
                                    f"({', '.join('#' + n for n in numbers)}): give the student number")
            number = numbers[0]
        found.setdefault(number, Declared(number, students[number].full_name))
    return list(found.values())


def _declared_forms(s: Student) -> set[tuple[str, ...]]:
    """The folded word sequences a declared name may be written as for student ``s``."""
    firsts = {s.first_name, s.legal_first_name} - {""}
    firsts |= {v for f in firsts for v in variants(f.casefold())}
    forms = set()
    for first in firsts:
        for middle in ("", s.middle_name):
            forms.update(tuple(w) for w in name_spellings(" ".join(p for p in (first, middle, s.last_name) if p)))
    return forms
