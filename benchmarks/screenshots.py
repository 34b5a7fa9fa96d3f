"""Take the README screenshots of the agents' page with Debian's headless Chromium.

Serves the app on 127.0.0.1 (a free port) from a published index, drives the page the way an
agent would, and writes docs/screenshots/*.png. The feedback database goes to a temporary
folder, so nothing under var/ changes.

    kb index --index /tmp/webidx          # the sample knowledge base in articles/
    .venv/bin/python benchmarks/screenshots.py --index /tmp/webidx
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlencode

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from kbserver import create_app

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from chromium import headless_chromium  # noqa: E402  (the browser tests' launcher: one set of flags)

QUERY = "refund to a closed card"
ARTICLE = "returns/wrong-size-exchange"
MESSAGE = (
    "Hi there, the walking boots I ordered last week are too small. "
    "Can I swap them for a size 9? Order LK-482113. Thanks, Sam"
)
OFF_TOPIC = "What will the weather be like on Mars tomorrow?"
# A refund chased as a late delivery: two candidates too close to call, shown as a choice.
UNSURE = ("Hi, I sent back a pair of boots on the 3rd of March and got an email saying you'd got them, "
          "but there's still nothing in my bank. It's been nearly two weeks. Where is my money?? Order LK-4402198")
STEERED = '"proof of postage" -gift'
# Refunds not received, in Tamil and in Persian (tests/eval/multilingual/): English procedures,
# the line naming both languages, the Persian message right to left in the helpdesk panel.
TAMIL = "பொருளை Post Office-ல கொடுத்து 3 வாரம் ஆச்சு. இன்னும் பணம் என் அக்கவுண்டுக்கு வரல. என்ன நடக்குது?"
PERSIAN = "ایمیل اومده که refund انجام شده ولی تو حساب بانکیم هیچی نیست"
FEEDBACK = [  # (article, outcome, comment): something for the reports page to show
    ("returns/refund-not-received", "resolved_first_contact", None),
    ("returns/refund-not-received", "helpful", None),
    ("returns/start-a-return", "not_helpful", "Customer had no receipt and the article does not say what to do"),
    ("delivery/where-is-my-order", "resolved_first_contact", None),
    ("payments/payment-declined", "not_helpful", "It was a refund question, not a declined card"),
]
WAIT_S = 20


def start_server(index_dir: Path, database: Path):
    app = create_app({"INDEX_DIR": str(index_dir), "DATABASE": str(database), "RATE_LIMIT": "10000 per minute"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def shoot(driver, path: Path, width: int, max_height: int) -> None:
    """Resize to the page's height (up to `max_height`) and save one PNG of the viewport."""
    driver.set_window_size(width, 900)
    height, chrome = driver.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
    )
    driver.set_window_size(width, min(height, max_height) + chrome)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def suggest(driver, base: str, message: str, css: str) -> None:
    driver.get(base + "/suggest")
    box = driver.find_element(By.ID, "message")
    box.send_keys(message)
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    WebDriverWait(driver, WAIT_S).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))
    driver.execute_script("document.activeElement.blur()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "index", help="published index root")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNGs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="kb-shots-") as tmp, headless_chromium(extra_flags=("--hide-scrollbars",)) as driver:
        server, base = start_server(args.index, Path(tmp) / "kb.sqlite3")
        try:
            wait = WebDriverWait(driver, WAIT_S)
            driver.set_window_size(1280, 900)

            # Home: typed, not loaded with ?q=, so the picture shows search as you type.
            driver.get(base + "/")
            driver.find_element(By.ID, "q").send_keys(QUERY)
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "a.result-link")) >= 5)
            shoot(driver, args.out / "home.png", 1280, 1100)

            driver.get(f"{base}/articles/{ARTICLE}")
            driver.find_element(By.CSS_SELECTOR, "label[for='follow-up-1']").click()
            driver.execute_script("document.activeElement.blur()")
            shoot(driver, args.out / "article.png", 1280, 2200)

            suggest(driver, base, MESSAGE, "[data-top-suggestion]")
            shoot(driver, args.out / "suggestion.png", 1280, 2800)

            suggest(driver, base, OFF_TOPIC, "[data-no-match]")
            shoot(driver, args.out / "no-confident-match.png", 1280, 1100)

            suggest(driver, base, TAMIL, "[data-lang-notice]")
            shoot(driver, args.out / "tamil-message.png", 1280, 1400)

            suggest(driver, base, UNSURE, "[data-choice]")  # the compact list; each opens in place
            shoot(driver, args.out / "choice.png", 1280, 1100)

            driver.get(base + "/")
            driver.find_element(By.ID, "q").send_keys(STEERED)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a.result-link"))
            shoot(driver, args.out / "steered-search.png", 1280, 900)

            driver.get(base + "/changes?since=90d")
            shoot(driver, args.out / "what-changed.png", 1280, 1400)

            for article_id, outcome, comment in FEEDBACK:
                body = {"article_id": article_id, "outcome": outcome, **({"comment": comment} if comment else {})}
                status = driver.execute_async_script(
                    "var done = arguments[arguments.length - 1];"
                    "fetch('/api/v1/feedback', {method: 'POST', headers: {'Content-Type': 'application/json'},"
                    " body: JSON.stringify(arguments[0])}).then(function (r) { done(r.status); });", body)
                if status >= 300:
                    raise SystemExit(f"feedback for the reports screenshot was refused: {status}")
            driver.get(base + "/reports")
            shoot(driver, args.out / "reports.png", 1280, 2600)

            driver.set_window_size(380, 900)
            driver.get(f"{base}/articles/{ARTICLE}")
            shoot(driver, args.out / "narrow-380.png", 380, 1500)

            # The helpdesk panel's own link: the ticket's message, suggested on the server.
            driver.get(f"{base}/suggest?" + urlencode({"text": PERSIAN, "ticket_id": "T-20417"}))
            wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "[data-lang-notice]")))
            driver.execute_script("document.activeElement.blur()")  # the caret would hide the message's first letter
            shoot(driver, args.out / "persian-380.png", 380, 1500)
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
