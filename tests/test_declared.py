"""Issue #16: people staff declare as shown (`check --people`), with face recognition on and off.

Real photos, the shared face roster (R photo-restricted with a portrait, C clear, N name-restricted),
the CLI in-process; the resolution of declared names on its own."""

import json
import shutil

import pytest
from click.testing import CliRunner

from consentguard import open_db
from consentguard.cli import cli
from consentguard.match.index import Student
from consentguard.match.names import DeclaredError, declared_people

from conftest import C, N, R

ROSTER = {"1": Student("1", "Łukasz", "Nowak", False, False, middle_name="Jan"),
          "2": Student("2", "William", "Smith", True, False), "3": Student("3", "William", "Smith", False, False),
          "4": Student("4", "Katherine", "Lee", False, False, legal_first_name="Kathryn")}


@pytest.mark.parametrize("text, numbers", [
    ("Lukasz Nowak", ["1"]), ("łukasz jan NOWAK", ["1"]), ("#2", ["2"]), ("3", ["3"]),
    ("Kate Lee", ["4"]), ("Kathryn Lee", ["4"]), ("Will Smith (#3)", ["3"]),
    ("Katherine Lee; #4; Lukasz Nowak", ["4", "1"]),  # a person declared twice counts once
])
def test_declared_names_and_numbers_resolve_to_one_student_each(text, numbers):
    assert [d.student_number for d in declared_people(text, ROSTER)] == numbers


@pytest.mark.parametrize("text, error", [
    ("William Smith", "2 students have that name (#2, #3): give the student number"),
    ("Bob Jones", "no student of the roster has that name"),
    ("#99", "no student has that number"),
    ("Kate Lee (#3)", "#3 is William Smith, not Kate Lee: check the name and the number"),  # a mistyped number
])
def test_an_unknown_ambiguous_or_contradictory_person_is_an_error_naming_them(text, error):
    with pytest.raises(DeclaredError, match=error.replace("(", r"\(").replace(")", r"\)")):
        declared_people(text, ROSTER)


@pytest.fixture
def db(face_roster, tmp_path):
    path = tmp_path / "cg.db"
    shutil.copy(face_roster, path)
    return path


def check(db, photo, *args):
    out = CliRunner().invoke(cli, ["check", str(photo), "--json", "--db", str(db), *args])
    return out.exit_code, (json.loads(out.output)["results"][0] if out.output.startswith("{") else out.output)


@pytest.mark.faces
def test_a_declared_photo_restricted_student_blocks_and_the_audit_row_keeps_who_was_declared(db, faces):
    code, doc = check(db, faces.clear_other, "--people", "Marcus Ellery")
    assert code == 4 and doc["verdict"] == "block"
    assert f"declared as shown by staff: photo-restricted Marcus Ellery (#{R})" in doc["reasons"]
    assert doc["declared"] == [{"student_number": R, "name": "Marcus Ellery", "verdict": "block"}]
    assert R in doc["student_numbers"]
    row = open_db(db).execute("SELECT result FROM checks WHERE event = 'check' ORDER BY id DESC LIMIT 1").fetchone()
    assert json.loads(row[0])["declared"] == doc["declared"]


@pytest.mark.faces
def test_declaring_a_permitted_student_never_clears_a_face_matched_to_a_restricted_one(db, faces):
    code, doc = check(db, faces.restricted_other, "--people", "Jordan Whitfield")
    assert doc["verdict"] == "block" and doc["declared"][0]["verdict"] == "pass"
    assert any(f["student_number"] == R and f["verdict"] == "block" for f in doc["faces"])


@pytest.mark.faces
def test_more_faces_than_declared_people_is_a_review(db, faces):
    code, alone = check(db, faces.clear_other, "--people", "Jordan Whitfield")
    assert alone["verdict"] == "pass", alone["reasons"]
    code, doc = check(db, faces.group, "--people", "Jordan Whitfield")
    assert doc["verdict"] in ("review", "block")
    assert any(r.endswith("but 1 person declared as shown: say who the others are, or look at the photo")
               for r in doc["reasons"]), doc["reasons"]


