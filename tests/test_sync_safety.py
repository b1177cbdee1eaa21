"""Nightly sync hazards (SIS.md), each with a real file: guards, history, formats, IDs."""

import json
import shutil
import zipfile

import pytest
from click.testing import CliRunner

from consentguard import Checker, open_db, sync_roster
from consentguard.cli import cli
from consentguard.errors import SyncRefused
from consentguard.roster.history import diff, rollback
from consentguard.roster.mapping import load_preset

from conftest import R, student, write_export


def roster(n, restricted=()):
    return [student(str(1000 + i), f"First{i}", f"Last{i}", media="Y" if i in restricted else "")
            for i in range(n)]


def state(db):
    return {r["student_number"]: (r["photo_restricted"], r["name_restricted"])
            for r in db.query("SELECT * FROM students")}


def test_truncated_export_refused_then_accepted(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "full.csv", roster(100, restricted=range(10))))
    before = state(db)
    with pytest.raises(SyncRefused, match=r"40 of 100 students in the last sync are missing from this export "
                                          r"\(more than 10%\); is the file truncated"):
        sync_roster(db, write_export(tmp_path / "cut.csv", roster(60, restricted=range(10))))
    assert state(db) == before
    report = sync_roster(db, write_export(tmp_path / "cut.csv", roster(60, restricted=range(10))), accept_drop=True)
    assert report.kept_absent == 40 and state(db) == before  # absent students keep everything
    assert any("accepted with --accept-drop" in p for p in report.problems)


