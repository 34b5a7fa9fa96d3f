"""Fuzzing: schemathesis against the OpenAPI document, hypothesis on the parsers (issue 9).

schemathesis generates valid and invalid requests for every operation in
/api/v1/openapi.json (derandomised, a bounded number per operation) and checks each answer:
no 5xx, a documented status code, a body that matches its schema, the right content type
and `Allow` on a 405, invalid input rejected and valid input accepted. The hypothesis tests
throw arbitrary text at the code that reads untrusted text: the query cleaner, the keyword
path and the article parser.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections import Counter

import numpy as np
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from indexer.article import Finding
from indexer.parse import parse_text
from kbserver.api.openapi import SPEC
from kbserver.retrieval.reader import open_snapshot
from kbserver.retrieval.scoring import clean_query, rank

from conftest import make_app

pytestmark = pytest.mark.slow  # fuzzing: hundreds of generated inputs per test

MAX_EXAMPLES = 30

# A body over KB_MAX_CONTENT_LENGTH is refused with 413 before it is read: that is a rejection too.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
            }
        }
    }
)
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(SPEC)), config=CONFIG)


@pytest.fixture(scope="module")
def fuzz_app(kb_index, tmp_path_factory):
    """The app over the test index, counting the answers it gives (printed at the end with -s)."""
    app = make_app(kb_index, tmp_path_factory.mktemp("fuzz"))
    statuses: Counter = Counter()
    wsgi = app.wsgi_app

    def counting(environ, start_response):
        def start(status, headers, exc_info=None):
            statuses[status.split()[0]] += 1
            return start_response(status, headers, exc_info)

        return wsgi(environ, start)

    app.wsgi_app = counting
    yield app
    print(f"\nschemathesis: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")


def test_fuzzed_document_is_the_one_served(fuzz_app):
    assert fuzz_app.test_client().get("/api/v1/openapi.json").get_json() == json.loads(json.dumps(SPEC))


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_every_request_as_documented(case, fuzz_app):
    # `team` must name an owner of an article the caller may see, so a schema-valid but unknown
    # team is rightly refused with 400 invalid_team: don't ask for it to be accepted.
    excluded = [positive_data_acceptance] if case.query and case.query.get("team") else []
    case.call_and_validate(app=fuzz_app, excluded_checks=excluded)


# ---------------------------------------------------------------------------- the query cleaner

PROPERTY_SETTINGS = settings(max_examples=200, derandomize=True, deadline=None)
# Query-syntax and Unicode edge cases next to arbitrary text.
WORDS = st.sampled_from(
    ["refund", "retrun", "AND", "OR", "NOT", "*", "?", "title:refund", '"', "(", ")", "~2", "^3", "[a TO z]",
     "\x00", "\u200b", "\u202e", "ß", "İ", "ﬁ", "🙂", "e\u0301", "hi,", "Thanks!", "LK-4829133", "a@b.co",
     "https://x.example/a?b=c", "07700 900123", "\n", "\t"]
)
TEXTS = st.one_of(st.text(), st.lists(WORDS | st.text(max_size=10), max_size=20).map(" ".join))


@PROPERTY_SETTINGS
@given(TEXTS)
def test_clean_query_never_raises_or_returns_control_characters(text):
    cleaned = clean_query(text)

    assert isinstance(cleaned, str)
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in cleaned), repr(cleaned)
    assert cleaned == cleaned.strip() and "  " not in cleaned


# ---------------------------------------------------------------------------- the keyword path


@pytest.fixture(scope="module")
def snapshot(kb_index):
    return open_snapshot(kb_index)


@PROPERTY_SETTINGS
@given(text=TEXTS, allow_internal=st.booleans())
def test_keyword_path_never_raises_on_any_text(snapshot, text, allow_internal):
    view = snapshot.view(allow_internal)

    scores = view.keyword_scores(view.analyse(text))
    ranked = rank(view, None, text, mode="keyword")
    correction = view.did_you_mean(text)
    snippet = view.highlight("Check the refund status in Order Hub", text)

    assert scores.shape == (len(snapshot.chunks),) and np.all(np.isfinite(scores)) and np.all(scores >= 0)
    assert all(view.get(r.article.id) is not None for r in ranked)
    assert correction is None or isinstance(correction, str)
    assert "<script" not in snippet


# ---------------------------------------------------------------------------- the article parser

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30), st.dates(),
    st.datetimes(),
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(
    ["title", "type", "summary", "owner", "tags", "audience", "policies", "related", "updated", "review_by", "aliases"]
) | st.text(max_size=8)
BODY_LINES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        ["## Steps", "1. Do this", "2. Then that", "3) Skip", "    - a detail", "   more", "## Exceptions", "## ",
         "```", "~~~", "<script>x</script>", "&#106;avascript:x", '<a href="x" onclick=1>', "<img/onerror=1>", "---",
         "# Title", "| a | b |", "\t1. tabbed"]
    ),
)
RAW_FRONT_MATTER = st.one_of(
    st.text(max_size=200),
    st.integers(0, 60).map(lambda n: "title: " + "[" * n + "]" * n),
    st.sampled_from(["? [a, b]\n: c", "title: !!python/object:os.system x", "a: &x [1]\nb: *x", "updated: 2026-02-30",
                     "title: \x00", "<<: {a: 1}", "tags: !!set {a, b}", "- a\n- b", "title: 'unclosed"]),
)


def assert_findings(result) -> None:
    article, findings = result
    assert all(isinstance(f, Finding) and f.line >= 1 for f in findings)
    assert article is not None or any(f.is_error for f in findings)


@PROPERTY_SETTINGS
@given(meta=st.dictionaries(KEYS, VALUES, max_size=12), body=st.lists(BODY_LINES, max_size=20).map("\n".join))
def test_article_parser_turns_any_front_matter_and_body_into_findings(meta, body):
    try:
        front = yaml.safe_dump(meta, allow_unicode=True)
    except yaml.YAMLError:
        front = json.dumps({str(k): str(v) for k, v in meta.items()})
    assert_findings(parse_text(f"---\n{front}---\n{body}", "area/slug", "area/slug.md", today=dt.date(2026, 1, 1)))


@PROPERTY_SETTINGS
@given(front=RAW_FRONT_MATTER, body=st.text(max_size=300))
def test_article_parser_turns_any_text_into_findings(front, body):
    for text in (front, f"---\n{front}", f"---\n{front}\n---\n{body}", f"\ufeff---\n{front}\n---\n"):
        assert_findings(parse_text(text, "area/slug", "area/slug.md"))


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")])
def test_deeply_nested_front_matter_is_a_finding_not_a_crash(opening, closing):
    # PyYAML composes recursively; this used to escape as RecursionError and crash `kb lint`.
    text = "---\ntitle: " + opening * 5000 + closing * 5000 + "\n---\n"

    article, findings = parse_text(text, "area/slug", "area/slug.md")

    assert article is None
    assert [(f.line, f.message) for f in findings] == [(2, "front matter is nested too deeply to be article metadata")]
