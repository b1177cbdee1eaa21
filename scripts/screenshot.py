#!/usr/bin/env python3
"""Take docs/results.png: the page after checking the demo photos (run scripts/demo first).

Starts the real server on the demo database, drops the demo's draft photos onto the page in
headless Chromium with a caption that names a restricted student, waits for every verdict and
saves a screenshot of the whole page.

Usage: python scripts/screenshot.py [--out docs/results.png]
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    from selenium.webdriver.common.by import By

    from helpers.browser import chromium, drop_files, wait_for_results
    from helpers.web import start_server

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results.png")
    args = ap.parse_args()
    demo = ROOT / ".cache" / "demo"
    if not (demo / "consentguard.db").is_file():
        sys.exit("run scripts/demo first (it makes the demo database and photos)")
    proc, url = start_server(demo / "consentguard.db")
    browser = chromium(1100, 1900)
    try:
        browser.get(url)
        browser.find_element(By.ID, "caption").send_keys("Spring assembly: congratulations to Priya Natarajan!")
        drop_files(browser, [demo / "drafts" / n for n in ("assembly.jpg", "sports_day.jpg", "science_fair.jpg")])
        wait_for_results(browser, 3)
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1100, height + 40)
        args.out.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(args.out))
        print(f"wrote {args.out}")
    finally:
        browser.quit()
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
