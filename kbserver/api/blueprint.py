"""The one `api` blueprint; search.py, feedback.py, reports.py and openapi.py add its routes."""

from __future__ import annotations

from flask import Blueprint

from kbserver import errors

bp = Blueprint("api", __name__)
errors.register(bp)
