"""Mapping files: presets load, and every mistake gets a message naming file and key."""

import pytest
from click.testing import CliRunner

from consentguard.cli import cli
from consentguard.roster.mapping import MappingError, load_mapping, load_preset, parse_mapping, presets

GOOD = """
name = "district-7"
policy = "opt-in"
[file]
header = true
[columns]
student_number = "ID"
first_name = "Given"
last_name = "Family"
[[consent]]
column = "Photo Release"
scopes = ["photo"]
channels = ["website", "social"]
meaning = "permission"
expires_column = "Release Until"
"""


@pytest.mark.parametrize("name", presets())
def test_every_preset_is_valid(name):
    assert load_preset(name).name == name


def test_good_mapping():
    m = parse_mapping(GOOD, "d7.toml")
    assert m.policy == "opt-in" and m.consent[0].channels == ("website", "social")
    assert m.consent[0].expires_column == "Release Until"


@pytest.mark.parametrize("change,message", [
    (("policy = \"opt-in\"", "policy = \"maybe\""), "d7.toml: policy must be 'opt-out' or 'opt-in', not 'maybe'"),
    (("meaning = \"permission\"", "meaning = \"allow\""),
     "d7.toml: [[consent]] #1: meaning must be 'opt-out' or 'permission', not 'allow'"),
    (("channels = [\"website\", \"social\"]", "channels = [\"tiktok\"]"),
     "d7.toml: [[consent]] #1: channels must be a non-empty list of all, social, website, yearbook, news, video"),
    (("student_number = \"ID\"\n", ""), "d7.toml: [columns] student_number is required"),
    (("header = true", "header = false"),
     "d7.toml: [columns] student_number must be a 1-based column position (whole number >= 1) because [file] header = false"),
    (("[file]", "[file]\ndelimiter = \"x\""), 'd7.toml: [file] delimiter must be one of'),
    (("name = \"district-7\"", "name = \"district-7\"\ncolour = 1"), "d7.toml: unknown section(s) or key(s): colour"),
    (("scopes = [\"photo\"]", "scopes = [\"photo\"]\nvalues = []"), "d7.toml: [[consent]] #1: unknown key(s) values"),
    (("[columns]", "[columns\n"), "d7.toml: not valid TOML"),
])
def test_mapping_errors(change, message):
    with pytest.raises(MappingError) as info:
        parse_mapping(GOOD.replace(*change), "d7.toml")
    assert str(info.value).startswith(message)


def test_unknown_preset():
    with pytest.raises(MappingError, match="unknown preset 'nope'; choose one of: "):
        load_preset("nope")


def test_check_config_cli(tmp_path):
    (tmp_path / "d7.toml").write_text(GOOD)
    (tmp_path / "e.csv").write_text("ID,Given,Family,Photo Release,Release Until\n1,Ann,Lee,Yes,6/30/2030\n2,Bo,Kim,,\n")
    r = CliRunner().invoke(cli, ["sync", str(tmp_path / "e.csv"), "--mapping", str(tmp_path / "d7.toml"),
                                 "--check-config", "--db", str(tmp_path / "cg.db")])
    assert r.exit_code == 0, r.output
    assert f"mapping 'district-7' from {tmp_path / 'd7.toml'} is valid" in r.output
    assert "consent Photo Release: yes permits photo on website, social, expires per Release Until" in r.output
    assert f"{tmp_path / 'e.csv'}: 2 students readable (utf-8), 2 photo-restricted, 2 name-restricted" in r.output
    assert not (tmp_path / "cg.db").exists()


def test_check_config_reports_bad_file(tmp_path):
    (tmp_path / "bad.toml").write_text("policy = 'opt-out'\n")
    r = CliRunner().invoke(cli, ["sync", "--check-config", "--mapping", str(tmp_path / "bad.toml")])
    assert r.exit_code == 1
    assert r.output == f"Error: {tmp_path / 'bad.toml'}: [columns] student_number is required\n"


def test_missing_mapping_file(tmp_path):
    with pytest.raises(MappingError, match="nope.toml: cannot read mapping file"):
        load_mapping(tmp_path / "nope.toml")
