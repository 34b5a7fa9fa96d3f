"""XSS: the OWASP cheat sheet's classics through every way text reaches the page, in headless Chromium.

Each payload calls alert/confirm/prompt with its own number, so a hit names the payload. It
goes into a real article built by the real indexer (title, summary, owner, tag, and the body
when `kb lint` lets it through), into search queries (server-rendered and typed, rendered by
kb.js), into suggest messages (both ways), and into feedback comments and the query log that
/reports shows. Bodies that lint rejects are shown rejected, and their sanitised HTML
(`indexer.render.render_markdown`) is loaded in the browser too. After every page the test
asserts that no dialog is open, that the CDP hook (installed before any page script) recorded
no alert/confirm/prompt call and no Content-Security-Policy violation, that the console has no
CSP or script error, that the DOM holds no element or attribute that could run code, and that
the payload is shown as the text it is. Controls prove each detector fires.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import yaml
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from test_render import assert_inert

from indexer.chunking import plain_text
from indexer.parse import parse_text
from indexer.render import render_markdown
from kbserver.store.redact import redact

from chromium import headless_chromium, needs_chromium
from conftest import LiveServer, build_into, make_app

WAIT_S = 15
POLL_S = 0.02

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]

# (name, template): "{n}" becomes the payload's number. From the OWASP XSS Filter Evasion and
# XSS Prevention cheat sheets, plus the Markdown, mXSS and template-injection variants.
PAYLOAD_TEMPLATES = [
    ("script", "<script>alert({n})</script>"),
    ("script-src", "<SCRIPT SRC=https://xss.example/{n}.js></SCRIPT>"),
    ("img-javascript", '<IMG SRC="javascript:alert({n});">'),
    ("img-javascript-mixed-case", "<IMG SRC=JaVaScRiPt:alert({n})>"),
    ("img-decimal-entities", "<IMG SRC=" + "".join(f"&#{ord(c)};" for c in "javascript:alert(") + "{n})>"),
    ("img-hex-entities-no-semicolons", "<IMG SRC=" + "".join(f"&#x{ord(c):X}" for c in "javascript:alert(") + "{n})>"),
    ("a-tab-in-scheme", '<a href="jav&#x09;ascript:alert({n})">tab</a>'),
    ("a-newline-in-scheme", '<a href="jav&#x0A;ascript:alert({n})">newline</a>'),
    ("a-leading-control-char", '<a href=" &#14;  javascript:alert({n})">control</a>'),
    ("a-named-colon-entity", '<a href="javascript&colon;alert({n})">colon</a>'),
    ("img-onerror", "<img src=x onerror=alert({n})>"),
    ("img-onerror-slashes", "<img/src=x/onerror=alert({n})>"),
    ("svg-onload", "<svg onload=alert({n})>"),
    ("svg-slash-onload", "<svg/onload=confirm({n})>"),
    ("body-onload", "<body onload=alert({n})>"),
    ("iframe-javascript", '<iframe src="javascript:alert({n})"></iframe>'),
    ("iframe-srcdoc", '<iframe srcdoc="&lt;script&gt;alert({n})&lt;/script&gt;"></iframe>'),
    ("style-expression", '<div style="width: expression(alert({n}));">expr</div>'),
    ("style-import", "<style>@import 'javascript:alert({n})';</style>"),
    ("style-background-url", '<div style="background-image: url(javascript:alert({n}))">bg</div>'),
    ("data-url-link", '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==#{n}">data</a>'),
    ("data-url-object", '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==#{n}"></object>'),
    ("break-double-quote", '"><script>alert({n})</script>'),
    ("break-single-quote", "'><img src=x onerror=alert({n})>"),
    ("attribute-injection", '" autofocus onfocus="alert({n})'),
    ("close-title", "</title><script>alert({n})</script>"),
    ("close-textarea", "</textarea><img src=x onerror=prompt({n})>"),
    ("details-ontoggle", "<details open ontoggle=alert({n})>x</details>"),
    ("input-autofocus", "<input autofocus onfocus=alert({n})>"),
    ("mxss-math-style", "<math><mtext><table><mglyph><style><img src=x onerror=alert({n})>"),
    ("mxss-noscript", '<noscript><p title="</noscript><img src=x onerror=alert({n})>">'),
    ("markdown-link", "[click me](javascript:alert({n}))"),
    ("markdown-entity-link", "[click me](&#106;avascript:alert({n}))"),
    ("markdown-autolink", "<javascript:alert({n})>"),
    ("markdown-reference-link", "[click me][x{n}] and [x{n}]: javascript:alert({n})"),
    ("meta-refresh", '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert({n});">'),
    ("base-href", '<BASE HREF="javascript:alert({n});//">'),
    ("link-stylesheet", '<LINK REL="stylesheet" HREF="javascript:alert({n});">'),
    ("table-background", '<TABLE BACKGROUND="javascript:alert({n})"><tr><td>t</td></tr></TABLE>'),
    ("malformed-img-quotes", '<IMG """><SCRIPT>alert({n})</SCRIPT>">'),
    ("extraneous-open-brackets", "<<SCRIPT>alert({n});//<</SCRIPT>"),
    ("nested-script", "<scr<script>ipt>alert({n})</script>"),
    ("form-action", '<form action="javascript:alert({n})"><button>go</button></form>'),
    ("button-formaction", '<button formaction="javascript:alert({n})">go</button>'),
    ("vbscript-link", '<a href="vbscript:msgbox({n})">vb</a>'),
    ("svg-xlink", '<svg><a xlink:href="javascript:alert({n})"><text x="20" y="20">x</text></a></svg>'),
    ("embed-javascript", '<embed src="javascript:alert({n})">'),
    ("video-source-onerror", '<video><source onerror="alert({n})"></video>'),
    ("marquee-onstart", "<marquee onstart=alert({n})>m</marquee>"),
    ("a-onmouseover", '<a href="https://example.com" onmouseover="alert({n})">hover</a>'),
    ("template-injection", "{{{{constructor.constructor('alert({n})')()}}}}"),
    ("jinja-injection", "{{{{ config.__class__ }}}} {{% print({n}) %}}"),
]
PAYLOADS = [(n, name, template.format(n=n)) for n, (name, template) in enumerate(PAYLOAD_TEMPLATES, start=1)]
IDS = [name for _, name, _ in PAYLOADS]

