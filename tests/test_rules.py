"""One home per rule (issue #13): the Verdict type, the exit status, verdict counting, the name
strength table that matching follows, which text is searched for which students, and the expiry
rule judged in one place (Python) for the database as for an export."""

import io
import json
import pickle
import sqlite3
from datetime import date, timedelta

import pytest

from consentguard.decide import (
    BLOCK,
    ERROR,
    NAME_SOURCES,
    NAME_STRENGTH,
    PASS,
    RESTRICTIONS,
    REVIEW,
    Verdict,
    count_verdicts,
    exit_status,
    name_strength,
    searched,
    unknown_face_verdict,
    verdict_summary,
    worst,
)
from consentguard.match.index import Student, load_students
from consentguard.match.names import FORMS, find_names, first_name_counts
from consentguard.match.texts import NameSearch

# --- the Verdict type ---------------------------------------------------------------------------


def test_verdict_is_its_string_in_json_comparisons_and_storage(tmp_path):
    assert BLOCK == "block" and "review" == REVIEW and {"pass": 1}[PASS] == 1
    assert json.dumps({"verdict": BLOCK}) == '{"verdict": "block"}'
    assert f"{ERROR}" == str(ERROR) == "error" and BLOCK.upper() == "BLOCK"
    assert pickle.loads(pickle.dumps(REVIEW)) is REVIEW  # a worker process returns verdicts
    db = sqlite3.connect(tmp_path / "v.db")
    db.execute("CREATE TABLE t (verdict TEXT)")
    db.execute("INSERT INTO t VALUES (?)", [BLOCK])
    assert db.execute("SELECT verdict FROM t WHERE verdict = 'block'").fetchone() == ("block",)


def test_verdicts_order_by_severity_not_alphabet():
    assert PASS < REVIEW < ERROR < BLOCK
    assert sorted([BLOCK, PASS, ERROR, REVIEW]) == [PASS, REVIEW, ERROR, BLOCK]
    assert BLOCK > "pass" and "error" < BLOCK  # against plain strings (a cached scan result) too
    assert [v.severity for v in Verdict] == [0, 1, 2, 3]


@pytest.mark.parametrize("verdicts,expected", [
    ([], PASS), (["pass"], PASS), (["pass", "review"], REVIEW), (["review", "error"], ERROR),
    (["error", "block", "pass"], BLOCK), ([REVIEW, "pass"], REVIEW),
])
def test_worst(verdicts, expected):
    assert worst(verdicts) is expected


def test_worst_refuses_what_is_no_verdict():
    with pytest.raises(ValueError):
        worst(["ok"])


@pytest.mark.parametrize("verdicts,not_checked,status", [
    ([], 0, 0), (["pass", "pass"], 0, 0), (["pass", "review"], 0, 3), (["error"], 0, 3),
    (["review", "block"], 0, 4), (["pass"], 1, 3), (["block"], 2, 4), ([], 1, 3),
])
def test_exit_status(verdicts, not_checked, status):
    assert exit_status(verdicts, not_checked) == status


def test_exit_status_is_importable_from_the_package():
    import consentguard

    assert consentguard.exit_status is exit_status


def test_counting_is_worst_first_with_error_after_review():
    verdicts = ["pass", "error", "block", "pass", "review", "pass"]
    assert list(count_verdicts(verdicts).items()) == [(BLOCK, 1), (REVIEW, 1), (ERROR, 1), (PASS, 3)]
    assert verdict_summary(verdicts) == "1 block, 1 review, 1 error, 3 pass"
    assert verdict_summary(["pass", "pass"]) == "2 pass" and verdict_summary([]) == ""


def test_unknown_face_verdict():
    assert unknown_face_verdict("opt-in") is REVIEW and unknown_face_verdict("opt-out") is PASS


# --- the name strength table --------------------------------------------------------------------


def test_name_strength_table_has_a_row_for_every_form_and_a_verdict_for_every_column():
    assert FORMS == tuple(NAME_STRENGTH)  # matching's forms are the table's rows, strongest first
    assert set(FORMS) == {"full", "last_first", "joined", "nickname", "part_surname", "first_initial", "initials",
                          "file_initial", "fuzzy", "first_only"}
    for form, row in NAME_STRENGTH.items():
        assert len(row) == len(NAME_SOURCES) * len(RESTRICTIONS), form
        assert all(v in (BLOCK, REVIEW, None) for v in row), form
    for form in FORMS:
        for source in NAME_SOURCES:
            for restriction in RESTRICTIONS:
                name_strength(form, source, restriction)  # every combination answers


@pytest.mark.parametrize("form,source,restriction,strength", [
    ("full", "caption", "name", BLOCK),
    ("first_initial", "caption", "name", REVIEW),
    ("file_initial", "caption", "name", None),        # "mgonzalez" only in file and folder names
    ("file_initial", "filename", "name", REVIEW),
    ("first_only", "folder", "name", None),
    ("first_only", "ocr", "name", REVIEW),
    ("full", "ocr", "photo", REVIEW),                 # a name tag: they may be in the photo
    ("first_initial", "ocr", "photo", None),          # by full name only
    ("full", "metadata:XMP PersonInImage", "photo", BLOCK),  # says who is shown
    ("full", "caption", "photo", None),
])
def test_name_strength(form, source, restriction, strength):
    assert name_strength(form, source, restriction) == strength


def test_searched():
    assert searched("caption", "name") and not searched("caption", "photo")
    assert searched("ocr", "photo") and searched("metadata:IPTC Caption", "photo")
    assert not searched("filename", "photo") and not searched("folder", "photo")


