"""The scan's HTML report and CSV as a communications office reads them: crowd photos' reasons
summarised, filters by verdict, student and folder (in Chromium), the roster sync and settings used,
links to the close-ups of the faces in question."""

import csv
import io

import pytest

from consentguard.output.report import csv_text, html_report, summarised_reasons
from consentguard.runners.scan import ScanResult

RESEMBLES = "face at ({x}, 40, 90, 90) resembles photo-restricted Marcus Ellery #100104: distance {d} (review at <= 0.63)"
SETTINGS = {"block_distance": 0.45, "review_distance": 0.63, "detector": "centerface-1"}


def photo(path, verdict, reasons, numbers=(), sync=3, items=(), thresholds=SETTINGS):
    return ScanResult({"path": path, "verdict": verdict, "reasons": list(reasons), "faces": [],
                       "student_numbers": list(numbers), "sha256": "ab" * 32, "roster_sync_id": sync,
                       "thresholds": dict(thresholds), "channel": "social", "review_items": list(items)},
                      None, False)


CROWD = [RESEMBLES.format(x=10 + 100 * i, d=f"0.{55 + i}") for i in range(6)] + [
    'caption names name-restricted Bianca Russo #100130: "Bianca" (first name: strong)',
    "face at (900, 40, 90, 90) could not be encoded",
    "face at (1000, 40, 90, 90) could not be encoded",
    "metadata could not be read: XMP packet cut short",
    "text in the photo could not be read",
]


def test_faces_alike_are_one_line_with_their_distances_and_names_stay_apart():
    lines = summarised_reasons(CROWD)
    assert lines[0] == (RESEMBLES.format(x=10, d="0.55") + " (and 5 more faces like it: distance 0.56, 0.57, 0.58, "
                        "0.59, 0.60)")
    assert lines[1] == CROWD[6]
    assert lines[2] == "face at (900, 40, 90, 90) could not be encoded (and 1 more face like it)"
    assert lines[3:] == CROWD[9:]
    assert summarised_reasons(["x", "x", "y"]) == ["x", "y"]  # an exact repeat said once


def test_the_csv_gives_one_summarised_reasons_cell_per_photo():
    rows = list(csv.DictReader(io.StringIO(csv_text([photo("a/crowd.jpg", "review", CROWD, ["100104"]).doc]))))
    assert rows[0]["reasons"].count(" | ") == 4 and "5 more faces like it" in rows[0]["reasons"]


def test_a_crowd_photo_shows_three_reasons_and_the_rest_behind_more():
    page = html_report([photo("a/crowd.jpg", "review", CROWD, ["100104", "100130"], items=["p-1a2b"])], "event")
    shown, hidden = page.split("<details><summary>2 more reasons</summary>")
    assert "5 more faces like it" in shown and "Bianca Russo" in shown
    assert "XMP packet cut short" in hidden and "could not be read" in hidden
    assert '<a href="#item-p-1a2b">decision 1</a>' in page  # to the close-ups of the faces in question


def test_the_report_says_which_sync_and_settings_judged_its_photos():
    page = html_report([photo("a/1.jpg", "pass", [], sync=3), photo("a/2.jpg", "pass", [], sync=2,
                        thresholds={**SETTINGS, "review_distance": 0.6})], "event")
    assert "Judged with roster sync #3 (1 photo), #2 (1 photo); channel social" in page
    assert "<code>review_distance</code> 0.63 (1 photos); 0.6 (1 photos)" in page
    assert "<code>block_distance</code> 0.45</li>" in page


@pytest.fixture
def report(tmp_path):
    results = [photo("day1/crowd.jpg", "block", [RESEMBLES.format(x=1, d="0.40").replace("resembles", "matches")],
                     ["100104"]),
               photo("day1/choir.jpg", "review", CROWD[6:7], ["100130"]),
               photo("day2/team.jpg", "review", CROWD[:2], ["100104"]),
               photo("day2/stage.jpg", "pass", [])]
    path = tmp_path / "report.html"
    path.write_text(html_report(results, "event"), encoding="utf-8")
    return path


@pytest.mark.browser
def test_filters_hide_photos_by_verdict_student_and_folder(report):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from helpers.browser import chromium

    browser = chromium()
    try:
        browser.get(report.as_uri())

        def shown():
            return [r.find_element(By.CLASS_NAME, "path").text for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-verdict]")
                    if r.is_displayed()]

        assert len(shown()) == 4 and browser.find_element(By.ID, "shown").text == ""
        browser.find_element(By.CSS_SELECTOR, "input[value=pass]").click()
        assert "day2/stage.jpg" not in shown() and len(shown()) == 3
        Select(browser.find_element(By.NAME, "student")).select_by_visible_text("Marcus Ellery #100104")
        assert shown() == ["day1/crowd.jpg", "day2/team.jpg"]
        Select(browser.find_element(By.NAME, "folder")).select_by_value("day2")
        assert shown() == ["day2/team.jpg"]
        assert browser.find_element(By.ID, "shown").text == "Showing 1 of 4 photos (filters above)."
        browser.find_element(By.CSS_SELECTOR, "input[value=review]").click()
        assert shown() == []
    finally:
        browser.quit()