BODY_HEAD = "---\ntitle: t\ntype: policy\nsummary: s\nowner: o\naudience: public\n---\n\nIntro.\n\n## Notes\n\n"


def is_lint_clean(body: str) -> bool:
    """Whether `kb lint` accepts `body` as a section of an article."""
    _, findings = parse_text(BODY_HEAD + body + "\n", "xss/probe", "xss/probe.md")
    return not any(f.is_error for f in findings)


BATCH_SIZE = 4


def batches() -> list[tuple[int, list[tuple[int, str, str]], str]]:
    """(k, payloads, text): the payloads BATCH_SIZE at a time, joined into one text.

    Each article, query, message and comment carries one batch. Escaping works character by
    character, so a payload escapes the same at the start of a text as after another one, and
    a payload that runs still names itself (alert(n)); batches keep the browser part fast."""
    out = []
    for k, start in enumerate(range(0, len(PAYLOADS), BATCH_SIZE), start=1):
        batch = PAYLOADS[start : start + BATCH_SIZE]
        out.append((k, batch, " ".join(p for _, _, p in batch)))
    return out


def article_id(k: int) -> str:
    return f"xss/batch-{k:02d}"


def title_of(k: int, text: str) -> str:
    return f"XSS {k}: {text}"


def owner_of(k: int, text: str) -> str:
    return f"Team {k} {text}"


