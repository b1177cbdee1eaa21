"""Issue #11, exports that silently cleared opt-outs: each case with a real CSV file and a real SQLite file."""

import pytest
from click.testing import CliRunner

from consentguard import open_db, sync_roster
from consentguard.cli import cli
from consentguard.errors import RosterError, SyncRefused
from consentguard.roster.export import read_export
from consentguard.roster.mapping import MappingError, parse_mapping

from conftest import HEADER, student, write_export

PS = "Student_Number,First_Name,Last_Name,Media_Opt_Out,Photo_Opt_Out,Name_Opt_Out\n"


def state(db):
    return {r["student_number"]: (r["photo_restricted"], r["name_restricted"])
            for r in db.query("SELECT * FROM students")}


def roster(n, photo=(), media=()):
    return [student(str(1000 + i), f"First{i}", f"Last{i}", photo="Y" if i in photo else "",
                    media="Y" if i in media else "") for i in range(n)]


# -- an unquoted comma shifts the columns ---------------------------------------------------

def test_unquoted_comma_in_name_is_refused_and_keeps_consent(tmp_path, db_path):
    """'Ellery, Jr.' unquoted moved Photo_Opt_Out's Y into Name_Opt_Out and blanked the photo opt-out."""
    db = open_db(db_path)
    (tmp_path / "a.csv").write_text(PS + "1,Marcus,Ellery,,Y,\n2,Bo,Kim,,,\n")
    (tmp_path / "b.csv").write_text(PS + "1,Marcus,Ellery, Jr.,,Y,\n2,Bo,Kim,,,\n")
    sync_roster(db, tmp_path / "a.csv")
    report = sync_roster(db, tmp_path / "b.csv")
    assert state(db)["1"] == (1, 0) and report.newly_cleared == [] and report.lost == []
    assert report.problems[0] == ("line 2: row has 7 columns, the header has 6 (an unquoted comma in a "
                                  "value?); student 1 skipped, their previous consent stays")


def test_wider_row_reported_by_check_config(tmp_path):
    (tmp_path / "b.csv").write_text(PS + '1,Marcus,"Ellery, Jr.",,Y,\n2,Bo,Kim, Sr.,,,\n')
    roster_ = read_export(tmp_path / "b.csv")
    assert set(roster_.records) == {"1"} and roster_.records["1"].last_name == "Ellery, Jr."
    assert [str(p) for p in roster_.problems] == [
        "line 3: row has 7 columns, the header has 6 (an unquoted comma in a value?); "
        "student 2 skipped, their previous consent stays"]


def test_joined_files_with_wider_rows_are_refused(tmp_path):
    """OneRoster: a shifted row in users.csv or in the joined consent file is skipped, not misread."""
    from consentguard.roster.mapping import load_preset
    (tmp_path / "users.csv").write_text(
        "sourcedId,role,givenName,familyName,identifier\n"
        "u1,student,Marcus,Ellery,1\nu2,student,Bo,Kim, Jr.,2\nu3,student,Cy,Day,3\n")
    (tmp_path / "consent.csv").write_text(
        "sourcedId,Media_Opt_Out,Photo_Opt_Out\nu1,,Y\nu2,,Y\nu3,,Y,\n")
    r = read_export(tmp_path / "users.csv", load_preset("oneroster-1.1"), tmp_path / "consent.csv")
    assert set(r.records) == {"1"} and r.records["1"].photo_restricted
    problems = [str(p) for p in r.problems]
    assert "line 3: row has 6 columns, the header has 5 (an unquoted comma in a value?); skipped" in problems[0]
    assert any(f"{tmp_path / 'consent.csv'} line 4: row has 4 columns, the header has 3" in p for p in problems)


def test_headerless_file_row_wider_than_the_others_is_refused(tmp_path, db_path):
    """AutoSend files have no header: a row wider than most rows is shifted, so it is skipped, not read."""
    from consentguard.roster.mapping import load_preset
    db = open_db(db_path)
    autosend = load_preset("powerschool-autosend")
    rest = "2\tBo\tKim\t6\t1201\t0\t\n3\tCy\tDay\t6\t1201\t0\t\n"
    (tmp_path / "a").write_text("1\tMarcus\tEllery\t6\t1201\t0\tY\n" + rest)
    (tmp_path / "b").write_text("1\tMarcus\tEllery\tJr.\t6\t1201\t0\tY\n" + rest)  # a tab typed in a name
    sync_roster(db, tmp_path / "a", mapping=autosend)
    report = sync_roster(db, tmp_path / "b", mapping=autosend)
    assert state(db)["1"] == (1, 1) and report.students == 2
    assert report.problems[0] == ("line 1: row has 8 columns, most rows have 7 (an unquoted comma in a value?); "
                                  "student 1 skipped, their previous consent stays")


