"""Every setting kb reads, with its default and help text, in one table.

Environment variables carry the prefix `KB_` (dropped in `app.config`) and are parsed as
JSON when they can be: `KB_RELOAD_INTERVAL_S=5` arrives as the int 5. README's settings
section lists every row (a test checks it).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Setting(NamedTuple):
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("ARTICLES_DIR", "articles", "Folder of Markdown articles that `kb lint` and `kb index` read."),
    Setting("INDEX_DIR", "var/index", "Index root: `kb index` publishes builds here, the service reads the live one."),
    Setting("DATABASE", "var/kb.sqlite3", "SQLite file for feedback, the query log, tokens and learned examples."),
    Setting("RELOAD_INTERVAL_S", 2.0, "How often (seconds) the service looks for a newly published index."),
    Setting("INFERENCE_THREADS", 1, "Threads the encoder may use per process. Keep 1 per gunicorn worker."),
    Setting(
        "QUERY_ENCODER",
        "fp32",
        "`int8` embeds queries with a per-channel int8 copy of the model, made from the index's export on "
        "first use: 1.6–1.7× faster, suggest hit@1 within a point of `fp32` (docs/benchmarks.md). "
        "Indexes stay fp32. `kb eval` follows the same setting.",
    ),
    Setting("MAX_CONTENT_LENGTH", 65536, "Largest request body in bytes; larger bodies get 413."),
    Setting(
        "MAX_TEXT_CHARS",
        8000,
        "Longest `text` (suggest) or `q` (search) accepted, in characters. Suggest counts the customer's own "
        "words, without a quoted email thread, signature or disclaimer.",
    ),
    Setting("MAX_LIMIT", 50, "Largest `limit` a search or suggest request may ask for."),
    Setting(
        "ANONYMOUS_SCOPES",
        "search,suggest,feedback,reports,internal",
        "Scopes of requests without a token. The default trusts everyone who can reach the "
        "service (one team's network); beyond that set it to `search,suggest` or empty.",
    ),
    Setting("RATE_LIMIT", "600 per minute", "Per-token (or per-address) request budget; excess gets 429."),
    Setting(
        "RATE_LIMIT_STORAGE",
        "memory://",
        "Where rate-limit counters live. `memory://` is per worker process; use e.g. `redis://host:6379` "
        "to share one budget across gunicorn workers.",
    ),
    Setting("LEARNING", "on", "`off` ignores learned examples when ranking."),
    Setting(
        "NO_MATCH_THRESHOLD",
        "",
        "Suggest score under which `no_confident_match` is set. Empty: the value calibrated on the bundled "
        "articles (docs/quality.md). For your own articles, `kb eval --calibrate` on your labelled messages "
        "prints the value that flags at most 5 % of answerable ones. `kb eval` follows the same setting.",
    ),
    Setting(
        "FRAME_ANCESTORS",
        "'self'",
        "CSP `frame-ancestors` sources allowed to embed the page, space-separated "
        "(e.g. `'self' https://helpdesk.example.com` for a helpdesk side panel; `'none'` forbids framing).",
    ),
)


def defaults() -> dict[str, Any]:
    return {s.name: s.default for s in SETTINGS}


def query_encoder(value: Any) -> str:
    """The KB_QUERY_ENCODER setting, checked: `fp32` or `int8`. Raises ValueError naming it."""
    from indexer.embedding import PRECISIONS

    precision = str(value).strip().lower()
    if precision not in PRECISIONS:
        raise ValueError(f"KB_QUERY_ENCODER must be one of {', '.join(PRECISIONS)}, not {value!r}")
    return precision


def no_match_threshold(value: Any) -> float | None:
    """The KB_NO_MATCH_THRESHOLD setting, checked: None (empty) for the calibrated default, else a score."""
    if value is None or str(value).strip() == "":
        return None
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"KB_NO_MATCH_THRESHOLD must be a suggest score such as 0.55, not {value!r}") from None
    if not 0.0 < threshold < 2.0:
        raise ValueError(f"KB_NO_MATCH_THRESHOLD must be a suggest score between 0 and 2, not {value!r}")
    return threshold


def rank_params(learning: Any = "on", no_match: Any = None):
    """Ranking parameters from the KB_LEARNING and KB_NO_MATCH_THRESHOLD settings (the service's and `kb eval`'s)."""
    from kbserver.retrieval.scoring import RankParams

    use_examples = str(learning).lower() not in ("off", "false", "0", "no")
    threshold = no_match_threshold(no_match)
    if threshold is None:
        return RankParams(use_examples=use_examples)
    return RankParams(use_examples=use_examples, no_match_threshold=threshold)
