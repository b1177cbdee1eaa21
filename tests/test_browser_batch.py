"""A drop decided together, in a real headless Chromium against the real server (issue #12 parts
2 and 3): a wide shot where a restricted student's face is too small to identify, dropped alone,
puts a decision in the "Decisions to make" panel (with its close-up and a link to the Review tab);
dropped with a clear photo of them, both cards end "Do not post" and the card says it was decided
with the other photos of the drop."""

import shutil

import pytest

from conftest import R
from helpers.browser import chromium, drop_files, wait_for_results
from helpers.web import start_server

pytestmark = [pytest.mark.faces, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(face_roster, tmp_path_factory):
    db = tmp_path_factory.mktemp("browser_batch") / "cg.db"
    shutil.copy(face_roster, db)
    proc, url = start_server(db)
    browser = chromium()
    try:
        yield browser, url
    finally:
        browser.quit()
        proc.terminate()
        proc.wait(timeout=30)


def test_a_drop_shows_its_decisions_then_a_clear_photo_settles_them(site, drop):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser, url = site
    clear, small = drop
    browser.get(url)
    drop_files(browser, [small])
    (card,) = wait_for_results(browser, 1)
    assert card.find_element(By.CSS_SELECTOR, "h3").text == f"Check before posting — {small.name}"
    panel = browser.find_element(By.ID, "decisions")
    WebDriverWait(browser, 30).until(lambda b: panel.is_displayed())
    assert panel.find_element(By.CSS_SELECTOR, "h3").text == "Decisions to make"
    (entry,) = panel.find_elements(By.CSS_SELECTOR, ".items > li")
    assert entry.text.startswith("appears in 1 photo")
    picture = entry.find_element(By.CSS_SELECTOR, ".closeups img")
    assert browser.execute_script("return arguments[0].naturalWidth", picture) > 0
    assert panel.find_element(By.LINK_TEXT, "Review tab").get_attribute("href") == url + "review"
    # the panel sits above the photo cards
    assert panel.location["y"] < card.location["y"]

    browser.get(url)  # a new drop: the wide shot with a clear photo of the same student
    drop_files(browser, [small, clear])
    wait_for_results(browser, 2)
    wait = WebDriverWait(browser, 60)
    wait.until(lambda b: all(c.find_element(By.CSS_SELECTOR, "h3").text.startswith("Do not post")
                             for c in b.find_elements(By.CSS_SELECTOR, "#results > li")))
    first = browser.find_elements(By.CSS_SELECTOR, "#results > li")[0]
    assert first.find_element(By.CSS_SELECTOR, "h3").text == f"Do not post — {small.name}"
    note = first.find_element(By.CSS_SELECTOR, ".changed").text
    assert note.startswith(("Changed after the other photos of this drop were checked:",
                            "Decided with the other photos of this drop:"))
    assert "is the same person" in note and clear.name in note and f"#{R}" in note
    assert not browser.find_element(By.ID, "decisions").is_displayed()  # nothing left to decide
    wait.until(lambda b: b.find_element(By.ID, "summary").text.startswith("2 photos checked: 2 do not post"))
    # the wide shot's safe copy is offered (made from the result decided with the drop)
    link = wait.until(lambda b: first.find_element(By.CSS_SELECTOR, ".safe-copy a"))
    assert link.get_attribute("href").startswith("data:image/jpeg;base64,")
