"""The article contract: the parser, and every lint rule firing on a broken file and quiet on a good one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from indexer.article import Article, Finding, Step, article_id
from indexer.lint import lint_articles
from indexer.parse import parse_article, parse_text

from article_samples import POLICY, PROCEDURE, PROCEDURE_PATH, PRODUCT, write, write_tree
from conftest import finishes_within

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """A valid three-article tree at `articles/`; findings name paths relative to tmp_path."""
    monkeypatch.chdir(tmp_path)
    return write_tree(tmp_path / "articles")


def edited(old: str, new: str) -> str:
    assert old in PROCEDURE, old
    return PROCEDURE.replace(old, new, 1)


def parse(text: str, today: dt.date = TODAY) -> tuple[Article | None, list[Finding]]:
    return parse_text(text, "returns/start-a-return", PROCEDURE_PATH, today=today)


# --- the parser -------------------------------------------------------------------------------


def test_parser_reads_every_front_matter_key():
    article, findings = parse(PROCEDURE)

    assert findings == []
    assert article.id == "returns/start-a-return"
    assert article.path == PROCEDURE_PATH
    assert article.title == "Start a return"
    assert article.type == "procedure"
    assert article.summary == "Set up a return for an unwanted item and send the customer a label."
    assert article.owner == "Returns team"
    assert article.tags == ("returns", "label")
    assert article.audience == "public"
    assert article.policies == ("returns/returns-policy",)
    assert article.related == ("products/gift-cards",)
    assert article.updated == "2026-01-15"
    assert article.review_by == "2027-01-31"
    assert article.aliases == ("send something back",)


@pytest.mark.parametrize(
    "line",
    ["title: Start a return", 'title: "Start a return"', "title: 'Start a return'", "title: >-\n  Start a\n  return"],
    ids=["plain", "double-quoted", "single-quoted", "folded"],
)
def test_string_values_may_be_quoted_or_not(line):
    article, findings = parse(edited("title: Start a return", line))

    assert findings == []
    assert article.title == "Start a return"


@pytest.mark.parametrize(
    "line", ["updated: 2026-01-15", 'updated: "2026-01-15"', "updated: 2026-01-15T09:30:00"], ids=["date", "quoted", "datetime"]
)
def test_dates_are_stored_as_iso_dates(line):
    article, findings = parse(edited("updated: 2026-01-15", line))

    assert findings == []
    assert article.updated == "2026-01-15"


@pytest.mark.parametrize(
    "old, new, key",
    [("updated: 2026-01-15", "updated: !!timestamp hello", "updated"), ("tags: [returns, label]", "tags: !!bool x", "tags")],
)
def test_a_value_contradicting_its_explicit_tag_is_a_finding_not_a_crash(old, new, key):
    article, findings = parse(edited(old, new))

    assert article is None
    line = next(i for i, text in enumerate(edited(old, new).splitlines(), 1) if text.startswith(f"{key}:"))
    assert [(f.line, f.severity) for f in findings] == [(line, "error")]
    assert f"'{key}'" in findings[0].message


def test_lists_may_be_flow_or_block_style():
    article, findings = parse(edited("tags: [returns, label]", "tags:\n  - returns\n  - 'label'"))

    assert findings == []
    assert article.tags == ("returns", "label")


def test_optional_keys_default_to_internal_and_empty():
    article, findings = parse_text(POLICY, "returns/returns-policy", "p.md", today=TODAY)

    assert findings == []
    assert article.audience == "internal"
    assert not article.is_public
    assert (article.tags, article.policies, article.related, article.aliases) == ((), (), (), ())
    assert (article.updated, article.review_by) == (None, None)


def test_steps_keep_their_nested_details_in_order():
    text = edited(
        "1. Find the order in Order Hub.\n    - No receipt: use the receipt-less process.\n",
        "1. Find the order in Order Hub.\n    - By order number.\n    - Or by email and postcode.\n"
        "   Ask for the postcode last.\n",
    )
    article, findings = parse(text)

    assert findings == []
    assert article.steps == (
        Step(1, "Find the order in Order Hub.", ("By order number.", "Or by email and postcode. Ask for the postcode last.")),
        Step(2, "Check the return window.", ()),
        Step(3, "Create the return and send the label.", ()),
    )


def test_step_text_may_continue_on_an_indented_line():
    article, _ = parse(edited("2. Check the return window.\n", "2. Check the return\n   window.\n"))

    assert article.steps[1] == Step(2, "Check the return window.", ())


def test_text_after_the_steps_list_is_not_a_step():
    article, findings = parse(edited("3. Create the return and send the label.\n", "3. Create the return.\n\nThen close the case.\n"))

    assert findings == []
    assert [s.n for s in article.steps] == [1, 2, 3]
    assert article.section("steps").markdown.endswith("Then close the case.")


def test_parenthesised_step_numbers_are_steps():
    article, findings = parse(
        edited("1. Find the order in Order Hub.", "1) Find the order in Order Hub.").replace("2. Check", "2) Check").replace("3. Create", "3) Create")
    )

    assert findings == []
    assert [s.n for s in article.steps] == [1, 2, 3]


def test_sections_keep_heading_key_line_and_markdown():
    article, _ = parse(PROCEDURE + "\n## What you can offer\n- An exchange.\n\n## Follow-up\n- [ ] Close the case.\n")

    assert [(s.name, s.key, s.line) for s in article.sections] == [
        ("Steps", "steps", 17),
        ("Exceptions", "exceptions", 23),
        ("What you can offer", "what_you_can_offer", 26),
        ("Follow-up", "follow_up", 29),
    ]
    assert article.section("exceptions").markdown == "- A team leader may approve up to 14 days late."
    assert article.section("follow_up").markdown == "- [ ] Close the case."
    assert article.section("escalation") is None


def test_other_teams_headings_for_conventional_sections_are_recognised():
    text = PROCEDURE.replace("## Steps", "## Resolution steps").replace("## Exceptions", "## Who can approve")
    article, findings = parse(text + "\n## Escalation path\nThe Returns team.\n\n## Alternatives\n- An exchange.\n"
                              "\n## Follow up\n- Close the case.\n")

    assert [(s.name, s.key) for s in article.sections] == [
        ("Resolution steps", "steps"),
        ("Who can approve", "exceptions"),
        ("Escalation path", "escalation"),
        ("Alternatives", "what_you_can_offer"),
        ("Follow up", "follow_up"),
    ]
    assert [s.n for s in article.steps] == [1, 2, 3]
    assert [f.message for f in findings] == ["'## Resolution steps' read as '## Steps': name the section Steps"]


def test_a_synonym_never_displaces_the_conventional_heading():
    article, findings = parse(PROCEDURE + "\n## Procedure\n1. Something else.\n\n## Alternatives\n- A\n## Alternatives\n- B\n")

    assert findings == []
    assert [(s.name, s.key) for s in article.sections][-3:] == [
        ("Procedure", "procedure"), ("Alternatives", "what_you_can_offer"), ("Alternatives", "alternatives")
    ]
    assert [s.text for s in article.steps][0] == "Find the order in Order Hub."


def test_headings_inside_fenced_code_are_not_sections():
    article, findings = parse(PROCEDURE + "\n## Example\n```\n## not a heading\n```\n")

    assert findings == []
    assert [s.name for s in article.sections] == ["Steps", "Exceptions", "Example"]
    assert "## not a heading" in article.section("example").markdown


def test_intro_is_the_body_before_the_first_section():
    article, _ = parse(PROCEDURE)

    assert article.intro == "Use this when the item is not faulty."


def test_windows_line_endings_parse_the_same():
    article, findings = parse(PROCEDURE.replace("\n", "\r\n"))

    assert findings == []
    assert article == parse(PROCEDURE)[0]


def test_a_byte_order_mark_is_not_part_of_the_text():
    article, findings = parse("\ufeff" + PROCEDURE.replace("\n", "\r\n"))

    assert findings == []
    assert article == parse(PROCEDURE)[0]


@pytest.mark.parametrize("key, written, read", [
    ("tags", "tags: returns", ("returns",)),
    ("policies", "policies: returns/returns-policy", ("returns/returns-policy",)),
    ("aliases", "aliases: hi, can I send this back", ("hi, can I send this back",)),
])
def test_a_list_key_written_as_one_string_is_read_as_a_list(key, written, read):
    text = PROCEDURE.replace("aliases:\n  - send something back", "aliases: [send something back]")
    line = next(line for line in text.splitlines() if line.startswith(f"{key}:"))
    article, findings = parse(text.replace(line, written))

    assert getattr(article, key) == read
    assert [f.severity for f in findings] == ["warning"]


@pytest.mark.parametrize("written, key, read", [
    ("title: Returns: how to start one", "title", "Returns: how to start one"),  # a YAML error
    ("title: Order #1 problems", "title", "Order #1 problems"),  # YAML would keep "Order"
    ("title: 'Lost' parcels and what to do", "title", "'Lost' parcels and what to do"),
    ("title: [Draft] Start a return", "title", "[Draft] Start a return"),
    ("owner: Returns team #2", "owner", "Returns team #2"),
    ("aliases:\n  - my parcel: where is it", "aliases", ("my parcel: where is it",)),
])
def test_a_line_yaml_would_misread_is_read_as_written(written, key, read):
    line = next(line for line in PROCEDURE.splitlines() if line.startswith(f"{key}:"))
    text = PROCEDURE.replace("aliases:\n  - send something back", "aliases: [send something back]")
    article, findings = parse(text.replace(line if key != "aliases" else "aliases: [send something back]", written))

    assert getattr(article, key) == read
    assert [f.message for f in findings] == [
        f"'{key}' value read as written: quote a value that holds ': ' or ' #' or starts with a quote or bracket"
    ]


def test_a_comment_after_a_value_is_still_a_comment():
    article, findings = parse(PROCEDURE.replace("owner: Returns team", "owner: Returns team # EMEA"))

    assert (article.owner, findings) == ("Returns team", [])


@pytest.mark.parametrize("written, key, read", [
    ("summary: 'Don''t refund\nit yet'", "summary", "Don't refund it yet"),  # a quoted value continued
    ('summary: "Returns: \\"a\\" and\nmore"', "summary", 'Returns: "a" and more'),
    ("title: Start a return  # NOTE: rename", "title", "Start a return"),  # a comment, colon or not
    ("title: &t Start a return\nsummary: *t", "summary", "Start a return"),  # an anchor and its alias
])
def test_yaml_written_on_purpose_keeps_its_meaning(written, key, read):
    line = next(line for line in PROCEDURE.splitlines() if line.startswith(f"{written.split(':')[0]}:"))
    text = PROCEDURE.replace(line, written)
    if key == "summary" and "*t" in written:
        text = text.replace("\nsummary: Set up a return for an unwanted item and send the customer a label.", "", 1)
    article, findings = parse(text)

    assert (getattr(article, key), findings) == (read, [])


def test_a_misread_value_keeps_its_comment():
    article, findings = parse(PROCEDURE.replace("title: Start a return", "title: Returns: start one  # short"))

    assert article.title == "Returns: start one"
    assert [f.severity for f in findings] == ["warning"]


def test_only_a_procedure_reads_another_heading_as_its_steps():
    policy = POLICY + "\n## Instructions\n1. Ask.\n2. Check.\n\nThen, later:\n\n1. Log it.\n"
    article, findings = parse(policy)

    assert findings == [] and article.steps == ()
    assert article.sections[-1].key == "instructions"


def test_a_headings_closing_hashes_are_not_its_name():
    article, _ = parse(PROCEDURE + "\n## What you can offer ##\n- An exchange.\n\n## C#\n- A note.\n")

    assert [s.name for s in article.sections][-2:] == ["What you can offer", "C#"]
    assert article.section("what_you_can_offer") is not None


@pytest.mark.parametrize("edit", [
    ("title: Start a return", "title: a" + " " * 100_000 + "b"),
    ("  - send something back", "  - a" + " " * 50_000 + "b: c"),
    ("## Exceptions", "## a" + " " * 50_000 + "b"),
])
def test_long_runs_of_spaces_cannot_make_lint_hang(edit):
    with finishes_within(5):
        article, _ = parse(PROCEDURE.replace(*edit))
    assert article is not None


def test_front_matter_indented_with_tabs_is_read_as_spaces():
    article, findings = parse(PROCEDURE.replace("  - send something back", "\t- send something back"))

    assert article.aliases == ("send something back",)
    assert [(f.line, f.severity) for f in findings] == [(13, "warning")]


def test_lazy_numbering_is_steps_in_order():
    lazy = PROCEDURE.replace("2. Check the return window.", "1. Check the return window.").replace(
        "3. Create the return", "1. Create the return")
    article, findings = parse(lazy)

    assert findings == []
    assert article.steps == parse(PROCEDURE)[0].steps


@pytest.mark.parametrize("written, steps", [
    # Nested branches indented with a tab, or by two spaces under a bullet, are details.
    ("1. Check the order.\n\t- In store: use the card.\n2. Refund.\n", [("Check the order.", ("In store: use the card.",))]),
    ("1. Check the order.\n   - In store\n     - with a card\n2. Refund.\n", [("Check the order.", ("In store", "with a card"))]),
    # An unindented line straight after an item continues it (Markdown's lazy continuation).
    ("1. Check the order\nand its date.\n2. Refund.\n", [("Check the order and its date.", ())]),
    # A note between two steps belongs to the step before it; a closing note is no step.
    ("1. Check the order.\n\nNote: never\nguess.\n\n2. Refund.\n\nThat is all.\n",
     [("Check the order.", ("Note: never guess.",)), ("Refund.", ())]),
])
def test_steps_written_in_other_markdown_shapes_keep_every_word(written, steps):
    article, findings = parse(PROCEDURE.replace(
        "1. Find the order in Order Hub.\n    - No receipt: use the receipt-less process.\n2. Check the return window.\n"
        "3. Create the return and send the label.\n", written))

    assert findings == []
    assert [(s.text, s.details) for s in article.steps][: len(steps)] == steps
    assert len(article.steps) == 2


def test_lettered_branches_run_on_into_the_step_as_on_github_and_are_warned_about():
    article, findings = parse(PROCEDURE.replace(
        "1. Find the order in Order Hub.\n    - No receipt: use the receipt-less process.\n",
        "1. Find the order.\n   a. In store\n   b. Online\n"))

    assert article.steps[0].text == "Find the order. a. In store b. Online"
    assert [(f.line, f.severity, f.message.split(",")[0]) for f in findings] == [
        (19, "warning", "'a.' starts no list on GitHub"), (20, "warning", "'b.' starts no list on GitHub")]


def test_a_sub_list_indented_less_than_the_step_text_is_not_nested_and_is_warned_about():
    article, findings = parse(PROCEDURE.replace(
        "1. Find the order in Order Hub.\n    - No receipt: use the receipt-less process.\n",
        "1. Find the order.\n  - In store\n  - Online\n"))

    # GitHub shows a separate bullet list between steps 1 and 2: it reads as step 1's details.
    assert (article.steps[0].text, article.steps[0].details) == ("Find the order.", ("In store", "Online"))
    assert [(f.line, f.severity) for f in findings] == [(19, "warning")]
    assert "indent it 3 spaces" in findings[0].message


def test_lazy_numbering_then_a_number_out_of_place_is_an_error():
    broken = PROCEDURE.replace("2. Check the return window.", "1. Check the return window.")
    _, findings = parse(broken.replace("3. Create the return", "5. Create the return"))

    assert [str(f) for f in findings] == [
        f"{PROCEDURE_PATH}:21: error: step numbered 5 where 3 was expected: number steps in order"
    ]


def test_id_is_the_path_under_articles_without_md(tree):
    path = tree / "returns" / "start-a-return.md"

    article, findings = parse_article(path, tree, today=TODAY)

    assert article_id(path, tree) == "returns/start-a-return"
    assert article.id == "returns/start-a-return"
    assert article.path == PROCEDURE_PATH
    assert findings == []


def test_article_round_trips_through_a_dict():
    article, _ = parse(PROCEDURE)

    assert Article.from_dict(article.to_dict()) == article


# --- every lint rule: fires on a broken file, quiet on a good one -----------------------------

# (rule, edit that breaks PROCEDURE, line, severity, message, edit that stays quiet)
RULES = [
    (
        "yaml-syntax",
        ("audience: public", "audience: public: yes"),
        7, "error", "front matter is not valid YAML: mapping values are not allowed here",
        ("summary: Set up a return for an unwanted item and send the customer a label.", 'summary: "Set up: a return."'),
    ),
    (
        "text-value-yaml-would-misread",
        ("summary: Set up a return", "summary: Set up: a return"),
        4, "warning", "'summary' value read as written: quote a value that holds ': ' or ' #' or starts with a quote or bracket",
        ("summary: Set up a return for an unwanted item and send the customer a label.", "summary: 'Set up: a return.'"),
    ),
    (
        "yaml-unclosed-quote",
        ("title: Start a return", 'title: "Start a return'),
        2, "error", "front matter is not valid YAML: found unexpected end of stream",
        ("title: Start a return", 'title: "Start a return"'),
    ),
    (
        "impossible-date",
        ("updated: 2026-01-15", "updated: 2026-02-30"),
        10, "error", "'updated' is not a valid date: day is out of range for month",
        ("updated: 2026-01-15", "updated: 2024-02-29"),
    ),
    (
        "date-not-iso",
        ("updated: 2026-01-15", "updated: last spring"),
        10, "error", "'updated' must be an ISO date (YYYY-MM-DD), got 'last spring'",
        ("updated: 2026-01-15", "updated: '2026-01-15'"),
    ),
    (
        "missing-title", ("title: Start a return\n", ""), 2, "error", "missing required key 'title'",
        ("title: Start a return", 'title: "Start a return"'),
    ),
    (
        "missing-type", ("type: procedure\n", ""), 2, "error", "missing required key 'type'",
        ("type: procedure", "type: 'procedure'"),
    ),
    (
        "missing-summary", ("summary: Set up a return for an unwanted item and send the customer a label.\n", ""),
        2, "error", "missing required key 'summary'",
        ("summary: Set up a return for an unwanted item and send the customer a label.", "summary: 'Set up a return.'"),
    ),
    (
        "missing-owner", ("owner: Returns team\n", ""), 2, "error", "missing required key 'owner'",
        ("owner: Returns team\n", "owner: 'Returns team'\n"),
    ),
    (
        "empty-required", ("owner: Returns team", "owner:"), 5, "error", "'owner' must be a non-empty string",
        ("owner: Returns team", "owner: R"),
    ),
    (
        "unknown-type",
        ("type: procedure", "type: faq"),
        3, "error", "unknown type 'faq' (expected one of: policy, product, procedure)",
        ("type: procedure", "type: procedure  # one of policy, product, procedure"),
    ),
    (
        "unknown-audience",
        ("audience: public", "audience: everyone"),
        7, "error", "unknown audience 'everyone' (expected internal or public)",
        ("audience: public", "audience: internal"),
    ),
    (
        "list-key-not-a-list",
        ("tags: [returns, label]", "tags: {returns: label}"),
        6, "error", "'tags' must be a list of strings",
        ("tags: [returns, label]", "tags: [returns]"),
    ),
    (
        "policies-names-no-article",
        ("policies: [returns/returns-policy]", "policies: [returns/no-such-policy]"),
        8, "error", "'policies' names 'returns/no-such-policy', which is no article",
        ("policies: [returns/returns-policy]", "policies: []"),
    ),
    (
        "related-names-no-article",
        ("related: [products/gift-cards]", "related: [products/gift-card]"),
        9, "error", "'related' names 'products/gift-card', which is no article: did you mean 'products/gift-cards'?",
        ("related: [products/gift-cards]", "related: [products/gift-cards, returns/returns-policy]"),
    ),
    (
        "policies-names-a-non-policy",
        ("policies: [returns/returns-policy]", "policies: [products/gift-cards]"),
        8, "warning", "'policies' names 'products/gift-cards', which is a product, not a policy: it is shown as related",
        ("policies: [returns/returns-policy]", "policies:\n  - returns/returns-policy"),
    ),
    (
        "procedure-without-steps-section",
        ("## Steps\n", "## How to\n"),
        15, "error", "a procedure needs a '## Steps' section with a numbered list (1., 2., ...)",
        ("type: procedure", "type: policy"),
    ),
    (
        "steps-under-another-heading",
        ("## Steps\n", "## Procedure\n"),
        17, "warning", "'## Procedure' read as '## Steps': name the section Steps",
        ("## Steps\n", "## steps\n"),
    ),
    (
        "steps-not-numbered",
        ("1. Find the order in Order Hub.\n    - No receipt: use the receipt-less process.\n2. Check the return window.\n3. Create",
         "- Find the order in Order Hub.\n- Check the return window.\n- Create"),
        17, "error", "a procedure needs a '## Steps' section with a numbered list (1., 2., ...)",
        ("2. Check the return window.\n", "2. Check the return window.\n    1. Look at the delivery date.\n"),
    ),
    (
        "steps-out-of-order",
        ("3. Create the return", "4. Create the return"),
        21, "error", "step numbered 4 where 3 was expected: number steps in order",
        ("3. Create the return and send the label.\n", "3. Create the return.\n    1. Print the label.\n    3. Or send a QR code.\n"),
    ),
    (
        "steps-out-of-order-after-blank-line",
        ("## Steps\n1. Find the order in Order Hub.\n    - No receipt: use the receipt-less process.\n2. Check",
         "## Steps\n\n1. Find the order in Order Hub.\n    - No receipt: use the receipt-less process.\n3. Check"),
        21, "error", "step numbered 3 where 2 was expected: number steps in order",
        ("## Steps\n", "## Steps\n\n"),
    ),
    (
        "review-by-in-the-past",
        ("review_by: 2027-01-31", "review_by: 2026-05-31"),
        11, "warning", "review_by 2026-05-31 is in the past: the article is due for review",
        ("review_by: 2027-01-31", "review_by: 2026-06-01"),
    ),
    (
        "unknown-key",
        ("aliases:", "colour: blue\naliases:"),
        12, "warning", "unknown key 'colour' is ignored",
        ("aliases:\n  - send something back", "aliases: [send something back]"),
    ),
    (
        "type-in-capitals",
        ("type: procedure", "type: Procedure"),
        3, "warning", "'type: Procedure' read as 'procedure': write it in lower case",
        ("type: procedure", "type: procedure "),
    ),
    (
        "audience-in-capitals",
        ("audience: public", "audience: PUBLIC"),
        7, "warning", "'audience: PUBLIC' read as 'public': write it in lower case",
        ("audience: public", "audience: 'public'"),
    ),
    (
        "list-key-written-as-one-string",
        ("tags: [returns, label]", "tags: returns, label"),
        6, "warning", "'tags' should be a list: read as [returns, label]",
        ("tags: [returns, label]", "tags:\n  - returns\n  - label"),
    ),
    (
        "procedure-without-aliases",
        ("aliases:\n  - send something back\n", ""),
        3, "warning", "procedure has no 'aliases': list a few ways customers describe this problem, ranking leans on them",
        ("aliases:\n  - send something back\n", "aliases: [send something back, i want a refund]\n"),
    ),
]


@pytest.mark.parametrize(
    "broken, line, severity, message", [case[1:5] for case in RULES], ids=[case[0] for case in RULES]
)
def test_lint_rule_fires_on_the_offending_line(tree, broken, line, severity, message):
    write(tree, "returns/start-a-return", edited(*broken))

    result = lint_articles(tree, today=TODAY)

    assert [str(f) for f in result.findings] == [f"{PROCEDURE_PATH}:{line}: {severity}: {message}"]


@pytest.mark.parametrize("quiet", [case[5] for case in RULES], ids=[case[0] for case in RULES])
def test_lint_rule_is_quiet_on_a_good_article(tree, quiet):
    write(tree, "returns/start-a-return", edited(*quiet))

    result = lint_articles(tree, today=TODAY)

    assert result.findings == []
    assert len(result.articles) == 3


def test_good_tree_lints_clean(tree):
    result = lint_articles(tree, today=TODAY)

    assert result.findings == []
    assert sorted(a.id for a in result.articles) == ["products/gift-cards", "returns/returns-policy", "returns/start-a-return"]


def test_warnings_do_not_stop_the_article_from_building(tree):
    write(tree, "returns/start-a-return", edited("aliases:", "colour: blue\naliases:"))

    result = lint_articles(tree, today=TODAY)

    assert result.errors == []
    assert [f.severity for f in result.warnings] == ["warning"]
    assert "returns/start-a-return" in {a.id for a in result.articles}


# --- YAML: libyaml is only a faster way to PyYAML's answer ------------------------------------

# (case, edit of PROCEDURE that libyaml accepts but PyYAML rejects or reads differently, finding)
LIBYAML_DIFFERENCES = [
    (
        "question-mark-in-a-flow-list", ("tags: [returns, label]", "tags: [returns?, label]"),
        "6: error: front matter is not valid YAML: expected ',' or ']', but got '?'",
    ),
    (
        "tab-after-a-colon", ("owner: Returns team", "owner:\tReturns team"),
        "5: error: front matter is not valid YAML: found character '\\t' that cannot start any token",
    ),
    (
        "comment-against-a-block-indicator",
        ("summary: Set up a return for an unwanted item and send the customer a label.", "summary: |#\n  Set up a return."),
        "4: error: front matter is not valid YAML: expected chomping or indentation indicators, but found '#'",
    ),
    ("empty-tag", ("  - send something back", "  - !"), "12: error: 'aliases' must be a list of strings"),
]


@pytest.mark.parametrize("has_libyaml", [True, False], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(
    "edit, finding", [case[1:] for case in LIBYAML_DIFFERENCES], ids=[case[0] for case in LIBYAML_DIFFERENCES]
)
def test_front_matter_gets_the_same_finding_with_or_without_libyaml(monkeypatch, edit, finding, has_libyaml):
    if not has_libyaml:
        monkeypatch.setattr("indexer.frontmatter._LIBYAML_LOADER", None)

    article, findings = parse(edited(*edit))

    assert article is None
    assert [str(f) for f in findings] == [f"{PROCEDURE_PATH}:{finding}"]


def test_nesting_that_would_crash_libyaml_is_a_finding():
    # libyaml recurses in C without a limit: handed this, it would kill the process, not raise.
    text = "---\ntitle: " + "[" * 100_000 + "]" * 100_000 + "\n---\n"

    article, findings = parse(text)

    assert article is None
    assert [str(f) for f in findings] == [f"{PROCEDURE_PATH}:2: error: front matter is nested too deeply to be article metadata"]


UNSAFE_BODIES = [
    ("script", "<script>alert(1)</script>", "raw <script> is not allowed in an article body"),
    ("script-upper-case", "<SCRIPT src=https://evil.example/x.js></SCRIPT>", "raw <script> is not allowed in an article body"),
    ("iframe", '<iframe src="https://evil.example"></iframe>', "raw <iframe> is not allowed in an article body"),
    ("onerror", "<img src=x onerror=alert(1)>", "HTML event handler attributes (on...=) are not allowed in an article body"),
    ("onclick", 'Press <a href="#" onclick="steal()">here</a>.', "HTML event handler attributes (on...=) are not allowed in an article body"),
    ("handler-after-slash", "<img/src=x/onerror=alert(1)>", "HTML event handler attributes (on...=) are not allowed in an article body"),
    ("handler-after-quote", '<img src="x"onerror="alert(1)">', "HTML event handler attributes (on...=) are not allowed in an article body"),
    ("markdown-link", "[Track it](javascript:alert(1))", "'javascript:' URLs are not allowed in an article body"),
    ("mixed-case", "[Track it](JaVaScRiPt:alert(1))", "'javascript:' URLs are not allowed in an article body"),
    ("hex-entity", "[Track it](jav&#x61;script:alert(1))", "'javascript:' URLs are not allowed in an article body"),
    ("decimal-entity", '<a href="&#106;avascript:alert(1)">x</a>', "'javascript:' URLs are not allowed in an article body"),
    ("tab-entity", "[Track it](java&#9;script:alert(1))", "'javascript:' URLs are not allowed in an article body"),
    ("double-encoded", "[Track it](jav&amp;#x61;script:alert(1))", "'javascript:' URLs are not allowed in an article body"),
    ("vbscript", "[Track it](vbscript:msgbox(1))", "'vbscript:' URLs are not allowed in an article body"),
]


@pytest.mark.parametrize("body, message", [c[1:] for c in UNSAFE_BODIES], ids=[c[0] for c in UNSAFE_BODIES])
@pytest.mark.parametrize("where, line", [("intro", 15), ("step", 20)])
def test_unsafe_markup_in_the_body_is_an_error(tree, body, message, where, line):
    if where == "intro":
        text = edited("Use this when the item is not faulty.", body)
    else:
        text = edited("2. Check the return window.", f"2. Check the return window. {body}")
    write(tree, "returns/start-a-return", text)

    result = lint_articles(tree, today=TODAY)

    assert [str(f) for f in result.findings] == [f"{PROCEDURE_PATH}:{line}: error: {message}"]


def test_event_handler_in_a_tag_spanning_lines_is_an_error(tree):
    write(tree, "returns/start-a-return", edited("Use this when the item is not faulty.", "<img src=x\n  onerror=alert(1)>"))

    result = lint_articles(tree, today=TODAY)

    assert [str(f) for f in result.findings] == [
        f"{PROCEDURE_PATH}:16: error: HTML event handler attributes (on...=) are not allowed in an article body"
    ]


@pytest.mark.parametrize(
    "body",
    [
        "Ask them to turn on JavaScript in their browser, then reload.",
        "Click <b>on</b> the order, then <em>online returns</em>.",
        "See [the returns page](https://www.example.com/returns?online=1) or <https://example.com/onsale=1>.",
        "Email <mailto:returns@example.com> if the portal is down.",
        "Orders < 50 pounds pay delivery; ones > 50 do not.",
        "| Column | Value |\n|---|---|\n| script | none |",
    ],
    ids=["javascript-word", "on-in-text", "on-in-urls", "mailto", "comparison", "table"],
)
def test_ordinary_text_is_not_unsafe_markup(tree, body):
    write(tree, "returns/start-a-return", edited("Use this when the item is not faulty.", body))

    result = lint_articles(tree, today=TODAY)

    assert result.findings == []


@pytest.mark.parametrize("other", ["returns/Start-A-Return", "Returns/start-a-return"])
def test_duplicate_ids_differing_only_in_case_are_an_error(tree, other):
    write(tree, other, PROCEDURE)

    result = lint_articles(tree, today=TODAY)

    first, second = sorted([f"articles/{other}.md", PROCEDURE_PATH])
    assert [str(f) for f in result.errors] == [
        f"{second}:1: error: duplicate id '{second[len('articles/'):-3]}': {first} has the same id"
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("# Start a return\n\n1. Find the order.\n", "missing YAML front matter: the file must start with a line '---'"),
        ("---\ntitle: Start a return\n", "front matter is not closed: add a line '---' after it"),
    ],
    ids=["no-front-matter", "unclosed-front-matter"],
)
def test_missing_front_matter_is_an_error_on_line_1(tree, text, message):
    write(tree, "returns/start-a-return", text)

    result = lint_articles(tree, today=TODAY)

    assert [str(f) for f in result.findings] == [f"{PROCEDURE_PATH}:1: error: {message}"]
    assert "returns/start-a-return" not in {a.id for a in result.articles}


@pytest.mark.parametrize("front_matter", ["---\n---\n", "---\n- a list\n---\n"], ids=["empty", "list"])
def test_front_matter_must_be_a_mapping(tree, front_matter):
    write(tree, "returns/start-a-return", front_matter)

    result = lint_articles(tree, today=TODAY)

    assert [str(f) for f in result.findings] == [
        f"{PROCEDURE_PATH}:2: error: front matter must be a YAML mapping of keys to values"
    ]


def test_references_resolve_against_the_whole_tree_when_linting_one_file(tree):
    result = lint_articles(tree / "returns" / "start-a-return.md", today=TODAY)

    assert result.findings == []
    assert [a.id for a in result.articles] == ["returns/start-a-return"]


def test_one_file_naming_a_non_policy_elsewhere_in_the_tree_is_warned_about(tree):
    write(tree, "returns/start-a-return", edited("policies: [returns/returns-policy]", "policies: [products/gift-cards]"))

    result = lint_articles(tree / "returns" / "start-a-return.md", today=TODAY)

    assert [str(f) for f in result.findings] == [
        f"{PROCEDURE_PATH}:8: warning: 'policies' names 'products/gift-cards', which is a product, not a policy:"
        " it is shown as related"
    ]


def test_readme_and_hidden_folders_are_not_articles(tree):
    (tree / "README.md").write_text("# How to write articles\n")
    write(tree, ".drafts/unfinished", "no front matter")

    result = lint_articles(tree, today=TODAY)

    assert result.findings == []
    assert len(result.articles) == 3


def test_a_file_that_is_not_utf8_is_an_error_not_a_crash(tree):
    path = tree / "returns" / "start-a-return.md"
    path.write_bytes(PROCEDURE.replace("Use this when", "Caf\xe9: use this when").encode("latin-1"))

    result = lint_articles(tree, today=TODAY)

    assert [str(f) for f in result.findings] == [
        f"{PROCEDURE_PATH}:15: error: not UTF-8 (byte 0xe9): save the file as UTF-8"
    ]


def test_ids_are_relative_to_an_explicit_base_even_inside_a_folder_named_articles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "articles" / "larkspur"
    write(base, "returns/returns-policy", POLICY)
    write(base, "products/gift-cards", PRODUCT)
    write(base, "returns/start-a-return", PROCEDURE)

    result = lint_articles(base, base=base, today=TODAY)

    assert result.findings == []
    assert sorted(a.id for a in result.articles) == ["products/gift-cards", "returns/returns-policy", "returns/start-a-return"]


# --- the bundled knowledge base ---------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled():
    return lint_articles(ROOT / "articles")


def test_bundled_articles_lint_clean(bundled):
    assert [str(f) for f in bundled.findings] == []


@pytest.mark.parametrize("type_, at_least", [("procedure", 20), ("policy", 12), ("product", 10)])
def test_bundled_articles_meet_the_counts(bundled, type_, at_least):
    assert sum(a.type == type_ for a in bundled.articles) >= at_least


def test_every_bundled_procedure_has_steps_and_names_its_policies(bundled):
    procedures = [a for a in bundled.articles if a.type == "procedure"]

    assert all(len(a.steps) >= 2 for a in procedures), [a.id for a in procedures if len(a.steps) < 2]
    assert all(a.policies for a in procedures), [a.id for a in procedures if not a.policies]


def test_section_items_are_list_items_or_paragraphs():
    from indexer.article import section_items

    assert section_items("- A team leader may approve.\n- Over £500:\n  ask Payments.\n") == [
        "A team leader may approve.", "Over £500: ask Payments."]
    assert section_items("Send to the queue when\nthe carrier is late.\n\nBrief the team.") == [
        "Send to the queue when the carrier is late.", "Brief the team."]
    assert section_items("") == []
