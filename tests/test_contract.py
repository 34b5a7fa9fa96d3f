"""Each fact is written once, and the OpenAPI document is built from those facts.

Error codes are found where they are raised (every `ApiError(status, "code", ...)` and every
`text_param(value, "name")` family in kbserver/), so a new code cannot ship undocumented.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from indexer.article import TYPES
from kbserver.access.tokens import SCOPES
from kbserver.api.openapi import SPEC, document
from kbserver.errors import ERROR_CODES
from kbserver.store.db import MIGRATIONS
from kbserver.store.feedback import OUTCOMES
from kbserver.store.schema import feedback as feedback_table

ROOT = Path(__file__).resolve().parent.parent
TEXT_PARAM_CODES = ("missing_{}", "invalid_{}", "empty_{}", "{}_too_long")
# The feedback API checks a comment only when one was given and is not blank (an empty
# comment box is no comment), so these two of its family can never be raised.
UNREACHABLE = {"missing_comment", "empty_comment", "missing_note", "empty_note"}  # absent or blank: no comment, no note


def raised_codes() -> set[str]:
    """Every error code kbserver/ can raise, read from the source."""
    codes: set[str] = set()
    for path in sorted((ROOT / "kbserver").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            args = node.args
            if name in ("ApiError", "api_error") and len(args) >= 2:
                code = args[1]
                if isinstance(code, ast.Constant) and isinstance(code.value, str):
                    codes.add(code.value)
                else:
                    # Only text_param builds a code from its parameter's name (below), and the
                    # handlers in errors.py pass on the code an ApiError already carries.
                    assert path.name in ("service.py", "errors.py"), f"{path}:{node.lineno}: error code is not a literal"
            elif name == "text_param" and len(args) >= 2 and isinstance(args[1], ast.Constant):
                codes.update(template.format(args[1].value) for template in TEXT_PARAM_CODES)
    return codes


def test_every_raised_error_code_is_listed_once():
    assert len(ERROR_CODES) == len(set(ERROR_CODES))
    missing = raised_codes() - set(ERROR_CODES) - UNREACHABLE - {"internal"}  # internal: a 500, not a 4xx
    assert not missing, f"raised but not in errors.ERROR_CODES: {sorted(missing)}"


def test_every_listed_error_code_is_in_the_openapi_document(client):
    served = client.get("/api/v1/openapi.json").get_json()
    text = json.dumps(served)
    undocumented = [code for code in ERROR_CODES if not re.search(rf"\b{code}\b", text)]
    assert not undocumented, f"error codes missing from openapi.json: {undocumented}"


def test_openapi_limits_follow_the_apps_settings():
    doc = json.dumps(document({"MAX_TEXT_CHARS": 123, "MAX_LIMIT": 7}))
    assert '"maxLength": 123' in doc and '"maximum": 7' in doc
    assert "8000" not in doc and '"maximum": 50' not in doc
    assert "The 123-character limit" in doc


def test_openapi_document_served_is_built_from_the_apps_config(app, client):
    assert client.get("/api/v1/openapi.json").get_json() == json.loads(json.dumps(document(app.config)))
    assert document() == SPEC


def test_enums_in_the_document_are_the_codes_own():
    doc = json.dumps(SPEC)
    assert json.dumps(list(TYPES)) in doc
    assert json.dumps(list(OUTCOMES)) in doc


@pytest.mark.parametrize("where", ["revision r1", "schema"])
def test_migration_check_spells_the_same_outcomes(where):
    """Revision r1 is history and is never edited; it and the head schema must still agree with OUTCOMES."""
    if where == "schema":
        text = " ".join(str(c.sqltext) for c in feedback_table.constraints if hasattr(c, "sqltext"))
    else:
        text = (MIGRATIONS / "versions" / "r1_first_tables.py").read_text(encoding="utf-8")
    listed = re.search(r"outcome IN \(([^)]*)\)", text).group(1)
    assert tuple(v.strip().strip("'") for v in listed.split(",")) == OUTCOMES


@pytest.mark.parametrize("scope", SCOPES)
def test_every_scope_is_documented(scope):
    assert scope in (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
