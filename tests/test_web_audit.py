"""The audit page as an admin uses it after a busy term: paged (100 rows a page, newest first) and
filtered by student (number or part of a name), the CSV export with the same filters; and the CLI's
`audit export --student`. A real SQLite file with 230 real audit rows; the app in-process."""

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from consentguard import open_db
from consentguard.cli import cli
from consentguard.roster.sync import sync_roster
from consentguard.store.audit import record_doc
from consentguard.web import create_app

from conftest import student, write_export


def doc(n: int, numbers: list[str]) -> dict:
    return {"path": f"photo-{n:03d}.jpg", "sha256": f"{n:064x}", "verdict": "block" if numbers else "pass",
            "reasons": [f"face matches #{x}" for x in numbers], "student_numbers": numbers, "roster_sync_id": 1}


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    db = open_db(tmp / "cg.db")
    sync_roster(db, write_export(tmp / "e.csv", [student("100104", "Marcus", "Ellery", media="Y"),
                                                 student("100130", "Bianca", "Russo", media="Y")]))
    for n in range(230):  # every 10th names Marcus; every 25th Bianca; the rest nobody
        record_doc(db, doc(n, (["100104"] if n % 10 == 0 else []) + (["100130"] if n % 25 == 0 else [])), "cli")
    db.close()
    return tmp / "cg.db"


@pytest.fixture
def client(audited):
    return create_app(audited, pool=ThreadPoolExecutor(1)).test_client()


def files(page: str) -> list[str]:
    return re.findall(r"photo-(\d{3})\.jpg", page)


def test_the_audit_page_is_paged_newest_first(client):
    first = client.get("/audit").text
    assert "Rows 1–100 of 230, newest first" in first and files(first)[0] == "229" and len(files(first)) == 100
    assert 'rel="next"' in first and 'rel="prev"' not in first
    last = client.get("/audit?page=3").text
    assert "Rows 201–230 of 230" in last and files(last)[-1] == "000" and 'rel="next"' not in last
    assert "Rows 201–230" in client.get("/audit?page=99").text  # past the end: the last page
    assert client.get("/audit?page=0").status_code == 400 and client.get("/audit?page=x").status_code == 400


@pytest.mark.parametrize("student", ["100104", "#100104", "marcus", "Ellery", "Marcus Ell"])
def test_the_audit_page_filters_by_student_number_or_name(client, student):
    page = client.get("/audit", query_string={"student": student}).text
    assert "Rows 1–23 of 23" in page and set(files(page)) == {f"{n:03d}" for n in range(0, 230, 10)}


def test_filters_combine_and_the_csv_export_keeps_them(client):
    page = client.get("/audit?student=Russo&verdict=block&since=2000-01-01").text
    assert "of 10," in page and 'value="Russo"' in page
    assert "/audit.csv?verdict=block&amp;since=2000-01-01&amp;until=&amp;student=Russo" in page
    rows = list(csv.DictReader(io.StringIO(client.get("/audit.csv?student=Russo").text)))
    assert len(rows) == 10 and all("100130" in r["student_numbers"] for r in rows)
    nobody = client.get("/audit?student=Nobody%25").text  # % is a letter here, not a wildcard
    assert "No rows" in nobody and files(nobody) == []


def test_audit_export_on_the_command_line_filters_by_student(audited):
    out = CliRunner().invoke(cli, ["audit", "export", "--student", "bianca", "--db", str(audited)])
    assert out.exit_code == 0, out.output
    assert len(list(csv.DictReader(io.StringIO(out.output)))) == 10
