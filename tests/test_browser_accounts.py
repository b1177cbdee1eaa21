"""Issue #16 in a real headless Chromium against the real server with staff accounts: a staff
member signs in, checks a photo that needs review and finds no release control; an approver signs in,
checks it and releases it, recorded under their account (the name field shows it, read-only)."""

import shutil

import pytest

from consentguard import open_db
from consentguard.store import users

from helpers.browser import choose_files, chromium, wait_for_results
from helpers.photos import distant
from helpers.web import start_server

pytestmark = [pytest.mark.faces, pytest.mark.browser, pytest.mark.slow]


def sign_in(browser, url, name, password):
    from selenium.webdriver.common.by import By

    browser.get(url)
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form button").click()


def test_staff_cannot_release_a_review_and_an_approver_can(face_roster, faces, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    db = tmp_path / "cg.db"
    shutil.copy(face_roster, db)
    users.add(open_db(db), "Sam Staff", "staff", "staff password 1", "it-admin")
    users.add(open_db(db), "Alex Approver", "approver", "approver password 2", "it-admin")
    far = distant(faces.clear_other, 40, tmp_path, "far.jpg")
    proc, url = start_server(db)
    browser = chromium()
    try:
        browser.get(url)
        assert browser.find_element(By.ID, "password")  # the page asks everyone to sign in
        sign_in(browser, url, "Sam Staff", "staff password 1")
        assert "Signed in as Sam Staff (staff)" in browser.find_element(By.TAG_NAME, "header").text
        choose_files(browser, [far])
        (card,) = wait_for_results(browser, 1)
        assert "Check before posting" in card.text
        assert not card.find_elements(By.CSS_SELECTOR, "form.override textarea")  # no release control
        assert "An approver must look at this photo" in card.text

        browser.find_element(By.CSS_SELECTOR, "form.account button").click()  # sign out
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "password"))
        sign_in(browser, url, "Alex Approver", "approver password 2")
        choose_files(browser, [far])
        (card,) = wait_for_results(browser, 1)
        who = card.find_element(By.CSS_SELECTOR, "form.override input[autocomplete=name]")
        assert who.get_attribute("value") == "Alex Approver" and who.get_attribute("readonly")
        card.find_element(By.CSS_SELECTOR, "form.override textarea").send_keys("a parent volunteer at the back")
        card.find_element(By.XPATH, ".//button[.='Record override']").click()
        WebDriverWait(browser, 30).until(lambda b: "Override recorded (#" in card.text)
        row = open_db(db).execute("SELECT os_user, interface FROM checks WHERE event = 'override'").fetchone()
        assert row == ("Alex Approver", "web")
    finally:
        browser.quit()
        proc.terminate()
        proc.wait(timeout=30)
