"""Issue #17: a changed caption is checked again without sending the photos again (`/api/caption`):
the drop is decided again from what the server keeps, each photo's card and audit row get the new
caption (what a post and a later re-check refer to). Real worker process, real database."""

import io
import json
import re

import pytest

from consentguard import open_db
from consentguard.web import create_app

pytestmark = pytest.mark.faces


@pytest.fixture
def page(db_file, pool):
    client = create_app(db_file, pool=pool).test_client()
    client.csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get("/").text).group(1)
    return client


def test_only_the_caption_is_checked_again(page, faces, db_file):
    sent = page.post("/api/check", data={"photo": (io.BytesIO(faces.stranger.read_bytes()), "choir.jpg"),
                                         "batch": "caption-drop-1", "caption": "Well done Priya Natarajan!"},
                     headers={"X-CSRF-Token": page.csrf}, content_type="multipart/form-data").get_json()
    assert (sent["result"]["photo_verdict"], sent["result"]["caption_verdict"]) == ("pass", "block")
    again = page.post("/api/caption", json={"batch": "caption-drop-1", "caption": "Well done a student!"},
                      headers={"X-CSRF-Token": page.csrf})
    assert again.status_code == 200, again.get_json()
    [result] = again.get_json()["results"]
    assert result["check_id"] == sent["check_id"] and result["audit_id"] > sent["check_id"]
    assert result["result"]["verdict"] == "pass" and result["result"]["caption"] == "Well done a student!"
    row = open_db(db_file).execute("SELECT result, verdict FROM checks WHERE id = ?", [result["audit_id"]]).fetchone()
    assert json.loads(row[0])["caption"] == "Well done a student!" and row[1] == "pass"
    back = page.post("/api/caption", json={"batch": "caption-drop-1", "caption": "Priya Natarajan sings"},
                     headers={"X-CSRF-Token": page.csrf}).get_json()["results"][0]["result"]
    assert back["verdict"] == "block" and back["scrubbed_caption"] == "a student sings"


def test_a_drop_the_server_no_longer_keeps_is_checked_again_in_full(page):
    gone = page.post("/api/caption", json={"batch": "never-seen", "caption": "x"}, headers={"X-CSRF-Token": page.csrf})
    assert gone.status_code == 404 and "check them again" in gone.get_json()["error"]
    assert page.post("/api/caption", json={"batch": "never-seen", "caption": "x"}).status_code == 403  # CSRF