# -- a consent column that disappears ------------------------------------------------------

def test_disappearing_consent_column_refused_unless_accepted(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", roster(105, photo=range(5), media=range(50, 100))))
    before = state(db)
    no_photo_column = [h for h in HEADER if h != "Photo_Opt_Out"]
    cut = write_export(tmp_path / "b.csv", roster(105, media=range(50, 100)), header=no_photo_column)
    with pytest.raises(SyncRefused, match=r"b.csv: consent column 'Photo_Opt_Out' was in the last sync \(#1\) "
                                          r"and is missing now; 5 student\(s\) would lose a restriction in this sync\. "
                                          r"Would lose a restriction: First0 Last0 \(#1000\), First1 Last1 \(#1001\), "
                                          r"First2 Last2 \(#1002\), First3 Last3 \(#1003\), First4 Last4 \(#1004\)\. "
                                          r"Nothing imported; run again with --accept-drop"):
        sync_roster(db, cut)
    assert state(db) == before
    runs = list(db.query("SELECT status, message FROM sync_runs ORDER BY id"))
    assert runs[-1]["status"] == "refused" and "Photo_Opt_Out" in runs[-1]["message"]
    report = sync_roster(db, cut, accept_drop=True)
    assert len(report.lost) == 5 and state(db)["1000"] == (0, 0)


def test_disappearing_column_refused_on_the_cli(tmp_path):
    db = str(tmp_path / "cg.db")
    r = CliRunner()
    r.invoke(cli, ["sync", str(write_export(tmp_path / "a.csv", roster(20, photo={1}))), "--db", db])
    out = r.invoke(cli, ["sync", str(write_export(tmp_path / "b.csv", roster(20), header=HEADER[:-2])),
                         "--db", db])
    assert out.exit_code == 1 and out.output.count("\n") == 1
    assert ("consent columns 'Photo_Opt_Out' and 'Name_Opt_Out' were in the last sync (#1) and are missing now; "
            "1 student(s) would lose a restriction in this sync. Would lose a restriction: First1 Last1 (#1001). "
            "Nothing imported; run again with --accept-drop"
            ) in out.output


# -- the report lists every student who loses any restriction ------------------------------

def test_report_lists_partial_losses_with_before_and_after(tmp_path, db_path):
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", [student("1", "Ann", "Lee", media="Y"),
                                                       student("2", "Bo", "Kim", photo="Y")]))
    report = sync_roster(db, write_export(tmp_path / "b.csv", [student("1", "Ann", "Lee", name="Y"),
                                                                student("2", "Bo", "Kim", photo="Y")]))
    assert report.newly_cleared == [] and report.lost == ["1"]
    text = report.summary()
    assert ("  lost a restriction:     1\n"
            "    - Ann Lee (#1): before photo on all channels, name on all channels; "
            "after name on all channels\n") in text
    assert report.to_json()["lost"] == ["1"]


def test_guard_counts_partial_losses(tmp_path, db_path):
    """Students who keep one restriction but lose another count toward the drop guard."""
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", roster(40, media=range(20))))
    partly = [student(str(1000 + i), f"First{i}", f"Last{i}", name="Y" if i < 5 else "",
                      media="" if i < 5 else ("Y" if i < 20 else "")) for i in range(40)]
    with pytest.raises(SyncRefused, match=r"5 of 20 restricted students would be missing or lose a restriction "
                                          r"\(25 restrictions; more than 10%\)"):
        sync_roster(db, write_export(tmp_path / "b.csv", partly))


def test_a_refused_sync_names_the_students_it_would_have_cleared(tmp_path, db_path):
    """The admin can look a few of them up in the SIS before deciding (at most ten named)."""
    db = open_db(db_path)
    sync_roster(db, write_export(tmp_path / "a.csv", roster(40, media=range(14))))
    with pytest.raises(SyncRefused) as refused:
        sync_roster(db, write_export(tmp_path / "b.csv", roster(40, media=range(14, 40))))
    assert ("has a consent column changed meaning? Would lose a restriction: First0 Last0 (#1000), "
            "First1 Last1 (#1001), ") in str(refused.value)
    assert " and 4 more. Nothing imported" in str(refused.value)
    assert str(refused.value).count(" (#") == 10  # sorted by last name: Last0, Last1, Last10, ...