def write_article(folder: Path, k: int, batch: list[tuple[int, str, str]], text: str) -> None:
    """An article carrying the batch in every front-matter field a page shows, and in its body where lint allows."""
    meta = {
        "title": title_of(k, text),
        "type": "policy",
        "summary": text,
        "owner": owner_of(k, text),
        "tags": [p for _, _, p in batch],
        "audience": "public",
        "updated": "2026-01-15",
        "review_by": (dt.date.today() + dt.timedelta(days=365)).isoformat(),
    }
    source = "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n\n"
    source += f"Payload batch {k} for the XSS test.\n"
    clean = " ".join(p for _, _, p in batch if is_lint_clean(p))
    if clean:  # a prose section (raw HTML on the page) and a callout (text)
        source += f"\n## Notes\n\n{clean}\n\n## Exceptions\n\n- {clean}\n"
    (folder / f"batch-{k:02d}.md").write_text(source, encoding="utf-8")


def write_steps_article(folder: Path) -> None:
    """A procedure whose steps carry every payload lint accepts (steps are rendered as text and by kb.js)."""
    clean = [p for _, _, p in PAYLOADS if is_lint_clean(p)]
    meta = {"title": "XSS steps", "type": "procedure", "summary": "Steps that carry payloads.", "owner": "Team steps",
            "audience": "public"}
    steps = "\n".join(f"{i}. {p}\n    - {p}" for i, p in enumerate(clean, start=1))
    text = "---\n" + yaml.safe_dump(meta, sort_keys=False) + f"---\n\nIntro.\n\n## Steps\n{steps}\n"
    (folder / "steps.md").write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------- the page's checks

# Runs in every document and frame before the page's own scripts (CDP), so nothing escapes it:
# dialogs are recorded and still opened (so Selenium sees them too); CSP violations are recorded.
HOOK = r"""
(() => {
  const log = { dialogs: [], violations: [] };
  Object.defineProperty(window, "__kbXss", { value: log });
  for (const name of ["alert", "confirm", "prompt"]) {
    const original = window[name];
    window[name] = function (...args) {
      log.dialogs.push(name + "(" + String(args[0]) + ")");
      return original.apply(this, args);
    };
  }
  document.addEventListener("securitypolicyviolation", (e) => {
    log.violations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
  }, true);
})();
"""

# Every element kb's templates and kb.js create, and every tag the sanitiser allows.
ALLOWED_TAGS = [
    "html", "head", "meta", "link", "title", "script", "body", "header", "nav", "main", "footer", "div",
    "span", "p", "a", "form", "input", "button", "label", "select", "option", "textarea", "kbd", "ul", "ol",
    "li", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "aside", "dl", "dt", "dd", "time",
    "details", "summary", "figure", "figcaption", "svg", "rect", "text", "desc", "line", "polyline", "circle",
    "table", "thead", "tbody", "tr", "th",
    "td", "strong", "em", "b", "i", "code", "pre", "blockquote", "br", "hr", "mark", "bdi",
]

# One round trip after each page: the hook's log, the DOM scan, and what the test wants to read
# (`shown`, a function body given by the test).
INSPECT = r"""
const allowed = new Set(arguments[0]);
const urlAttributes = new Set(["href", "src", "action", "formaction", "data", "xlink:href", "background",
  "poster", "srcset", "ping", "codebase", "cite", "longdesc", "lowsrc", "dynsrc"]);
const dom = [];
for (const el of document.querySelectorAll("*")) {
  const tag = el.tagName.toLowerCase();
  const where = el.closest("section[id]") ? el.closest("section[id]").id + ": " : "";
  if (!allowed.has(tag)) dom.push(where + "<" + tag + ">");
  if (tag === "script" && (el.textContent.trim() || !el.src || new URL(el.src).origin !== location.origin)) {
    dom.push("script " + (el.src || el.textContent.slice(0, 60)));
  }
  if (tag === "link" && new URL(el.href, location.href).origin !== location.origin) dom.push("link " + el.href);
  if (tag === "meta" && el.httpEquiv) dom.push("meta http-equiv=" + el.httpEquiv);
  for (const attr of el.attributes) {
    const name = attr.name.toLowerCase();
    if (name.startsWith("on") || name === "style" || name === "srcdoc") dom.push(where + tag + "[" + name + "]");
    const compact = attr.value.replace(/[\u0000-\u0020]+/g, "").toLowerCase();
    if (urlAttributes.has(name) && /^(javascript|vbscript|livescript|data):/.test(compact)) {
      dom.push(where + tag + "[" + name + "=" + attr.value.slice(0, 40) + "]");
    }
  }
}
const log = window.__kbXss;
const shown = new Function(arguments[1])();
return log ? {dialogs: log.dialogs, violations: log.violations, dom: dom, shown: shown} : null;
"""


