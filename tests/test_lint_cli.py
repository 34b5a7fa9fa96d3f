"""`kb lint`: exit codes, the `path:line: severity: message` format, --strict and --json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbserver.cli import main

from article_samples import POLICY, PROCEDURE, PROCEDURE_PATH, PRODUCT, write, write_tree

FINDING_RE = re.compile(r"^[^:\s]+\.md:\d+: (error|warning): \S.*$")


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    """A valid three-article tree at `articles/`, with the working directory above it."""
    monkeypatch.chdir(tmp_path)
    return write_tree(tmp_path / "articles")


def lint(*args: str):
    return CliRunner().invoke(main, ["lint", *args])


def test_clean_tree_exits_0_and_prints_only_the_summary(tree):
    result = lint("articles")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == "3 articles checked: 0 error(s), 0 warning(s)\n"


def test_lints_articles_in_the_working_directory_by_default(tree):
    write(tree, "returns/start-a-return", PROCEDURE.replace("type: procedure", "type: faq"))

    result = lint()

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{PROCEDURE_PATH}:3: error: unknown type 'faq' (expected one of: policy, product, procedure)"
    ]


def test_errors_exit_1_with_one_finding_per_problem_in_path_order(tree):
    write(tree, "returns/start-a-return", PROCEDURE.replace("audience: public", "audience: everyone"))
    write(tree, "products/gift-cards", PRODUCT.replace("owner: Payments team\n", ""))

    result = lint("articles")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "articles/products/gift-cards.md:2: error: missing required key 'owner'",
        f"{PROCEDURE_PATH}:7: error: unknown audience 'everyone' (expected internal or public)",
    ]
    assert result.stderr == "3 articles checked: 2 error(s), 0 warning(s)\n"


def test_every_output_line_is_path_line_severity_message(tree):
    write(tree, "returns/start-a-return", PROCEDURE.replace("review_by: 2027-01-31", "review_by: 2000-01-01\ncolour: blue"))
    write(tree, "returns/returns-policy", POLICY.replace("---\n## The rules", "---\n<script>alert(1)</script>\n## The rules"))

    result = lint("articles")

    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(FINDING_RE.match(line) for line in lines), lines
    assert [line.split(": ")[1] for line in lines] == ["error", "warning", "warning"]


@pytest.mark.parametrize(
    "args, exit_code", [((), 0), (("--strict",), 1)], ids=["warnings-pass", "strict-fails-on-warnings"]
)
def test_review_by_in_the_past_is_a_warning_that_fails_only_with_strict(tree, args, exit_code):
    write(tree, "returns/start-a-return", PROCEDURE.replace("review_by: 2027-01-31", "review_by: 2000-01-01"))

    result = lint(*args, "articles")

    assert result.exit_code == exit_code
    assert result.stdout.splitlines() == [
        f"{PROCEDURE_PATH}:11: warning: review_by 2000-01-01 is in the past: the article is due for review"
    ]
    assert result.stderr == "3 articles checked: 0 error(s), 1 warning(s)\n"


def test_strict_still_passes_a_clean_tree(tree):
    assert lint("--strict", "articles").exit_code == 0


def test_json_lists_every_finding_with_its_fields(tree):
    write(tree, "returns/start-a-return", PROCEDURE.replace("review_by: 2027-01-31", "review_by: 2000-01-01"))
    write(tree, "products/gift-cards", PRODUCT.replace("type: product", "type: gadget"))

    result = lint("--json", "articles")

    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "checked": 3,
        "articles": 2,
        "findings": [
            {
                "path": "articles/products/gift-cards.md",
                "line": 3,
                "severity": "error",
                "message": "unknown type 'gadget' (expected one of: policy, product, procedure)",
            },
            {
                "path": PROCEDURE_PATH,
                "line": 11,
                "severity": "warning",
                "message": "review_by 2000-01-01 is in the past: the article is due for review",
            },
        ],
    }


def test_json_on_a_clean_tree_exits_0_with_no_findings(tree):
    result = lint("--json", "articles")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"checked": 3, "articles": 3, "findings": []}


def test_one_file_resolves_references_against_the_whole_tree(tree):
    result = lint(PROCEDURE_PATH)

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == "1 articles checked: 0 error(s), 0 warning(s)\n"


@pytest.mark.parametrize(
    "line, severity, code, message",
    [
        ("policies: [returns/no-such-policy]", "error", 1, "'policies' names 'returns/no-such-policy', which is no article"),
        ("policies: [products/gift-cards]", "warning", 0,
         "'policies' names 'products/gift-cards', which is a product, not a policy: it is shown as related"),
    ],
    ids=["missing", "not-a-policy"],
)
def test_one_file_references_are_checked_against_the_whole_tree(tree, line, severity, code, message):
    write(tree, "returns/start-a-return", PROCEDURE.replace("policies: [returns/returns-policy]", line))

    result = lint(PROCEDURE_PATH)

    assert result.exit_code == code
    assert result.stdout.splitlines() == [f"{PROCEDURE_PATH}:8: {severity}: {message}"]


def test_one_area_is_checked_against_the_whole_tree(tree):
    result = lint("articles/returns")

    assert result.exit_code == 0, result.output
    assert result.stderr == "2 articles checked: 0 error(s), 0 warning(s)\n"


def test_a_path_that_does_not_exist_is_a_usage_error(tree):
    result = lint("articles/nope")

    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_one_pass_reports_every_finding_of_a_broken_file(tree):
    # A bad date used to hide the rest, a missing title the steps and ids, missing steps the related ids.
    broken = (
        PROCEDURE.replace("title: Start a return\n", "")
        .replace("updated: 2026-01-15", "updated: 2026-02-30")
        .replace("related: [products/gift-cards]", "related: [returns/returns-polcy]")
        .split("## Steps")[0]
    )
    write(tree, "returns/start-a-return", broken)

    result = lint("articles")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{PROCEDURE_PATH}:2: error: missing required key 'title'",
        f"{PROCEDURE_PATH}:8: error: 'related' names 'returns/returns-polcy', which is no article: "
        "did you mean 'returns/returns-policy'?",
        f"{PROCEDURE_PATH}:9: error: 'updated' is not a valid date: day is out of range for month",
        f"{PROCEDURE_PATH}:14: error: a procedure needs a '## Steps' section with a numbered list (1., 2., ...)",
    ]


def test_yaml_that_does_not_parse_still_has_its_body_checked(tree):
    write(tree, "returns/start-a-return", PROCEDURE.replace("tags: [returns, label]", "tags: [returns, label").replace(
        "## Exceptions", "<script>x</script>\n## Exceptions"))

    lines = lint("articles").stdout.splitlines()

    assert [line.split(": ")[1] for line in lines] == ["error", "error"]
    assert "front matter is not valid YAML" in lines[0] and "raw <script>" in lines[1]


@pytest.mark.parametrize("old, new, message", [
    ("type: procedure", "type: procedur",
     "3: error: unknown type 'procedur' (expected one of: policy, product, procedure): did you mean 'procedure'?"),
    ("audience: public", "audience: pubic",
     "7: error: unknown audience 'pubic' (expected internal or public): did you mean 'public'?"),
    ("related: [products/gift-cards]", "related: [gift-cards]",  # the right slug, its area left out
     "9: error: 'related' names 'gift-cards', which is no article: did you mean 'products/gift-cards'?"),
    ("owner: Returns team", "owner: Returns team\nsumary: x", "6: warning: unknown key 'sumary' is ignored: did you mean 'summary'?"),
])
def test_unknown_names_come_with_did_you_mean(tree, old, new, message):
    write(tree, "returns/start-a-return", PROCEDURE.replace(old, new))

    assert f"{PROCEDURE_PATH}:{message}" in lint("articles").stdout.splitlines()


def kb_new(*args: str):
    return CliRunner().invoke(main, ["new", *args])


@pytest.mark.parametrize("kind", ["procedure", "policy", "product"])
def test_new_writes_a_template_that_lints_clean_but_fails_strict_until_the_todos_are_done(tree, kind):
    result = kb_new("returns/damaged-in-transit", "--type", kind)
    path = "articles/returns/damaged-in-transit.md"

    assert result.exit_code == 0, result.output
    checked = lint(path)
    assert checked.exit_code == 0, checked.output
    warnings = checked.stdout.splitlines()
    assert warnings and all(line.endswith("warning: TODO left in the article: fill it in before publishing")
                            for line in warnings)
    assert lint("--strict", path).exit_code == 1
    text = Path(path).read_text(encoding="utf-8")
    filled = re.sub(r'"?TODO[^"\n]*"?', "Filled in by the author.", text.replace("[TODO]", "[returns]"))
    Path(path).write_text(filled, encoding="utf-8")
    assert lint("--strict", path).exit_code == 0, lint("--strict", path).output


def test_new_refuses_to_overwrite_an_article(tree):
    before = (tree / "returns/start-a-return.md").read_text(encoding="utf-8")

    result = kb_new("returns/start-a-return", "--type", "procedure")

    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert (tree / "returns/start-a-return.md").read_text(encoding="utf-8") == before


@pytest.mark.parametrize("bad", ["start-a-return", "Returns/Start", "returns/a b", "../etc/passwd", "a/b/c"])
def test_new_rejects_what_is_no_article_id(tree, bad):
    result = kb_new(bad, "--type", "policy")

    assert result.exit_code == 1 and "is no article id" in result.stderr
    assert not list(tree.parent.glob("**/*passwd*"))


def test_new_fills_in_the_title_and_owner_it_is_given(tree):
    kb_new("delivery/late-parcel", "--type", "procedure", "--title", "A parcel is late", "--owner", "Delivery team")

    parsed = lint("articles/delivery/late-parcel.md")
    text = (tree / "delivery/late-parcel.md").read_text(encoding="utf-8")
    assert 'title: "A parcel is late"' in text and 'owner: "Delivery team"' in text
    assert parsed.exit_code == 0