# -- mappings validated by a schema --------------------------------------------------------

GOOD = """
name = "d"
[columns]
student_number = "ID"
first_name = "Given"
last_name = "Family"
[[consent]]
column = "Media"
"""


@pytest.mark.parametrize("extra,message", [
    ("[guards]\nmin_drop_count = 1000000", "d.toml: [guards] min_drop_count must be from 0 to 50, not 1000000"),
    ("[guards]\nmax_drop_students = 0.9", "d.toml: [guards] max_drop_students must be from 0 to 0.5, not 0.9"),
    ("[guards]\nmax_drop_restricted = \"10%\"", "d.toml: [guards] max_drop_restricted must be a number"),
    ("[guards]\nmin_drop_count = 2.5", "d.toml: [guards] min_drop_count must be a whole number"),
    ("[guards]\nmax_drop = 0.1", "d.toml: [guards] unknown key(s) max_drop"),
    ("file = \"x\"", "d.toml: [file] must be a table"),
    ("[file]\nheader = \"yes\"", "d.toml: [file] header must be true or false"),
    ("[join]\nusers_column = 3\nconsent_column = \"x\"", "d.toml: [join] users_column must be text"),
    ("[filter]\ncolumn = \"role\"\nvalues = \"student\"", "d.toml: [filter] values must be a list"),
    ("name = 3", "d.toml: name must be text"),
])
def test_schema_refuses_bad_values(extra, message):
    text = GOOD + extra if extra.startswith("[") else extra + "\n" + GOOD.replace('name = "d"\n', "")
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "d.toml")
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", [
    "consent = 3\n[columns]\nstudent_number = 'a'\nfirst_name = 'b'\nlast_name = 'c'",
    "columns = []\n[[consent]]\ncolumn = 'x'",
    "[columns]\nstudent_number = 'a'\nfirst_name = 'b'\nlast_name = 'c'\n[[consent]]\ncolumn = 'x'\nscopes = 'photo'",
    "[columns]\nstudent_number = 'a'\nfirst_name = 'b'\nlast_name = 'c'\n[[consent]]\ncolumn = 'x'\nrequired = 'no'",
    "[columns]\nstudent_number = 'a'\nfirst_name = 'b'\nlast_name = 'c'\n[[consent]]\ncolumn = 'x'\ncontains = 1",
    "x = " + "[" * 100000 + "]" * 100000,
])
def test_malformed_mappings_give_one_line_errors(text):
    with pytest.raises(MappingError) as info:
        parse_mapping(text, "d.toml")
    assert str(info.value).startswith("d.toml: ") and "\n" not in str(info.value)


def test_presets_keep_their_guards_within_the_schema():
    from consentguard.roster.mapping import load_preset, presets
    for name in presets():
        g = load_preset(name).guards
        assert 0 < g.max_drop_students <= 0.5 and 0 < g.max_drop_restricted <= 0.5 and 1 <= g.min_drop_count


def test_check_config_describes_every_guard(tmp_path):
    (tmp_path / "d.toml").write_text(GOOD + "[guards]\nmin_drop_count = 5\n")
    r = CliRunner().invoke(cli, ["sync", "--check-config", "--mapping", str(tmp_path / "d.toml")])
    assert r.exit_code == 0, r.output
    assert ("  guards: refuse if > 10% of students or > 10% of restricted students drop "
            "(drops of fewer than 5 students never refuse)") in r.output


# -- a huge field --------------------------------------------------------------------------

def test_huge_field_is_one_line_error_and_history_row(tmp_path, db_path):
    db = open_db(db_path)
    (tmp_path / "big.csv").write_text(PS + "1,Ann,Lee,Y,,\n2,Bo," + "K" * 200_000 + ",,,\n")
    with pytest.raises(RosterError) as info:
        sync_roster(db, tmp_path / "big.csv")
    assert str(info.value).startswith(f"{tmp_path / 'big.csv'}: line 3: ") and "\n" not in str(info.value)
    assert "nothing imported" in str(info.value)
    runs = list(db.query("SELECT status, message FROM sync_runs"))
    assert runs[0]["status"] == "failed" and "line 3" in runs[0]["message"]
    out = CliRunner().invoke(cli, ["sync", str(tmp_path / "big.csv"), "--db", str(db_path)])
    assert out.exit_code == 1 and out.output.count("\n") == 1 and "Traceback" not in out.output
