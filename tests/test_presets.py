"""Every preset reads its sample export under sample_roster/ to the expected restrictions."""

import csv

import pytest

from consentguard import open_db, sync_roster
from consentguard.roster.consent import restricted
from consentguard.roster.export import read_export
from consentguard.roster.mapping import load_preset, presets

from conftest import ROOT

SAMPLES = ROOT / "sample_roster"
FILES = {
    "powerschool": ("student.export.csv", None),
    "powerschool-autosend": ("powerschool-autosend/student_autosend", None),
    "oneroster-1.1": ("oneroster-1.1/users.csv", "oneroster-1.1/consent.csv"),
    "oneroster-1.2": ("oneroster-1.2/users.csv", "oneroster-1.2/consent.csv"),
    "skyward-qmlativ": ("skyward-qmlativ/students.csv", None),
    "synergy": ("synergy/students.csv", None),
    "infinite-campus": ("infinite-campus/students.csv", None),
}
YES = {"y", "yes", "1", "true", "x"}


def expected():
    """(photo, name) restriction per student from the PowerSchool master file."""
    out = {}
    with open(SAMPLES / "student.export.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            media = r["Media_Opt_Out"].lower() in YES
            out[r["Student_Number"]] = (media or r["Photo_Opt_Out"].lower() in YES,
                                        media or r["Name_Opt_Out"].lower() in YES)
    return out


def test_every_preset_has_a_sample():
    assert set(FILES) == set(presets())


@pytest.mark.parametrize("preset", sorted(FILES))
def test_preset_reads_sample(preset):
    export, consent = FILES[preset]
    roster = read_export(SAMPLES / export, load_preset(preset), SAMPLES / consent if consent else None)
    want = expected()
    assert set(roster.records) == set(want)
    assert not [p for p in roster.problems if "unrecognised" in str(p)]
    got = {n: (r.photo_restricted, r.name_restricted) for n, r in roster.records.items()}
    if preset in ("powerschool", "oneroster-1.1", "oneroster-1.2"):
        assert got == want  # photo-only and name-only kept apart
    elif preset == "powerschool-autosend":  # carries Media_Opt_Out only: photo and name together
        assert {n for n, v in got.items() if any(v)} == {n for n, v in want.items() if all(v)}
    else:  # these formats have one flag (or channel flags) covering photo and name together
        assert {n for n, v in got.items() if any(v)} == {n for n, v in want.items() if any(v)}
    assert roster.records["100103"].full_name == "Chloé Dubois"
    assert roster.records["100110"].last_name == "Van der Berg"


def test_oneroster_needs_the_consent_file():
    from consentguard.errors import RosterError
    with pytest.raises(RosterError, match="reads consent from a second file: give it with --consent FILE"):
        read_export(SAMPLES / "oneroster-1.1/users.csv", load_preset("oneroster-1.1"))


def test_oneroster_user_without_consent_row_is_reported(tmp_path):
    consent = (SAMPLES / "oneroster-1.1/consent.csv").read_text().splitlines()
    (tmp_path / "consent.csv").write_text("\n".join(c for c in consent if not c.startswith("u-100104")) + "\n")
    roster = read_export(SAMPLES / "oneroster-1.1/users.csv", load_preset("oneroster-1.1"), tmp_path / "consent.csv")
    assert any("1 user row(s) have no row in the consent file" in str(p) for p in roster.problems)


def test_skyward_channels():
    roster = read_export(SAMPLES / "skyward-qmlativ/students.csv", load_preset("skyward-qmlativ"))
    c = roster.records["100104"].consents
    assert restricted(c, "photo", "news") and restricted(c, "photo", "yearbook")
    assert not restricted(roster.records["100101"].consents, "photo")


def test_synergy_is_windows_1252_and_reported():
    roster = read_export(SAMPLES / "synergy/students.csv", load_preset("synergy"))
    assert roster.encoding == "windows-1252"


def test_oneroster_sync_via_cli(tmp_path):
    from click.testing import CliRunner

    from consentguard.cli import cli
    r = CliRunner().invoke(cli, ["sync", str(SAMPLES / "oneroster-1.2/users.csv"), "--preset", "oneroster-1.2",
                                 "--consent", str(SAMPLES / "oneroster-1.2/consent.csv"),
                                 "--db", str(tmp_path / "cg.db")])
    assert r.exit_code == 3, r.output  # synced; no portraits given, so protection is weaker
    assert "(oneroster-1.2, utf-8)" in r.output and "students in export:     44" in r.output
    db = open_db(tmp_path / "cg.db")
    assert db["students"].get("100107")["photo_restricted"] == 1


def test_user_missing_from_consent_file_keeps_opt_out(tmp_path):
    """A truncated consent.csv must not clear the opt-out of the users it lost."""
    consent = (SAMPLES / "oneroster-1.1/consent.csv").read_text().splitlines()
    (tmp_path / "consent.csv").write_text("\n".join(c for c in consent if not c.startswith("u-100104")) + "\n")
    db = open_db(tmp_path / "cg.db")
    users, preset = SAMPLES / "oneroster-1.1/users.csv", load_preset("oneroster-1.1")
    sync_roster(db, users, mapping=preset, consent=SAMPLES / "oneroster-1.1/consent.csv")
    report = sync_roster(db, users, mapping=preset, consent=tmp_path / "consent.csv")
    assert db["students"].get("100104")["photo_restricted"] == 1 and report.newly_cleared == []
