"""Render article Markdown to sanitised HTML, once, at index time.

The allow-list sanitiser (nh3, the Rust `ammonia` library) is the only thing between an
author's Markdown and an agent's browser: `<script>`, `<iframe>`, `<style>`, event
handlers, SVG and any URL scheme other than http, https and mailto never survive it,
whatever the Markdown produced. `kb lint` rejects such markup first; this is the backstop.
"""

from __future__ import annotations

import nh3

from indexer.article import Article
from indexer.markup import parse_markdown

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitise(html: str) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Markdown -> sanitised HTML (raw HTML in the source is reduced to the allow-list); the same parse
    (`indexer.markup`) the steps and lint read."""
    return sanitise(parse_markdown(text).html)


def render_article(article: Article) -> dict[str, str]:
    """Sanitised HTML of the intro (`_intro`) and of each section, by section key."""
    rendered = {"_intro": render_markdown(article.intro)} if article.intro else {}
    for section in article.sections:
        rendered[section.key] = render_markdown(section.markdown)
    return rendered
