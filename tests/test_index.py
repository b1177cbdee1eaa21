"""Face index: the closest portrait per student, nearest first."""

import json

import numpy as np

from consentguard.match.index import FaceIndex


def test_nearest_equals_brute_force():
    rng = np.random.default_rng(7)
    encodings = rng.normal(size=(300, 128)) * 0.05
    owners = [f"{i % 97:03d}" for i in range(300)]  # several portraits per student, interleaved
    probe = rng.normal(size=128) * 0.05
    expected: dict[str, float] = {}
    for owner, d in zip(owners, np.linalg.norm(encodings - probe, axis=1)):
        expected[owner] = min(expected.get(owner, np.inf), d)
    got = FaceIndex(encodings, owners, {}).nearest(probe)
    assert [n for n, _ in got] == sorted(expected, key=expected.get)
    assert np.allclose([d for _, d in got], sorted(expected.values()))


def test_empty_index():
    assert FaceIndex(np.empty((0, 128)), [], {}).nearest(np.zeros(128)) == []


# -- whose portraits are indexed: all by default, restricted as the privacy option (issue #12) -----

import shutil  # noqa: E402

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from consentguard import open_db, sync_roster  # noqa: E402
from consentguard.cli import cli  # noqa: E402
from consentguard.store.db import roster_policies  # noqa: E402

from conftest import C, R, student, write_export  # noqa: E402


def _school(tmp_path, faces):
    """R photo-restricted with two portraits (this year's and an earlier one), C permitted with one."""
    portraits = tmp_path / "portraits"
    (portraits / "2024").mkdir(parents=True)
    shutil.copy(faces.restricted_portrait, portraits / f"{R}.jpg")
    shutil.copy(faces.restricted_other, portraits / "2024" / f"{R}_2024.jpg")
    shutil.copy(faces.clear_portrait, portraits / f"{C}.jpg")
    export = write_export(tmp_path / "e.csv", [student(R, "Marcus", "Ellery", photo="Y"),
                                               student(C, "Jordan", "Whitfield")])
    return export, portraits


def _encoded(db) -> dict[str, int]:
    return dict(db.execute("SELECT student_number, count(*) FROM portraits WHERE encoding IS NOT NULL "
                           "GROUP BY student_number").fetchall())


@pytest.mark.faces
def test_a_new_database_indexes_every_student_and_counts_references(tmp_path, faces):
    export, portraits = _school(tmp_path, faces)
    db = open_db(tmp_path / "cg.db")
    report = sync_roster(db, export, portraits)
    assert (report.index_policy, report.index_policy_source) == ("all", "default")
    assert _encoded(db) == {R: 2, C: 1}  # every portrait of every student, earlier years included
    assert report.references == {"1": 1, "2": 1}
    assert "2 student(s) indexed (1 with 1 portrait, 1 with 2 portraits)" in report.summary()
    assert any("'all' (the default)" in n and "--index restricted" in n for n in report.notes)
    assert roster_policies(db)[0] == "all"
    from consentguard.match.index import load_index
    index = load_index(db, index_policy="all")
    assert sorted(index.owners) == [R, R, C]  # both of R's portraits: nearest = the closer one


@pytest.mark.faces
def test_a_sync_without_index_keeps_restricted_and_says_the_default_changed(tmp_path, faces):
    """A database last synced with 'restricted' (the old default) is not widened silently by a
    nightly sync: whose biometric data is stored changes only on an explicit --index."""
    export, portraits = _school(tmp_path, faces)
    db_path = tmp_path / "cg.db"
    sync_roster(open_db(db_path), export, portraits, index_policy="restricted")
    r = CliRunner().invoke(cli, ["sync", str(export), "--photos", str(portraits), "--db", str(db_path)])
    assert r.exit_code == 0, r.output
    assert "index policy kept at 'restricted' from sync #1: the default for new databases is now 'all'" in r.output
    assert "To index every student, sync once with --index all" in r.output
    assert "photo-restricted students only (--index restricted); 1 student(s) indexed (1 with 2 portraits)" in r.output
    db = open_db(db_path)
    assert _encoded(db) == {R: 2} and roster_policies(db)[0] == "restricted"
    # an explicit --index all switches, says so, and later syncs keep it
    r = CliRunner().invoke(cli, ["sync", str(export), "--photos", str(portraits), "--db", str(db_path), "--json"])
    assert json.loads(r.output)["index_policy"] == "restricted"
    r = CliRunner().invoke(cli, ["sync", str(export), "--photos", str(portraits), "--db", str(db_path),
                                 "--index", "all", "--json"])
    report = json.loads(r.output)
    assert (report["index_policy"], report["index_policy_before"], report["index_policy_source"]) == (
        "all", "restricted", "chosen")
    assert any("index policy changed from 'restricted' (sync #3) to 'all'" in n for n in report["notes"])
    assert _encoded(open_db(db_path)) == {R: 2, C: 1}
    r = CliRunner().invoke(cli, ["sync", str(export), "--photos", str(portraits), "--db", str(db_path), "--json"])
    assert json.loads(r.output)["index_policy"] == "all" and _encoded(open_db(db_path)) == {R: 2, C: 1}
    # and back to the privacy option: the permitted student's encoding is deleted, the cost is stated
    r = CliRunner().invoke(cli, ["sync", str(export), "--db", str(db_path), "--index", "restricted"])
    assert "index policy changed from 'all' (sync #5) to 'restricted'" in r.output
    assert "go to review with only photo-restricted students indexed" in r.output
    assert _encoded(open_db(db_path)) == {R: 2}


def test_the_index_option_states_its_cost():
    r = CliRunner().invoke(cli, ["sync", "--help"])
    assert "restricted (the privacy option)" in " ".join(r.output.split())
    assert "go to review with only photo-restricted students indexed" in " ".join(r.output.split())