MARIA = Student("1", "Maria", "Gonzalez", True, True, middle_name="Luisa")
ANNA = Student("2", "Anna", "Smith-Jones", True, False)
OTHERS = [Student("9", "Tom", "Baker", False, False)]
#: one text with a mention in every form (file_initial needs a file name, fuzzy a long name)
TEXT = ("Maria Gonzalez; Gonzalez, Maria; #MariaGonzalez; Maria G.; M.G.; mgonzalez; Maria; "
        "Anna Smith; Anna Smith-Jones")


@pytest.mark.parametrize("source", ["caption", "filename", "folder", "ocr", "metadata:XMP PersonInImage"])
@pytest.mark.parametrize("restriction", RESTRICTIONS)
def test_matching_gives_every_hit_the_table_s_strength_and_finds_nothing_it_has_none_for(source, restriction):
    hits = find_names(TEXT, [MARIA, ANNA], source, first_name_counts([MARIA, ANNA] + OTHERS),
                      restriction=restriction)
    for hit in hits:
        assert hit.strength == name_strength(hit.form, source, restriction) is not None, hit
        assert isinstance(hit.strength, Verdict)
    found = {h.form for h in hits}
    expected = {f for f in ("full", "last_first", "joined", "first_initial", "initials", "file_initial", "first_only",
                            "part_surname") if name_strength(f, source, restriction)}
    assert found == expected


def test_text_in_the_photo_names_a_photo_restricted_student_by_full_name_only_as_a_review():
    search = NameSearch.of([MARIA, ANNA] + OTHERS)
    hits = search._find("Maria Gonzalez and Anna S.", "ocr", search.first_names, compact=True)
    assert [(h.student_number, h.form, h.strength, h.restriction) for h in hits] == [
        ("1", "full", BLOCK, "name"), ("1", "full", REVIEW, "photo")]  # Anna S.: not by a partial name


def test_which_text_is_searched_for_which_students(tmp_path):
    from consentguard.inspect.metadata import TextField

    search = NameSearch.of([MARIA, ANNA] + OTHERS, root=tmp_path)
    assert search.caption("Anna Smith-Jones won") == []  # photo-restricted only: not looked for in captions
    assert [h.form for h in search.caption("Maria won")] == ["first_only"]
    # folders below the root are read, but not for a first name alone
    assert [(h.source, h.form) for h in search.path(str(tmp_path / "Maria" / "maria_gonzalez" / "mgonzalez.jpg"))] == [
        ("filename", "file_initial"), ("folder", "full")]
    fields = [TextField("IPTC Caption", "Anna Smith-Jones"), TextField("XMP PersonInImage", "Anna Smith-Jones",
                                                                       identity=True)]
    assert [(h.source, h.restriction) for h in search.metadata(fields)] == [("metadata:XMP PersonInImage", "photo")]


# --- the expiry rule: one home, the same for the database as for an export -----------------------


def test_expired_releases_are_restricted_from_the_day_after(tmp_path):
    from consentguard.store.db import open_db

    db = open_db(tmp_path / "cg.db")
    today = date.today()
    db["students"].insert_all([{"student_number": n, "first_name": n, "last_name": "X", "photo_restricted": 0,
                                "name_restricted": 0} for n in "abcde"], alter=True)
    rows = {"a": (0, (today - timedelta(days=1)).isoformat()),  # ended yesterday: restricted
            "b": (0, today.isoformat()),                         # ends today: still permitted
            "c": (0, None), "d": (1, None),
            "e": (0, "30/06/2027")}                              # an end date that cannot be read: restricted
    db["consents"].insert_all([{"student_number": n, "scope": "photo", "channel": c, "restricted": r, "until": u}
                               for n, (r, u) in rows.items() for c in ("social", "website")])
    students = load_students(db)
    assert {n for n, s in students.items() if s.photo_restricted} == {"a", "d", "e"}
    assert {n for n, s in load_students(db, "website").items() if s.photo_restricted} == {"a", "d", "e"}


def test_an_end_date_stored_but_blank_or_unreadable_restricts(tmp_path):
    """d61325e compared ``until < today`` in SQL, so an end date stored as '' (not NULL) restricted; the
    Python rule read '' as no end date at all and let the release run for ever (red team, issue #13)."""
    from consentguard.store.db import open_db

    db = open_db(tmp_path / "cg.db")
    db["students"].insert_all([{"student_number": n, "first_name": n, "last_name": "X", "photo_restricted": 0,
                                "name_restricted": 0} for n in "abc"], alter=True)
    rows = {"a": "", "b": " ", "c": "2027-02-30"}
    db["consents"].insert_all([{"student_number": n, "scope": scope, "channel": "website", "restricted": 0,
                                "until": u} for n, u in rows.items() for scope in ("photo", "name")])
    for channel in (None, "website"):
        students = load_students(db, channel)
        assert {n for n, s in students.items() if s.photo_restricted and s.name_restricted} == {"a", "b", "c"}


def test_one_csv_writer_for_scan_reports_and_the_audit_export():
    from consentguard.output.report import csv_text, export_audit_csv, write_csv
    from consentguard.store.audit import EXPORT_FIELDS

    out = io.StringIO()
    write_csv(out, ["a", "b"], [["=1+1", None]])
    assert out.getvalue() == "a,b\r\n'=1+1,\r\n"
    audit = io.StringIO()
    export_audit_csv([{**dict.fromkeys(EXPORT_FIELDS), "file_name": "@x.jpg", "reasons": json.dumps(["r1", "r2"])}], audit)
    row = audit.getvalue().splitlines()[1].split(",")
    assert "'@x.jpg" in row and "r1 | r2" in row
    assert csv_text([{"verdict": BLOCK, "path": "-p.jpg", "faces": [], "student_numbers": [], "reasons": [],
                      "sha256": None}]).splitlines()[1] == "block,'-p.jpg,0,,,"