@pytest.mark.faces
def test_with_face_recognition_off_declared_permitted_people_cover_the_faces(db, faces):
    assert CliRunner().invoke(cli, ["config", "set", "face_recognition", "off", "--db", str(db)]).exit_code == 0
    code, undeclared = check(db, faces.clear_other)
    assert undeclared["verdict"] == "review"
    code, doc = check(db, faces.clear_other, "--people", f"Jordan Whitfield (#{C})")
    assert code == 0 and doc["verdict"] == "pass", doc["reasons"]
    assert doc["faces"][0]["reason"].endswith("one of the people declared as shown (Jordan Whitfield)")
    code, group = check(db, faces.group, "--people", f"#{C}")
    assert group["verdict"] == "review"
    code, named = check(db, faces.clear_other, "--people", "Jordan Whitfield", "--caption", "Priya Natarajan")
    assert named["verdict"] == "block" and N in named["student_numbers"]  # names are checked as always
    code, restricted = check(db, faces.clear_other, "--people", "Jordan Whitfield; Marcus Ellery")
    assert restricted["verdict"] == "block"


@pytest.mark.faces
def test_people_is_for_one_photo_and_an_unknown_person_is_one_line(db, faces):
    two = CliRunner().invoke(cli, ["check", str(faces.clear_other), str(faces.stranger), "--people", "#" + C,
                                   "--db", str(db)])
    assert two.exit_code == 2 and "one photo at a time" in two.output
    unknown = CliRunner().invoke(cli, ["check", str(faces.clear_other), "--people", "Bob Jones", "--db", str(db)])
    assert unknown.exit_code == 1 and unknown.output.count("\n") == 1
    assert "declared person 'Bob Jones': no student of the roster has that name" in unknown.output


# -- the page: "People shown" and its roster search ---------------------------------------------

@pytest.fixture(scope="module")
def page(db_file, pool):
    import re

    from consentguard.web import create_app

    client = create_app(db_file, pool=pool).test_client()
    client.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get("/").text).group(1)
    return client


def post(page, photo, people, batch=None):
    import io

    data = {"photo": (io.BytesIO(photo.read_bytes()), photo.name), "people": people}
    if batch:
        data["batch"] = batch
    return page.post("/api/check", data=data, headers={"X-CSRF-Token": page.csrf},
                     content_type="multipart/form-data")


@pytest.mark.faces
def test_the_people_search_gives_a_few_students_for_what_was_typed(page):
    assert page.get("/api/people?q=m").get_json() == {"people": []}  # one letter: nothing
    assert page.get("/api/people?q=marc").get_json() == {"people": [{"student_number": R, "name": "Marcus Ellery"}]}
    assert page.get("/api/people?q=ELLERY").get_json()["people"][0]["student_number"] == R
    assert page.get(f"/api/people?q=%23{R}").get_json()["people"][0]["name"] == "Marcus Ellery"
    assert 'id="people"' in page.get("/").text and 'list="people-list"' in page.get("/").text


@pytest.mark.faces
@pytest.mark.parametrize("batch", [None, "drop-people-1"])
def test_people_shown_on_the_page_are_judged_with_the_photo(page, faces, batch):
    answer = post(page, faces.clear_other, "Marcus Ellery", batch)
    assert answer.status_code == 200, answer.get_json()
    doc = answer.get_json()["result"]
    assert doc["verdict"] == "block" and doc["declared"][0]["student_number"] == R
    unknown = post(page, faces.clear_other, "Bob Jones", batch)
    assert unknown.status_code == 400 and "declared person 'Bob Jones'" in unknown.get_json()["error"]


@pytest.mark.faces
def test_a_recheck_declares_again_the_people_declared_then(db, faces, tmp_path):
    """Without face recognition the declared people are what let a photo out: a student declared as
    shown, permitted then and photo-restricted since, is listed by the re-check (fail closed)."""
    from consentguard import sync_roster
    from consentguard.runners.recheck import recheck

    from conftest import student, write_export

    run = CliRunner()
    assert run.invoke(cli, ["config", "set", "face_recognition", "off", "--db", str(db)]).exit_code == 0
    photo = tmp_path / "choir.jpg"
    shutil.copy(faces.clear_other, photo)
    code, doc = check(db, photo, "--people", "Jordan Whitfield")
    assert doc["verdict"] == "pass", doc["reasons"]
    sync_roster(open_db(db), write_export(tmp_path / "e2.csv", [
        student(R, "Marcus", "Ellery", photo="Y"), student(C, "Jordan", "Whitfield", photo="Y"),
        student(N, "Priya", "Natarajan", name="Yes"), student("900004", "Amelia", "Hartley")]))
    # the shared roster copied here may hold other tests' checks: this photo's finding is the one
    [finding] = [f for f in recheck(open_db(db), None).findings if f.check["file_name"] == "choir.jpg"]
    assert finding.verdict == "block" and finding.status == "affected"
    assert any("declared as shown by staff when it was checked: now photo-restricted Jordan Whitfield" in b
               for b in finding.because), finding.because
