"""render_markdown: nothing executable survives nh3, and ordinary Markdown does."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from indexer.parse import parse_text
from indexer.render import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES, render_article, render_markdown


class _Elements(HTMLParser):
    """Every start tag with its attributes (values entity-decoded, as a browser sees them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


def assert_inert(html: str) -> None:
    """Only allow-listed tags and attributes, and only http(s)/mailto or relative URLs."""
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs.items():
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, (tag, name, html)
            if name == "href":
                scheme = urlsplit("".join((value or "").split())).scheme.lower()
                assert scheme in URL_SCHEMES | {""}, (value, html)


PAYLOADS = [
    ("script", "<script>alert(1)</script>"),
    ("script-in-paragraph", "Hello <script>alert(1)</script> there"),
    ("iframe", '<iframe src="https://evil.example"></iframe>'),
    ("style-element", "<style>body { display: none }</style>Text"),
    ("style-attribute", '<p style="position:fixed;top:0">Text</p>'),
    ("onerror", "<img src=x onerror=alert(1)>"),
    ("onclick-on-allowed-tag", '<a href="https://example.com" onclick="steal()">link</a>'),
    ("ontoggle", "<details open ontoggle=alert(1)>x</details>"),
    ("markdown-javascript-link", "[Track it](javascript:alert(1))"),
    ("markdown-entity-link", "[Track it](jav&#x61;script:alert(1))"),
    ("html-entity-link", '<a href="&#106;avascript:alert(1)">x</a>'),
    ("html-tab-in-scheme", '<a href="java&#9;script:alert(1)">x</a>'),
    ("data-url", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"),
    ("vbscript", "[x](vbscript:msgbox(1))"),
    ("autolink-javascript", "<javascript:alert(1)>"),
    ("svg-onload", "<svg onload=alert(1)><circle r=1 /></svg>"),
    ("svg-script", "<svg><script>alert(1)</script></svg>"),
    ("svg-xlink", '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>'),
    ("math-xlink", '<math><mi xlink:href="javascript:alert(1)">x</mi></math>'),
    ("form", '<form action="https://evil.example"><input name=card></form>'),
    ("object-embed", '<object data="x.swf"></object><embed src="x.swf">'),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    ("comment-hidden-script", "<!-- --><script>alert(1)</script><!-- -->"),
    ("reference-link", "[x][evil]\n\n[evil]: javascript:alert(1)"),
]


@pytest.mark.parametrize("source", [p[1] for p in PAYLOADS], ids=[p[0] for p in PAYLOADS])
def test_payload_never_survives_rendering(source):
    html = render_markdown(source)

    assert_inert(html)
    for marker in ("<script", "<iframe", "<style", "<svg", "<math", "alert(1)", "javascript:", "onerror", "onclick"):
        assert marker not in html.lower(), (marker, html)


@pytest.mark.parametrize("source", [p[1] for p in PAYLOADS], ids=[p[0] for p in PAYLOADS])
def test_payload_inside_a_list_item_never_survives(source):
    html = render_markdown(f"1. First step {source}\n    - a detail {source}\n2. Second")

    assert_inert(html)
    assert "alert(1)" not in html


def test_link_text_survives_when_its_unsafe_href_is_removed():
    html = render_markdown("[Track it](javascript:alert(1))")

    assert elements(html) == [("p", {}), ("a", {"rel": "noopener noreferrer nofollow"})]
    assert "Track it" in html


def test_nested_bullets_survive_as_nested_lists():
    html = render_markdown("1. Find the order.\n    - By order number.\n    - By email.\n2. Refund it.")

    assert [tag for tag, _ in elements(html)] == ["ol", "li", "ul", "li", "li", "li"]
    assert "By order number." in html and "Refund it." in html


def test_links_keep_href_and_title_and_get_a_safe_rel():
    html = render_markdown('See [the portal](https://returns.example.com/start "Returns portal") or [mail us](mailto:help@example.com).')

    assert elements(html)[1:] == [
        ("a", {"href": "https://returns.example.com/start", "title": "Returns portal", "rel": "noopener noreferrer nofollow"}),
        ("a", {"href": "mailto:help@example.com", "rel": "noopener noreferrer nofollow"}),
    ]


def test_tables_survive_with_their_alignment():
    html = render_markdown("| Window | Days |\n|:--|--:|\n| Standard | 30 |\n| Plus | 60 |")

    assert [tag for tag, _ in elements(html)] == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td", "tr", "td", "td"]
    assert ("td", {"align": "right"}) in elements(html)
    assert "<td>Plus</td>" in html.replace(' align="left"', "")


def test_code_survives_and_markup_inside_it_is_text():
    html = render_markdown("Run `kb lint`:\n\n```\n<script>alert(1)</script>\n```")

    assert "<code>kb lint</code>" in html
    assert "<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;\n</code></pre>" in html
    assert_inert(html)


def test_emphasis_quotes_and_headings_survive():
    html = render_markdown("**Never** read out the *PIN*.\n\n> Quote\n\n### Detail")

    assert "<strong>Never</strong>" in html and "<em>PIN</em>" in html
    assert [tag for tag, _ in elements(html)] == ["p", "strong", "em", "blockquote", "p", "h3"]


def test_render_article_renders_the_intro_and_every_section_by_key():
    text = "---\ntitle: T\ntype: policy\nsummary: S.\nowner: O\n---\nIntro **here**.\n\n## What you can offer\n- An exchange.\n"
    article, findings = parse_text(text, "returns/t", "t.md")

    rendered = render_article(article)

    assert findings == []
    assert rendered == {
        "_intro": "<p>Intro <strong>here</strong>.</p>",
        "what_you_can_offer": "<ul>\n<li>An exchange.</li>\n</ul>",
    }