def test_mass_clearing_refused(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", roster(100, restricted=range(20))))
    with pytest.raises(SyncRefused, match="5 of 20 restricted students would be missing or lose a restriction"):
        sync_roster(db, write_export(tmp_path / "b.csv", roster(100, restricted=range(5, 20))))
    sync_roster(db, write_export(tmp_path / "c.csv", roster(100, restricted=range(1, 20))))  # one cleared: fine


def test_history_diff_and_rollback(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", roster(10, restricted={1, 2})))
    sync_roster(db, write_export(tmp_path / "b.csv", roster(10, restricted={1})))
    sync_roster(db, write_export(tmp_path / "c.csv", roster(11, restricted={1, 3})))
    d = diff(db)
    assert (d.from_id, d.to_id) == (2, 3)
    assert [(c.student_number, c.describe()) for c in d.changes] == [
        ("1003", ["now restricted: " + ", ".join(f"{s}:{c}" for s in ("photo", "name")
                                                 for c in ("social", "website", "yearbook", "news", "video"))]),
        ("1010", ["new student"])]
    assert [c.student_number for c in diff(db, 1, 3).changes] == ["1002", "1003", "1010"]
    with pytest.raises(SyncRefused, match=r"would lift restrictions of 1 student\(s\) \(#1003\)"):
        rollback(db, 2)
    new_id, restored = rollback(db, 1, accept_drop=True)
    assert state(db)["1002"] == (1, 1) and state(db)["1003"] == (0, 0)
    assert "1010" in state(db)  # added later: kept
    assert db["sync_runs"].get(new_id)["source"] == "rollback to #1"


def test_cli_history_diff_rollback(tmp_path):
    db = str(tmp_path / "cg.db")
    r = CliRunner()
    r.invoke(cli, ["sync", str(write_export(tmp_path / "a.csv", roster(5, {1}))), "--db", db])
    r.invoke(cli, ["sync", str(write_export(tmp_path / "b.csv", roster(5, {1, 2}))), "--db", db])
    (tmp_path / "e.csv").write_text("")
    refused = r.invoke(cli, ["sync", str(tmp_path / "e.csv"), "--db", db])
    assert refused.exit_code == 1
    history = r.invoke(cli, ["roster", "history", "--db", db]).output.splitlines()
    assert [line.split()[0] for line in history] == ["#3", "#2", "#1"] and "refused" in history[0]
    out = r.invoke(cli, ["roster", "diff", "--db", db]).output
    assert out.startswith("changes from sync #1 to #2: 1 student(s)\n  First2 Last2 (#1002): now restricted: photo:social")
    doc = json.loads(r.invoke(cli, ["roster", "diff", "--json", "--db", db]).output)
    assert doc["changes"][0]["student_number"] == "1002"
    bad = r.invoke(cli, ["roster", "diff", "--to", "3", "--db", db])
    assert bad.output == "Error: sync #3 was refused: it never took effect\n"
    no = r.invoke(cli, ["roster", "rollback", "1", "--db", db])
    assert no.exit_code == 1 and "would lift restrictions of 1 student(s) (#1002)" in no.output
    yes = r.invoke(cli, ["roster", "rollback", "1", "--accept-drop", "--db", db])
    assert yes.output.startswith("sync #4: restored 1 student(s) to their state at sync #1")


@pytest.mark.faces
def test_channel_specific_name_restriction(tmp_path, db_path):
    """A student restricted only for the yearbook is not blocked on the website."""
    (tmp_path / "m.toml").write_text("""
name = "yearbook-only"
[columns]
student_number = "Student_Number"
first_name = "First_Name"
last_name = "Last_Name"
[[consent]]
column = "No_Yearbook"
channels = ["yearbook"]
""")
    (tmp_path / "e.csv").write_text("Student_Number,First_Name,Last_Name,No_Yearbook\n1,Priya,Natarajan,Y\n2,Bo,Kim,\n")
    from consentguard.roster.mapping import load_mapping
    db = open_db(db_path)
    sync_roster(db, tmp_path / "e.csv", mapping=load_mapping(tmp_path / "m.toml"))
    from PIL import Image
    Image.new("RGB", (40, 40)).save(tmp_path / "p.png")
    verdict = {ch: Checker(db, channel=ch).check_path(tmp_path / "p.png", "Priya Natarajan wins").verdict
               for ch in ("yearbook", "website")}
    assert verdict == {"yearbook": "block", "website": "pass"}
    assert Checker(db).check_path(tmp_path / "p.png", "Priya Natarajan wins").verdict == "block"


def test_expired_release_restricts(tmp_path, db_path):
    (tmp_path / "m.toml").write_text("""
name = "opt-in-releases"
policy = "opt-in"
[columns]
student_number = "ID"
first_name = "First"
last_name = "Last"
[[consent]]
column = "Release"
meaning = "permission"
expires_column = "Until"
""")
    (tmp_path / "e.csv").write_text("ID,First,Last,Release,Until\n1,Ann,Lee,Yes,6/30/2020\n2,Bo,Kim,Yes,6/30/2999\n3,Cy,Ray,,\n")
    from consentguard.roster.mapping import load_mapping
    db = open_db(db_path)
    sync_roster(db, tmp_path / "e.csv", mapping=load_mapping(tmp_path / "m.toml"))
    from consentguard.match.index import load_students
    s = load_students(db)
    assert (s["1"].name_restricted, s["2"].name_restricted, s["3"].name_restricted) == (True, False, True)


def test_autosend_headerless_tab_file(tmp_path, db_path):
    path = tmp_path / "student_autosend"  # no extension, LF, tabs, no header
    path.write_bytes(b"000123\tAnn\tLee\t6\t1201\t0\tY\n000124\tBo\tKim\t6\t1201\t0\t\n000125\tCy\tRa")
    report = sync_roster(open_db(db_path), path, mapping=load_preset("powerschool-autosend"))
    assert report.students == 2 and report.photo_restricted == 1
    assert report.problems[0] == ("line 3: row has 3 columns, 7 expected (truncated?); "
                                  "student 000125 skipped, their previous consent stays")
    assert "000123" in state(open_db(db_path))


@pytest.mark.parametrize("encoding,expected", [("mac_roman", "mac-roman"), ("cp1252", "windows-1252")])
def test_legacy_encodings_detected_and_reported(tmp_path, db_path, encoding, expected):
    path = write_export(tmp_path / "e.csv", [student("1", "Chloé", "Fernández"), student("2", "Søren", "Müller")],
                        encoding=encoding)
    report = sync_roster(open_db(db_path), path)
    assert report.encoding == expected
    assert f"export is not UTF-8; decoded as {expected}" in report.problems
    names = {r["first_name"] for r in open_db(db_path).query("SELECT first_name FROM students")}
    assert names == {"Chloé", "Søren"}


def test_excel_damaged_ids_skipped_and_reported(tmp_path, db_path):
    path = write_export(tmp_path / "e.csv", [student("5.03E+02", "Ann", "Lee", media="Y"),
                                             student("1234567890123450000", "Bo", "Kim"),
                                             student("0503E000", "Cy", "Ray")])
    report = sync_roster(open_db(db_path), path)
    assert report.students == 1
    assert "line 2: student number '5.03E+02' looks turned into a number by Excel (scientific notation)" in report.problems[0]
    assert "more than 15 digits ending in 0" in report.problems[1]


def test_unknown_consent_column_value_reported_with_line(tmp_path, db_path):
    path = write_export(tmp_path / "e.csv", [student("1", "Ann", "Lee"), student("2", "Bo", "Kim", photo="Opt Out")])
    report = sync_roster(open_db(db_path), path)
    assert report.photo_restricted == 1
    assert report.problems[0] == "line 3: student 2: unrecognised Photo_Opt_Out value 'Opt Out'; treated as restricted"


@pytest.mark.faces
def test_portraits_from_zip_map_and_without_leading_zeros(tmp_path, db_path, faces):
    rows = [student("0" + R, "Marcus", "Ellery", photo="Y")]
    export = write_export(tmp_path / "e.csv", rows)
    with zipfile.ZipFile(tmp_path / "photos.zip", "w") as z:
        z.write(faces.restricted_portrait, f"2025/{R}.jpg")       # leading zero stripped by the vendor
        z.write(faces.restricted_other, f"2026/{R}_2026.jpg")      # a second year's portrait
    db = open_db(db_path)
    report = sync_roster(db, export, tmp_path / "photos.zip")
    assert report.portraits_encoded == 2
    assert any("matched ignoring leading zeros" in p for p in report.problems)
    # PowerSchool photo map: Student_Number<TAB>filename, no header
    folder = tmp_path / "ps"
    folder.mkdir()
    shutil.copy(faces.restricted_portrait, folder / "a.jpg")
    (folder / "map.txt").write_text(f"0{R}\ta.jpg\n0{R}\tmissing.jpg\n")
    db2 = open_db(tmp_path / "two.db")
    report = sync_roster(db2, export, folder / "map.txt")
    assert report.portraits_encoded == 1
    assert any("line 2: portrait file missing.jpg not found" in p for p in report.problems)


def test_leading_zeros_dropped_are_reported(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", [student("00123", "Ann", "Lee", media="Y"), student("2", "Bo", "Kim")]))
    report = sync_roster(db, write_export(tmp_path / "b.csv", [student("123", "Ann", "Lee"), student("2", "Bo", "Kim")]))
    assert report.problems[0] == ("line 2: student number 123 (Ann Lee) equals existing 00123 but for leading zeros "
                                  "(dropped by a spreadsheet?); imported as a separate student, 00123 keeps their consent")
    assert state(db)["00123"] == (1, 1)


def test_withdrawn_and_graduated_keep_restrictions(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", [student("1", "Ann", "Lee", media="Y", Enroll_Status="0")]))
    sync_roster(db, write_export(tmp_path / "b.csv", [student("1", "Ann", "Lee", media="Y", Enroll_Status="3")]))
    assert state(db)["1"] == (1, 1) and db["students"].get("1")["enroll_status"] == "3"


def test_summary_names_newly_restricted_and_cleared(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", [student("1", "Ann", "Lee", media="Y"), student("2", "Bo", "Kim")]))
    report = sync_roster(db, write_export(tmp_path / "b.csv", [student("1", "Ann", "Lee"), student("2", "Bo", "Kim", name="Y")]))
    text = report.summary()
    assert "  newly restricted:       1\n    + Bo Kim (#2)\n  newly cleared:          1\n    - Ann Lee (#1)\n" in text
    stored = json.loads(db["sync_runs"].get(2)["report"])
    assert stored["newly_cleared"] == ["1"] and stored["newly_restricted"] == ["2"]


def test_wrong_school_file_refused(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", roster(50, restricted={1, 2})))
    other = [student(str(5000 + i), f"Other{i}", "School") for i in range(50)]
    with pytest.raises(SyncRefused, match="50 of 50 students in the last sync are missing"):
        sync_roster(db, write_export(tmp_path / "other.csv", other))


def test_trailing_empty_columns_and_quoted_commas(tmp_path, db_path):
    (tmp_path / "e.csv").write_text(
        'Student_Number,First_Name,Last_Name,Media_Opt_Out,,,\r\n'
        '1,Ann,"Lee, Jr.",Y,,,\r\n'
        '2,Bo,Kim,,,,\r\n', encoding="utf-8")
    report = sync_roster(open_db(db_path), tmp_path / "e.csv")
    assert report.students == 2 and report.photo_restricted == 1
    assert open_db(db_path)["students"].get("1")["last_name"] == "Lee, Jr."


def test_unreadable_export_is_kept_in_history_as_failed(tmp_path, db_path):
    from consentguard.errors import RosterError
    db = open_db(db_path)
    with pytest.raises(RosterError, match="cannot read export"):
        sync_roster(db, tmp_path / "missing.csv")
    run = list(db.query("SELECT status, message FROM sync_runs"))[0]
    assert run["status"] == "failed" and "missing.csv: cannot read export" in run["message"]


def test_truncated_last_row_of_header_file_keeps_opt_out(tmp_path, db_path):
    """An upload cut mid-row must not read the missing consent cell as blank (= permitted)."""
    db = open_db(db_path)
    (tmp_path / "a.csv").write_text("Student_Number,First_Name,Last_Name,Media_Opt_Out\n1,Ann,Lee,N\n2,Bo,Kim,Y\n")
    (tmp_path / "b.csv").write_text("Student_Number,First_Name,Last_Name,Media_Opt_Out\n1,Ann,Lee,N\n2,Bo,Ki")
    sync_roster(db, tmp_path / "a.csv")
    report = sync_roster(db, tmp_path / "b.csv")
    assert state(db)["2"] == (1, 1) and report.newly_cleared == []
    assert report.problems[0] == ("line 3: row has 3 columns, 4 expected (truncated?); "
                                  "student 2 skipped, their previous consent stays")
