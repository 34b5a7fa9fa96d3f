"""One Markdown truth: lint's view, the API's steps and the page's HTML agree on every list
shape GitHub renders, and the page shows each shape as GitHub does.

markdown-it-py (CommonMark, what GitHub's renderer implements) is the reference for what
GitHub shows; it is used only here, never by kb itself.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from indexer.chunking import plain_text
from indexer.markup import parse_markdown
from indexer.parse import parse_text
from indexer.render import render_markdown

from conftest import DATA_ARTICLES, build_into, make_app

HEAD = """---
title: Shape {name}
type: procedure
summary: A procedure whose steps are written in the {name} shape.
owner: Docs team
aliases:
  - shape {name}
---

## Steps
"""
HEAD_LINES = HEAD.count("\n")

# name: (the steps as written, the steps every view must read, the lines lint warns on)
SHAPES = {
    "four-space sub-list": (
        "1. Find the order.\n    - In store: use the card.\n    - Online: use the email.\n2. Refund it.\n",
        [("Find the order.", ("In store: use the card.", "Online: use the email.")), ("Refund it.", ())], [],
    ),
    "three-space sub-list": (
        "1. Find the order.\n   - In store: use the card.\n   - Online: use the email.\n2. Refund it.\n",
        [("Find the order.", ("In store: use the card.", "Online: use the email.")), ("Refund it.", ())], [],
    ),
    # Under "1. " GitHub nests only from column 3: two spaces make a list of its own between
    # the steps, which reads as the details of the step above it, and lint says how to nest it.
    "two-space sub-list": (
        "1. Find the order.\n  - In store: use the card.\n  - Online: use the email.\n2. Refund it.\n",
        [("Find the order.", ("In store: use the card.", "Online: use the email.")), ("Refund it.", ())], [2],
    ),
    "two-space sub-list under a bullet": (
        "1. Find the order.\n   - In store\n     - with the card\n   - Online\n2. Refund it.\n",
        [("Find the order.", ("In store", "with the card", "Online")), ("Refund it.", ())], [],
    ),
    "lazy continuation": (
        "1. Find the order\nand its date.\n   - In store\nwith the card.\n2. Refund it.\n",
        [("Find the order and its date.", ("In store with the card.",)), ("Refund it.", ())], [],
    ),
    # GitHub has no lettered lists: "a." lines run on into the step, and lint says so.
    "lettered branches": (
        "1. Find the order.\n   a. In store\n   b. Online\n2. Refund it.\n",
        [("Find the order. a. In store b. Online", ()), ("Refund it.", ())], [2, 3],
    ),
    "parenthesised numbers": (
        "1) Find the order.\n2) Refund it.\n",
        [("Find the order.", ()), ("Refund it.", ())], [],
    ),
    "note between steps": (
        "1. Find the order.\n\nNote: never\nguess.\n\n2. Refund it.\n\nThat is all.\n",
        [("Find the order.", ("Note: never guess.",)), ("Refund it.", ())], [],
    ),
    "loose list": (
        "1. Find the order.\n\n   Check the date too.\n\n2. Refund it.\n",
        [("Find the order. Check the date too.", ()), ("Refund it.", ())], [],
    ),
}


class _Shape(HTMLParser):
    """HTML reduced to its list structure and text: `<ol> <li> 'text' <ul> ...`; paragraphs
    inside items (a loose list) and whitespace do not count."""

    LISTS = ("ol", "ul", "li")

    def __init__(self) -> None:
        super().__init__()
        self.out: list[str] = []
        self.text: list[str] = []

    def flush(self) -> None:
        text = " ".join("".join(self.text).split())
        if text:
            self.out.append(repr(text))
        self.text = []

    def handle_starttag(self, tag, attrs):
        if tag in (*self.LISTS, "p"):
            self.flush()
        if tag in self.LISTS:
            start = dict(attrs).get("start")
            self.out.append(f"<{tag}{' start=' + start if tag == 'ol' and start else ''}>")

    def handle_endtag(self, tag):
        if tag in (*self.LISTS, "p"):
            self.flush()
        if tag in self.LISTS:
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        self.text.append(data)


def shape(html: str) -> str:
    parser = _Shape()
    parser.feed(html)
    parser.close()
    parser.flush()
    return " ".join(parser.out)


def github(markdown: str) -> str:
    return shape(MarkdownIt("commonmark").render(markdown))


def article(name: str) -> str:
    return HEAD.format(name=name) + SHAPES[name][0]


@pytest.mark.parametrize("name", SHAPES)
def test_the_page_shows_each_list_shape_as_github_does(name):
    written = SHAPES[name][0]

    assert shape(render_markdown(written)) == github(written)


@pytest.mark.parametrize("name", SHAPES)
def test_lint_and_the_steps_read_each_list_shape_as_the_page_shows_it(name):
    written, steps, warned = SHAPES[name]
    parsed, findings = parse_text(article(name), "shapes/s", "shapes/s.md")

    assert [(s.text, s.details) for s in parsed.steps] == steps
    assert [f.line - HEAD_LINES for f in findings] == warned and all(not f.is_error for f in findings)
    # Every step is an item of a top-level numbered list on the page, and every word of it shows.
    page = " ".join(re.sub(r"<[^>]+>", " ", MarkdownIt("commonmark").render(written)).split())
    for step in parsed.steps:
        assert plain_text(step.text) in page
        assert all(plain_text(d) in page for d in step.details)


def test_no_line_mark_reaches_the_html_even_inside_code():
    tree = parse_markdown("1. Run `kb\nlint` now\n   - and `this`\n")

    assert "\ue000" not in tree.html and "data-line" in tree.html
    assert "data-line" not in render_markdown("1. Run `kb\nlint` now\n")


def test_list_lines_inside_fenced_code_are_left_alone():
    written = "```\n1. not a step\n  - nor this\n```\n\n1. A step.\n"

    assert shape(render_markdown(written)) == github(written)
    assert [s.text for s in parse_text(HEAD.format(name="x") + written, "s/x", "s/x.md")[0].steps] == ["A step."]


@pytest.mark.slow
def test_the_api_steps_and_the_article_page_agree_on_every_shape(tmp_path, onnx_model):
    """Built and served for real: each shape's API steps are lint's, and the page's Steps HTML
    is GitHub's."""
    articles = tmp_path / "articles" / "shapes"
    articles.mkdir(parents=True)
    slugs = {name: re.sub(r"[^a-z0-9]+", "-", name) for name in SHAPES}
    for name, slug in slugs.items():
        (articles / f"{slug}.md").write_text(article(name), encoding="utf-8")
    shutil.copytree(DATA_ARTICLES / "returns", tmp_path / "articles" / "returns")
    build_into(tmp_path / "articles", tmp_path / "index", onnx_model)
    app = make_app(tmp_path / "index", tmp_path)
    client = app.test_client()
    for name, slug in slugs.items():
        written, steps, _ = SHAPES[name]
        page = client.get(f"/articles/shapes/{slug}").get_data(as_text=True)
        steps_html = re.search(r'<div class="prose steps-html"[^>]*>(.*?)</div>', page, re.S).group(1)
        assert shape(steps_html) == github(written), name
        answer = client.get(f"/api/v1/articles/shapes/{slug}").get_json()
        assert [(s["text"], tuple(s["details"])) for s in answer["steps"]] == steps, name
