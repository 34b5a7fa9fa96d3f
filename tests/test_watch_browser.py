"""`kb serve --watch` in a real headless Chromium: a save shows on the open page, a save that
does not lint shows its finding while the last good build keeps serving."""

from __future__ import annotations

import shutil

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from indexer.embedding import get_encoder, onnx_file
from kbserver.cli.watch import start_watching

from chromium import headless_chromium, needs_chromium
from conftest import DATA_ARTICLES, LiveServer, make_app

pytestmark = [pytest.mark.browser, needs_chromium]

WAIT_S = 30  # a deadline for the condition, not a measurement: docs/benchmarks.md has the timing
POLICY = "returns/refund-policy"


@pytest.fixture
def watched(tmp_path, onnx_model):
    """A served app over a copy of the test articles, rebuilt on every save."""
    articles = tmp_path / "articles"
    shutil.copytree(DATA_ARTICLES, articles)
    index = tmp_path / "index"
    (index / "models").mkdir(parents=True)
    shutil.copyfile(onnx_model, onnx_file(index / "models"))
    app = make_app(index, tmp_path)
    thread, stop = start_watching(articles, index, app, lambda: get_encoder(onnx_path=onnx_model))
    try:
        with LiveServer(app) as server:
            yield articles, server
    finally:
        stop.set()
        thread.join(timeout=30)


def heading(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "h1").text


def banner(driver) -> str:
    found = driver.find_elements(By.ID, "live-banner")
    return found[0].text if found and found[0].is_displayed() else ""


def test_a_save_shows_on_the_open_page_and_a_broken_save_shows_its_finding(watched):
    articles, server = watched
    path = articles / f"{POLICY}.md"
    text = path.read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    with headless_chromium() as driver:
        driver.get(f"{server.url}/articles/{POLICY}")
        before = heading(driver)

        path.write_text(text.replace(title, "title: Refunds, edited live"), encoding="utf-8")
        WebDriverWait(driver, WAIT_S).until(lambda d: heading(d) == "Refunds, edited live")

        broken = text.replace(title, "title: Refunds, broken").replace("type: policy", "type: polcy")
        path.write_text(broken, encoding="utf-8")
        WebDriverWait(driver, WAIT_S).until(lambda d: "did you mean 'policy'" in banner(d))
        assert "Not published" in banner(driver)
        assert heading(driver) == "Refunds, edited live"  # the last good build still serves
        driver.refresh()  # a page opened now is the last good build, with the finding over it
        WebDriverWait(driver, WAIT_S).until(lambda d: "type: polcy" in banner(d) or "'polcy'" in banner(d))
        assert heading(driver) == "Refunds, edited live"

        path.write_text(text, encoding="utf-8")
        WebDriverWait(driver, WAIT_S).until(lambda d: heading(d) == before and not banner(d))
