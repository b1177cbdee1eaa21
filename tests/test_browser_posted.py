"""Issue #15 in a real headless Chromium against the real server (`serve --keep-posted --admin-token`):
staff drop a photo that passes and mark it as posted; the next sync restricts the student in it and the
re-check (the real command) finds it; the admin signs in, sees it in the takedown list and marks it
taken down; the re-check then says so."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import R, marcus_restricted_later
from helpers.browser import chromium, drop_files, wait_for_results
from helpers.web import start_server

pytestmark = [pytest.mark.faces, pytest.mark.browser, pytest.mark.slow]

ADMIN = "the admin's own long token"


def test_mark_as_posted_then_the_admin_takes_it_down(faces, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    db, restrict_marcus = marcus_restricted_later(faces, tmp_path)
    fair = tmp_path / "fair.jpg"
    shutil.copy(faces.restricted_other, fair)
    kept = tmp_path / "posted"
    proc, url = start_server(db, "--keep-posted", str(kept), "--admin-token", ADMIN)
    browser = chromium()
    try:
        browser.get(url)
        drop_files(browser, [fair])
        (card,) = wait_for_results(browser, 1)
        assert "OK to post" in card.text, card.text
        assert not browser.find_elements(By.ID, "posted-note")  # kept: no "caption only" note
        Select(card.find_element(By.CSS_SELECTOR, "form.posted select")).select_by_value("website")
        card.find_element(By.CSS_SELECTOR, "form.posted input[type=text][placeholder]").send_keys(
            "https://school.example/news/fair")
        name = card.find_element(By.CSS_SELECTOR, "form.posted input[autocomplete=name]")
        name.clear()
        name.send_keys("Dana Office")
        card.find_element(By.XPATH, ".//button[.='Mark as posted']").click()
        WebDriverWait(browser, 30).until(lambda b: "Marked as posted (#" in card.text)
        assert len(list(kept.iterdir())) == 1

        restrict_marcus()
        bin_ = Path(sys.executable).parent / "consentguard"
        found = subprocess.run([str(bin_), "recheck", "--db", str(db)], capture_output=True, text=True)
        assert found.returncode == 4 and "TAKE DOWN" in found.stdout, found.stdout + found.stderr

        browser.get(url + "takedown")
        browser.find_element(By.NAME, "token").send_keys(ADMIN)
        browser.find_element(By.CSS_SELECTOR, "form button, form input[type=submit]").click()
        wait = WebDriverWait(browser, 30)
        item = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#findings > li"))
        assert "Take down — fair.jpg" in item.text and f"Marcus Ellery #{R}" in item.text
        assert "Posted on website on " in item.text and "https://school.example/news/fair" in item.text
        unlabelled = browser.execute_script("""
            return Array.from(document.querySelectorAll('input, select, textarea'))
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id);""")
        assert unlabelled == []
        item.find_element(By.CSS_SELECTOR, "input[minlength]").send_keys("removed from the news page")
        who = item.find_element(By.CSS_SELECTOR, "input[autocomplete=name]")
        who.clear()
        who.send_keys("Ann Admin")
        item.find_element(By.XPATH, ".//button[.='Taken down']").click()
        wait.until(lambda b: b.find_element(By.ID, "takedown-status").text.startswith("Nothing to take down (1 taken"))
        browser.find_element(By.ID, "show-done").click()
        wait.until(lambda b: "Taken down by Ann Admin" in b.find_element(By.CSS_SELECTOR, "#findings > li").text)

        after = subprocess.run([str(bin_), "recheck", "--db", str(db)], capture_output=True, text=True)
        assert after.returncode == 0 and "TAKEN DOWN" in after.stdout, after.stdout + after.stderr
    finally:
        browser.quit()
        proc.terminate()
        proc.wait(timeout=30)