class Browser:
    """Headless Chromium with the hook installed, and the checks run after every page."""

    def __init__(self, driver, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, condition, message: str) -> None:
        WebDriverWait(self.driver, WAIT_S, poll_frequency=POLL_S).until(condition, message)

    def inspect(self, shown: str = "return null") -> tuple[list[str], object]:
        """(Everything that shows a payload ran or reached the DOM as markup, what `shown` returns).

        The first list is empty when the page is clean. `shown` is a script body run in the page.
        """
        problems = []
        try:
            alert = self.driver.switch_to.alert
            problems.append(f"dialog open: {alert.text!r}")
            alert.dismiss()
        except NoAlertPresentException:
            pass
        page = self.js(INSPECT, ALLOWED_TAGS, shown)
        assert page is not None, "the CDP hook is not installed"
        problems += [f"dialog called: {d}" for d in page["dialogs"]]
        problems += [f"CSP violation: {v}" for v in page["violations"]]
        problems += [f"console: {e['message'][:200]}" for e in self.driver.get_log("browser") if is_console_problem(e)]
        problems += [f"in the DOM: {f}" for f in page["dom"]]
        return problems, page["shown"]

    def problems(self) -> list[str]:
        return self.inspect()[0]


def is_console_problem(entry: dict) -> bool:
    message = entry["message"]
    return "Content Security Policy" in message or "Refused to" in message or "Uncaught" in message or (
        entry["level"] == "SEVERE" and "favicon" not in message
    )


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def xss_index(onnx_model, tmp_path_factory) -> Path:
    """An index built by the real indexer from one article per batch of payloads (and a procedure with steps)."""
    folder = tmp_path_factory.mktemp("xss-articles")
    articles = folder / "articles" / "xss"
    articles.mkdir(parents=True)
    for k, batch, text in batches():
        write_article(articles, k, batch, text)
    write_steps_article(articles)
    root = folder / "index"
    report = build_into(folder / "articles", root, onnx_model)
    assert report.articles == len(batches()) + 1
    return root


@pytest.fixture(scope="module")
def server(xss_index, tmp_path_factory):
    """The app over the payload index, plus pages that show the sanitiser's output and the controls."""
    # Cached static files: each page load would otherwise revalidate all seven.
    app = make_app(xss_index, tmp_path_factory.mktemp("xss-db"), SEND_FILE_MAX_AGE_DEFAULT=3600)
    payloads = {n: p for n, _, p in PAYLOADS}

    def document(body: str, head: str = "") -> str:
        return f"<!doctype html><html lang=en><head><meta charset=utf-8><title>t</title>{head}</head><body><main>{body}</main></body></html>"

    # The sanitiser's output for every body lint rejects, one section each, in a page with kb's headers.
    rejected = [(n, p) for n, p in payloads.items() if not is_lint_clean(p)]
    sanitised = "".join(f'<section id="payload-{n}">{render_markdown(p)}</section>' for n, p in rejected)
    app.add_url_rule("/__xss__/sanitised", "xss_sanitised", lambda: document(sanitised))
    # Controls: the raw Markdown output (no sanitiser), and a script kb's CSP allows that calls alert().
    app.add_url_rule("/__xss__/raw/<int:n>", "xss_raw", lambda n: document(payloads[n]))
    app.add_url_rule("/__xss__/alert", "xss_alert", lambda: document("", '<script src="/__xss__/alert.js"></script>'))
    app.add_url_rule("/__xss__/alert.js", "xss_alert_js", lambda: ("alert('control')", 200, {"Content-Type": "text/javascript"}))
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def driver():
    with headless_chromium(keep_dialogs_open=True) as chrome:
        chrome.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOOK})
        yield chrome


