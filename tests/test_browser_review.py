"""The Review tab in a real headless Chromium against the real server: an item built from real
faces is decided from the page, leaves the open list and appears in the audit trail; an admin
undoes it from the page and it is open again."""

import shutil

import pytest

from consentguard import open_db
from consentguard.review import save_items

from conftest import R
from helpers.browser import chromium
from helpers.review import person_item
from helpers.web import start_server

pytestmark = [pytest.mark.faces, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def site(face_roster, tmp_path, real_faces):
    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    save_items(open_db(db), [person_item(real_faces)])
    proc, url = start_server(db)
    browser = chromium()
    try:
        yield browser, url, db
    finally:
        browser.quit()
        proc.terminate()
        proc.wait(timeout=30)


def test_decide_an_item_from_the_review_tab_then_undo_it(site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser, url, db = site
    browser.get(url)
    browser.find_element(By.LINK_TEXT, "Review queue").click()
    wait = WebDriverWait(browser, 30)
    card = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, '#items > li[data-item="p-marcus"]'))
    assert f"Marcus Ellery #{R} (distance 0.58)" in card.text
    pictures = card.find_elements(By.CSS_SELECTOR, ".closeups img")
    assert len(pictures) == 2
    assert all(browser.execute_script("return arguments[0].naturalWidth", p) >= 96 for p in pictures)
    assert all(p.size["width"] >= 96 for p in pictures)  # shown as a face, not a dot
    unlabelled = browser.execute_script("""
        return Array.from(document.querySelectorAll('input, select, textarea'))
          .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id);""")
    assert unlabelled == []

    card.find_element(By.XPATH, ".//label[contains(., 'This is not Marcus Ellery')]").click()
    card.find_element(By.CSS_SELECTOR, 'input[type="text"]').send_keys("Dana Office")
    card.find_element(By.CSS_SELECTOR, "textarea").send_keys("a parent volunteer")
    card.find_element(By.CSS_SELECTOR, ".decide button").click()
    wait.until(lambda b: not b.find_elements(By.CSS_SELECTOR, '#items > li[data-item="p-marcus"]'))
    assert browser.find_element(By.ID, "queue-status").text.startswith('Decision recorded for "appears in 2 photos')
    rows = open_db(db).execute("SELECT decision, student_number, decided_by, note FROM face_decisions").fetchall()
    assert rows == [("not", R, "Dana Office", "a parent volunteer")] * 2

    browser.get(url + "audit")
    table = browser.find_element(By.TAG_NAME, "table").text
    assert table.count("review-decision") == 2 and "Dana Office (web)" in table

    browser.get(url + "review")
    browser.find_element(By.ID, "show-decided").click()
    card = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, '#items > li[data-item="p-marcus"]'))
    card.find_element(By.XPATH, ".//button[starts-with(., 'Undo #')]").click()
    wait.until(lambda b: "undone; its item is open again" in b.find_element(By.ID, "queue-status").text)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, '#items > li.review[data-item="p-marcus"]'))
    assert open_db(db).execute("SELECT status FROM review_items").fetchone()[0] == "open"
