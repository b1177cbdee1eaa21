"""Roster stage: reading PowerSchool-style exports, and refusing unsafe ones."""

import pytest

from consentguard.errors import RosterError, SyncRefused
from consentguard.roster.consent import ConsentField, State, read_field
from consentguard.roster.export import read_export

from conftest import HEADER, student, write_export


@pytest.mark.parametrize("value,expected", [
    ("Y", True), ("y", True), ("Yes", True), ("YES", True), ("1", True), ("TRUE", True),
    ("true", True), ("X", True), (" x ", True),
    ("N", False), ("No", False), ("0", False), ("FALSE", False), ("", False), ("  ", False),
    (None, False),
    ("maybe", None), ("2", None), ("Opt Out?", None),
])
def test_default_vocabulary(value, expected):
    """A yes restricts, a no or blank permits (opt-out), anything else restricts and is reported."""
    reading = read_field(ConsentField("Media_Opt_Out"), value)
    if expected is None:
        assert reading.state == State(True) and reading.problem
    elif not (value or "").strip():
        assert reading.state is None  # blank: the district policy decides
    else:
        assert reading.state == State(expected) and reading.problem is None


def test_reads_consent_kinds(tmp_path):
    path = write_export(tmp_path / "e.csv", [
        student("1", "Ann", "Lee", media="Y"),
        student("2", "Bo", "Kim", photo="yes"),
        student("3", "Cy", "Ray", name="1"),
        student("4", "Di", "Fox"),
    ])
    r = read_export(path).records
    assert (r["1"].photo_restricted, r["1"].name_restricted) == (True, True)
    assert (r["2"].photo_restricted, r["2"].name_restricted) == (True, False)
    assert (r["3"].photo_restricted, r["3"].name_restricted) == (False, True)
    assert (r["4"].photo_restricted, r["4"].name_restricted) == (False, False)


def test_student_numbers_stay_strings(tmp_path):
    path = write_export(tmp_path / "e.csv", [student("007", "Ann", "Lee"), student("0503E000", "Bo", "Kim")])
    assert set(read_export(path).records) == {"007", "0503E000"}


def test_unknown_value_is_restricted_and_reported(tmp_path):
    path = write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee", photo="Opt Out?")])
    roster = read_export(path)
    assert roster.records["1"].photo_restricted
    assert [str(p) for p in roster.problems] == [
        "line 2: student 1: unrecognised Photo_Opt_Out value 'Opt Out?'; treated as restricted"]


def test_duplicate_rows_most_restrictive_wins(tmp_path):
    path = write_export(tmp_path / "e.csv", [
        student("1", "Ann", "Lee", photo="Y"), student("2", "Bo", "Kim"), student("1", "Ann", "Lee", name="Y")])
    roster = read_export(path)
    assert roster.records["1"].photo_restricted and roster.records["1"].name_restricted
    assert "student 1 appears again (first on line 2)" in str(roster.problems[0])


def test_empty_file_refused(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(SyncRefused, match=r"e\.csv: export is empty"):
        read_export(tmp_path / "e.csv")


def test_header_without_rows_refused(tmp_path):
    path = write_export(tmp_path / "e.csv", [])
    with pytest.raises(SyncRefused, match="header but no student rows"):
        read_export(path)


def test_missing_consent_column_refused(tmp_path):
    header = [h for h in HEADER if h != "Media_Opt_Out"]
    path = write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee")], header=header)
    with pytest.raises(SyncRefused, match="consent column 'Media_Opt_Out' is missing from the header; nothing imported"):
        read_export(path)


def test_missing_file_is_roster_error(tmp_path):
    with pytest.raises(RosterError, match=r"nope\.csv: cannot read export"):
        read_export(tmp_path / "nope.csv")


def test_binary_file_refused(tmp_path):
    (tmp_path / "e.csv").write_bytes("Student_Number,First_Name\n".encode("utf-16"))
    with pytest.raises(RosterError, match="binary file"):
        read_export(tmp_path / "e.csv")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings_keep_accents(tmp_path, encoding):
    path = write_export(tmp_path / "e.csv", [student("1", "Chloé", "Fernández")], encoding=encoding)
    roster = read_export(path)
    assert roster.records["1"].full_name == "Chloé Fernández"


@pytest.mark.parametrize("delimiter,terminator", [(",", "\n"), (",", "\r\n"), ("\t", "\n"), (",", "\r")])
def test_delimiters_and_line_endings(tmp_path, delimiter, terminator):
    path = write_export(tmp_path / "e.csv", [student("1", "Ann", "Smith, Jr.", media="Y"), student("2", "Bo", "Kim")],
                        delimiter=delimiter, lineterminator=terminator)
    roster = read_export(path)
    assert roster.records["1"].last_name == "Smith, Jr."
    assert roster.records["1"].photo_restricted and not roster.records["2"].photo_restricted


def test_header_names_case_and_spacing_insensitive(tmp_path):
    header = ["student number", "FIRST_NAME", "last name", "media_opt_out"]
    path = write_export(tmp_path / "e.csv", [{"student number": "1", "FIRST_NAME": "Ann",
                                              "last name": "Lee", "media_opt_out": "Y"}], header=header)
    assert read_export(path).records["1"].photo_restricted


def test_row_without_number_reported(tmp_path):
    path = write_export(tmp_path / "e.csv", [student("", "Ann", "Lee"), student("2", "Bo", "Kim")])
    roster = read_export(path)
    assert list(roster.records) == ["2"]
    assert str(roster.problems[0]) == "line 2: row has no student number; skipped"