@pytest.fixture
def browser(driver, server) -> Browser:
    driver.get("about:blank")
    driver.get_log("browser")  # drop what earlier tests logged
    return Browser(driver, server.url)


# ---------------------------------------------------------------------------- controls


def test_detectors_see_a_dialog_opened_by_an_allowed_script(browser):
    browser.open("/__xss__/alert")

    problems = browser.problems()

    assert "dialog open: 'control'" in problems
    assert "dialog called: alert(control)" in problems


@pytest.mark.parametrize("name, expected", [("script", "CSP violation: script-src-elem inline"), ("img-onerror", "in the DOM: img[onerror]")])
def test_detectors_see_an_unsanitised_payload(browser, name, expected):
    n = IDS.index(name) + 1
    browser.open(f"/__xss__/raw/{n}")

    problems = browser.problems()

    assert any(p.startswith(expected) for p in problems), problems
    assert not any(p.startswith("dialog") for p in problems), "CSP should have stopped it even unsanitised"


# ---------------------------------------------------------------------------- the corpus, before the browser


def test_corpus_has_the_cheat_sheet_classics():
    assert len(PAYLOADS) >= 50
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("n, name, payload", PAYLOADS, ids=IDS)
def test_lint_rejects_a_body_payload_unless_it_is_only_text(n, name, payload):
    if is_lint_clean(payload):
        # What lint lets through renders as text: at most a paragraph and Markdown emphasis.
        assert "<" not in re.sub(r"</?(p|strong|em)>", "", render_markdown(payload)), render_markdown(payload)
    else:
        _, findings = parse_text(BODY_HEAD + payload + "\n", "xss/probe", "xss/probe.md")
        assert {f.line for f in findings if f.is_error} == {BODY_HEAD.count("\n") + 1}, findings


@pytest.mark.parametrize("n, name, payload", PAYLOADS, ids=IDS)
def test_sanitiser_leaves_only_allow_listed_markup(n, name, payload):
    # Only allow-listed tags and attributes, and only http(s), mailto or relative URLs.
    assert_inert(render_markdown(payload))


# ---------------------------------------------------------------------------- every page, every payload

TITLES = {title_of(k, text) for k, _, text in batches()} | {"XSS steps"}


def texts(css: str) -> str:
    """Page-side JS: the textContent of every element matching `css`."""
    return f"Array.from(document.querySelectorAll({css!r}), e => e.textContent)"


def assert_every_payload_inert(failures: dict[str, list[str]], tried: int) -> None:
    assert tried == len(PAYLOADS)
    assert failures == {}, "\n".join(f"{name}: {problems}" for name, problems in failures.items())


def titles_problem(titles: list[str]) -> list[str]:
    """Results must show (and only show) whole article titles as text."""
    return [] if titles and {t.strip() for t in titles} <= TITLES else [f"titles not shown as text: {titles[:3]}"]


def test_article_page_shows_every_payload_as_text(browser):
    failures, tried = {}, 0
    for k, batch, text in batches():
        browser.open(f"/articles/{article_id(k)}?" + urlencode({"q": text}))
        problems, shown = browser.inspect(
            "return {doc: document.title, h1: document.querySelector('h1')?.textContent,"
            " lead: document.querySelector('.lead')?.textContent,"
            f" facts: {texts('.facts dd')}, tags: {texts('.tags a')},"
            " back: document.querySelector('.back a')?.textContent}"
        )
        expected = {
            "h1": shown["h1"] == title_of(k, text),
            "title": squash(shown["doc"]) == squash(f"{title_of(k, text)} · kb"),
            "summary": shown["lead"] == text,
            "owner": owner_of(k, text) in shown["facts"],
            "tags": shown["tags"] == [p for _, _, p in batch],
            "query": shown["back"] == f"← Back to results for “{text}”",
        }
        problems += [f"{what} not shown as text" for what, ok in expected.items() if not ok]
        for _n, name, _payload in batch:
            if problems:
                failures[name] = problems
            tried += 1
    assert_every_payload_inert(failures, tried)


