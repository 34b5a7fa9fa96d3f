"""Every setting kb reads, with its default and help text, in one table.

Environment variables carry the prefix `KB_` (dropped in `app.config`) and are parsed as
JSON when they can be: `KB_RELOAD_INTERVAL_S=5` arrives as the int 5. README's settings
section lists every row (a test checks it). Nothing of kb is imported here at module level:
every other module may read the settings, so this one must sit at the bottom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

if TYPE_CHECKING:
    from flask import Config


class Setting(NamedTuple):
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("ARTICLES_DIR", "articles", "Folder of Markdown articles that `kb lint` and `kb index` read."),
    Setting("INDEX_DIR", "var/index", "Index root: `kb index` publishes builds here, the service reads the live one."),
    Setting(
        "DATABASE",
        "var/kb.sqlite3",
        "Where feedback, the query log, tokens and learned examples live: a SQLite file path (or "
        "`sqlite:///path`), or `postgresql://user:password@host:5432/db` for one database shared by several "
        "hosts (docs/deploy.md). Anything else stops kb at start with a message.",
    ),
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
        "to share one budget across gunicorn workers and hosts. If Redis is unreachable, each process counts "
        "in memory until it is back (logged).",
    ),
    Setting("LEARNING", "on", "`off` ignores learned examples when ranking."),
    Setting(
        "MULTILINGUAL",
        "on",
        "`on`: `kb index` also embeds every chunk with multilingual-e5-small, so messages in Tamil, Telugu, "
        "Persian and about 100 other languages find articles in any language (docs/languages.md). `off`: "
        "English only; a message in another language gets an answer that says its language is not covered.",
    ),
    Setting(
        "NO_MATCH_THRESHOLD",
        "",
        "Suggest score under which `no_confident_match` is set. Empty: the build's own threshold, which "
        "`kb index` fits from your learned examples or a bank of off-topic messages (docs/quality.md). If "
        "you have labelled messages, `kb eval --calibrate` prints the value that flags at most 5 % of "
        "answerable ones. `kb eval` follows the same setting.",
    ),
    Setting(
        "FRAME_ANCESTORS",
        "'self'",
        "CSP `frame-ancestors` sources allowed to embed the page, space-separated "
        "(e.g. `'self' https://helpdesk.example.com` for a helpdesk side panel; `'none'` forbids framing). "
        "Every origin in `CORS_ORIGINS` is added.",
    ),
    Setting(
        "CORS_ORIGINS",
        "",
        "Helpdesk origins that may call `/api/v1` from a browser (CORS), embed the page in an iframe and "
        "hand it a ticket by `postMessage` (docs/helpdesk.md): comma-separated exact origins such as "
        "`https://acme.zendesk.com,https://helpdesk.example.com`. Empty: none. `*` is refused.",
    ),
)


def defaults() -> dict[str, Any]:
    """Every setting's default, keyed by its name without the prefix (what `app.config` starts from)."""
    return {s.name: s.default for s in SETTINGS}


def from_env(overrides: Mapping[str, Any] | None = None) -> Config:
    """The settings as an app would see them, without an app: defaults, `KB_*` variables, then `overrides`.

    For commands that read the index or the database directly (`kb report`), so they need not
    build the whole web app to learn two settings.
    """
    from flask import Config

    settings = Config(".")
    settings.from_mapping(defaults())
    settings.from_prefixed_env("KB")
    if overrides:
        settings.from_mapping(overrides)
    return settings


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


def is_learning_on(value: Any) -> bool:
    """The KB_LEARNING setting: anything but off/false/0/no means learned examples count."""
    return str(value).lower() not in ("off", "false", "0", "no")


def is_multilingual(value: Any) -> bool:
    """The KB_MULTILINGUAL setting, checked: on or off. Raises ValueError naming it."""
    word = str(value).strip().lower()
    if word in ("on", "true", "1", "yes"):
        return True
    if word in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"KB_MULTILINGUAL must be on or off, not {value!r}")


def cors_origins(value: Any) -> tuple[str, ...]:
    """The KB_CORS_ORIGINS setting, checked: exact `scheme://host[:port]` origins, lowercased.

    Raises ValueError naming the first bad entry: `*` (any site could read answers with the
    agent's token), a path or query, a scheme other than http(s), or anything unparsable. A bad
    value must stop the service at start, not quietly open or close the helpdesk's panel.
    """
    from urllib.parse import urlsplit

    if isinstance(value, (list, tuple)):
        entries = [str(v) for v in value]
    else:
        entries = str(value or "").split(",")
    origins: list[str] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        if entry == "*" or "*" in entry:
            raise ValueError("KB_CORS_ORIGINS must list exact origins: '*' would let any site read kb's answers")
        try:
            parts = urlsplit(entry)
            port = parts.port  # raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError(f"KB_CORS_ORIGINS: {entry!r} is not an origin like https://helpdesk.example.com") from None
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username
            or parts.password
            or any(ch.isspace() or ch in ";'\"" for ch in entry)
        ):
            raise ValueError(
                f"KB_CORS_ORIGINS: {entry!r} is not an origin like https://helpdesk.example.com (scheme and host, "
                "optionally a port; no path, not even a trailing slash)"
            )
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
        # What a browser sends as `Origin` is compared byte for byte: `https://x.com:443` never matches.
        if origin != entry.lower() or port in ({"http": 80, "https": 443}[parts.scheme],):
            raise ValueError(f"KB_CORS_ORIGINS: {entry!r} is not written as a browser writes its origin")
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)
