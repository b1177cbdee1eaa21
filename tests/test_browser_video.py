"""A video dropped on the page, in a real headless Chromium against the real server (issue #14):
a generated clip with the restricted student's face from 4 s to 6 s shows its progress while it is
checked, then "Do not post" with a timeline naming 0:04-0:06 and the student, and a thumbnail of
the moment; its safe copy is made and downloaded (and checked again: the student is gone); nothing
is left in the server's private folder once the page is done with it."""

import base64
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from consentguard import Checker, open_db

from conftest import R
from helpers.browser import choose_files, chromium, drop_files, wait_for_results
from helpers.videos import face_card, make_clip
from helpers.web import start_server

pytestmark = [pytest.mark.faces, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(face_roster, tmp_path_factory):
    db = tmp_path_factory.mktemp("browser_video") / "cg.db"
    shutil.copy(face_roster, db)
    proc, url = start_server(db)
    browser = chromium()
    try:
        yield browser, url, proc, db
    finally:
        browser.quit()
        proc.terminate()
        proc.wait(timeout=30)
    # the server stopped: its private upload folder went with it
    assert list(Path(tempfile.gettempdir()).glob(f"consentguard-videos-{proc.pid}-*")) == []


def uploads_of(proc) -> list[Path]:
    """The files in the server's private upload folder."""
    return [p for root in Path(tempfile.gettempdir()).glob(f"consentguard-videos-{proc.pid}-*")
            for p in root.rglob("*") if p.is_file()]


def test_drop_a_clip_see_progress_then_the_timeline_of_its_moments(site, faces, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser, url, proc, db = site
    clip = make_clip(tmp_path / "concert.mp4", 10, [(4, 6, face_card(faces.restricted_other))])
    browser.get(url)
    drop_files(browser, [clip, faces.stranger])  # a clip and a photo in one drop
    progress = WebDriverWait(browser, 120, poll_frequency=0.1).until(
        lambda b: next((c for c in b.find_elements(By.CSS_SELECTOR, "#results > li.video .video-status")
                        if c.text.startswith("Checking concert.mp4: 0:") and " of 0:10 " in c.text), None))
    assert progress.text.endswith("%)")
    bar = browser.find_element(By.CSS_SELECTOR, "#results > li.video progress")
    assert float(bar.get_attribute("max")) == pytest.approx(10, abs=0.1)

    wait_for_results(browser, 2, timeout=240)
    card = browser.find_element(By.CSS_SELECTOR, "#results > li.video")
    assert card.find_element(By.CSS_SELECTOR, "h3").text == "Do not post — concert.mp4"
    (moment,) = card.find_elements(By.CSS_SELECTOR, ".moments > li")
    assert moment.text.startswith("0:04-0:06 face matches photo-restricted Marcus Ellery"), moment.text
    thumb = moment.find_element(By.CSS_SELECTOR, "img.thumb")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", thumb) > 0
    assert thumb.get_attribute("alt") == "the frame at 0:04 with the face outlined"
    # the mark on the clip's bar starts 40% of the way along it
    mark = card.find_element(By.CSS_SELECTOR, ".timeline .mark.block")
    timeline = card.find_element(By.CSS_SELECTOR, ".timeline")
    assert (mark.location["x"] - timeline.location["x"]) / timeline.size["width"] == pytest.approx(0.4, abs=0.03)
    assert "0:04-0:06" in timeline.get_attribute("aria-label")
    summary = browser.find_element(By.ID, "summary").text
    assert summary.startswith("2 files checked: 1 do not post, 1 "), summary

    # the safe copy: made on the server with its progress shown, then a link to download the file
    card.find_element(By.CSS_SELECTOR, ".safe-copy button").click()
    link = WebDriverWait(browser, 240).until(lambda b: card.find_elements(By.CSS_SELECTOR, ".safe-copy a"))[0]
    assert link.text == "Download safe copy (concert.safe.mp4)" and link.get_attribute("download") == "concert.safe.mp4"
    assert re.fullmatch(re.escape(url) + r"api/video/\d{24}/safe-copy", link.get_attribute("href"))
    data = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then((r) => r.arrayBuffer()).then((b) => {
          let s = ""; new Uint8Array(b).forEach((x) => { s += String.fromCharCode(x); }); done(btoa(s)); });""",
        link.get_attribute("href"))
    safe = tmp_path / "concert.safe.mp4"
    safe.write_bytes(base64.b64decode(data))
    again = Checker(open_db(db), record=False).check_path(safe)
    assert again.verdict != "block" and R not in again.decision.student_numbers, again.reasons
    assert [p.name for p in uploads_of(proc)] == ["concert.safe.mp4"]  # the clip itself went once copied

    browser.get(url)  # a new page: the page tells the server it is done with the clip
    WebDriverWait(browser, 10).until(lambda b: uploads_of(proc) == [])


def test_parts_not_checked_are_shown_before_the_moments(site, faces, tmp_path):
    from selenium.webdriver.common.by import By

    from helpers.videos import head_card

    browser, url, _, _ = site
    whole = make_clip(tmp_path / "whole.mp4", 4, [(1, 3, head_card(faces.clear_other))], faststart=True)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    browser.get(url)
    choose_files(browser, [cut])  # the file picker
    (card,) = wait_for_results(browser, 1, timeout=120)
    assert card.find_element(By.CSS_SELECTOR, "h3").text == "Check before posting — cut.mp4"
    box = card.find_element(By.CSS_SELECTOR, ".unchecked")
    assert box.text.startswith("Not checked: watch these parts yourself before posting\ncut.mp4: ")
    assert "cut.mp4: the video stream stops at 0:0" in box.text
    assert box.location["y"] < card.find_element(By.CSS_SELECTOR, ".timeline").location["y"]
    assert card.find_element(By.CSS_SELECTOR, ".override textarea")  # a review can be released with a reason