def test_steps_that_carry_payloads_show_them_as_text(browser):
    clean = [p for _, _, p in PAYLOADS if is_lint_clean(p)]
    browser.open("/articles/xss/steps")  # the Steps section's sanitised HTML
    problems, items = browser.inspect(f"return {texts('.steps-html > ol > li')}")
    assert problems == []
    assert len(items) == len(clean)

    browser.open("/suggest")  # the steps list, as text
    page = browser.driver.find_element("css selector", "html")
    browser.js(
        "const form = document.querySelector('[data-suggest-form]'); form.elements.text.value = arguments[0];"
        " HTMLFormElement.prototype.submit.call(form);",
        "Steps that carry payloads",
    )
    browser.wait(ec.staleness_of(page), "the suggest form did not post")
    problems, steps = browser.inspect(f"return {texts('[data-top-suggestion] ol.steps > li')}")
    assert problems == []
    assert [squash(step) for step in steps] == [squash(f"{plain_text(p)} {plain_text(p)}") for p in clean]


def test_server_rendered_search_shows_every_payload_as_text(browser):
    failures, tried = {}, 0
    for _, batch, text in batches():
        browser.open("/?" + urlencode({"q": text}))
        problems, shown = browser.inspect(
            "return {q: document.getElementById('q')?.value,"
            " status: document.getElementById('result-status')?.textContent ?? '',"
            f" titles: {texts('.result-title')}, tags: {texts('#filter-tag option')}}}"
        )
        if shown["q"] != text:
            problems.append(f"search box holds {shown['q']!r}")
        if not shown["status"].endswith(f"for “{text}”"):
            problems.append(f"status reads {shown['status']!r}")
        problems += titles_problem(shown["titles"])
        for _n, name, payload in batch:
            found = problems + ([] if payload in shown["tags"] else ["the tag filter does not list it as text"])
            if found:
                failures[name] = found
            tried += 1
    assert_every_payload_inert(failures, tried)


def test_search_as_you_type_shows_every_payload_as_text(browser):
    browser.open("/")
    failures, tried = {}, 0
    for _, batch, text in batches():
        # As if typed; a `change` of the type filter runs the search at once, without the typing debounce.
        browser.js(
            "const q = document.getElementById('q'); q.value = arguments[0];"
            " q.dispatchEvent(new Event('input', {bubbles: true}));"
            " document.getElementById('filter-type').dispatchEvent(new Event('change', {bubbles: true}));",
            text,
        )
        browser.wait(
            lambda d, text=text: d.execute_script(
                "return document.getElementById('result-status').textContent.endsWith('for “' + arguments[0] + '”')"
                " && !document.querySelector('[data-results]').hasAttribute('aria-busy')",
                text,
            ),
            f"kb.js did not show results for {text!r}",
        )
        problems, titles = browser.inspect(f"return {texts('.result-title')}")
        problems += titles_problem(titles)
        for _n, name, _payload in batch:
            if problems:
                failures[name] = problems
            tried += 1
    assert browser.problems() == []  # anything that fired late, after the last answer
    assert_every_payload_inert(failures, tried)


SUGGESTION_SHOWN = (
    f"return {{text: document.getElementById('message').value, titles: {texts('.suggestion-title, .runner-up a')},"
    " status: document.querySelector('[data-suggest-status]').textContent}"
)


def test_server_rendered_suggest_shows_every_payload_as_text(browser):
    browser.open("/suggest")
    failures, tried = {}, 0
    for _, batch, text in batches():
        page = browser.driver.find_element("css selector", "html")
        # The form's own submit(), not kb.js's handler: the server renders the answer (and the form again).
        browser.js(
            "const form = document.querySelector('[data-suggest-form]'); form.elements.text.value = arguments[0];"
            " HTMLFormElement.prototype.submit.call(form);",
            text,
        )
        browser.wait(ec.staleness_of(page), "the suggest form did not post")
        browser.wait(lambda d: d.execute_script("return document.readyState") == "complete", "page did not load")
        problems, shown = browser.inspect(SUGGESTION_SHOWN)
        if shown["text"] != text:
            problems.append(f"message box holds {shown['text']!r}")
        problems += titles_problem(shown["titles"])
        for _n, name, _payload in batch:
            if problems:
                failures[name] = problems
            tried += 1
    assert_every_payload_inert(failures, tried)


def test_suggest_rendered_by_kb_js_shows_every_payload_as_text(browser):
    browser.open("/suggest")
    failures, tried = {}, 0
    for _, batch, text in batches():
        browser.js(
            "const form = document.querySelector('[data-suggest-form]'); form.elements.text.value = arguments[0];"
            " form.requestSubmit();",
            text,
        )
        browser.wait(
            lambda d: d.execute_script(
                "return !document.querySelector('[data-suggestion]').hasAttribute('aria-busy')"
                " && /ready|No confident/.test(document.querySelector('[data-suggest-status]').textContent)"
            ),
            f"kb.js did not show a suggestion for {text!r}",
        )
        problems, shown = browser.inspect(SUGGESTION_SHOWN)
        problems += titles_problem(shown["titles"])
        browser.js("document.querySelector('[data-suggest-status]').textContent = ''")  # the next wait needs a new answer
        for _n, name, _payload in batch:
            if problems:
                failures[name] = problems
            tried += 1
    assert browser.problems() == []
    assert_every_payload_inert(failures, tried)


def test_sanitised_html_of_bodies_lint_rejects_is_inert_in_the_browser(browser):
    rejected = [n for n, _, p in PAYLOADS if not is_lint_clean(p)]
    browser.open("/__xss__/sanitised")

    problems, sections = browser.inspect("return Array.from(document.querySelectorAll('main > section'), e => e.id)")

    assert problems == []
    assert sections == [f"payload-{n}" for n in rejected]
    assert len(rejected) >= 45


def test_reports_show_every_feedback_comment_and_query_as_text(browser, server):
    api = requests.Session()
    for k, _, text in batches():
        # Logged, then marked not helpful: a content gap whose example is the payloads' text.
        search = api.get(f"{server.url}/api/v1/search", params={"q": text, "mode": "keyword"}).json()
        feedback = {"article_id": article_id(k), "outcome": "not_helpful", "comment": f"{k}: {text}",
                    "request_id": search["request_id"]}
        assert api.post(f"{server.url}/api/v1/feedback", json=feedback).status_code == 201
    browser.open("/reports?since=7d")

    problems, shown = browser.inspect(
        f"return {{comments: {texts('.report-feedback li')}, teams: {texts('.report-table th[scope=row]')},"
        f" chart: {texts('svg text')}, gaps: {texts('.report-gaps li')}}}"
    )

    failures, tried = {}, 0
    comments = " ".join(shown["comments"])
    gaps = " ".join(shown["gaps"])
    for k, batch, text in batches():
        found = list(problems)
        if f"{k}: {redact(text)}”" not in comments:
            found.append("feedback comment not shown as text")
        if owner_of(k, text) not in shown["teams"] or owner_of(k, text) not in shown["chart"]:
            found.append("owner team not shown as text")
        for _n, name, _payload in batch:
            if found:
                failures[name] = found
            tried += 1
    # Gaps show at most five examples each, so not every batch: those shown must be whole texts.
    assert sum(f"“{redact(text)}”" in gaps for _, _, text in batches()) >= 3
    assert_every_payload_inert(failures, tried)
