"""Every setting kb reads, with its default and help text, in one table.

Environment variables carry the prefix `KB_` (dropped in `app.config`) and are parsed as
JSON when they can be: `KB_RELOAD_INTERVAL_S=5` arrives as the int 5. README's settings
section lists every row (a test checks it). Nothing of kb is imported here at module level:
every other module may read the settings, so this one must sit at the bottom.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple

from gunicorn.errors import AppImportError as _AppLoadError

if TYPE_CHECKING:
    from flask import Config
    from sqlalchemy import URL


# Every scope a token may carry; the API's routes, the OpenAPI document and KB_ANONYMOUS_SCOPES
# name only these (kbserver/access/tokens.py issues them; here so KB_ANONYMOUS_SCOPES is checked at start).
# `author` reads the author's preview and lint results; `admin` manages tokens and reads the
# settings; `delegate` lets a helpdesk's server start short sessions for its agents (docs/auth.md).
SCOPES = ("search", "suggest", "feedback", "reports", "internal", "author", "admin", "delegate")
# What each role may do (docs/auth.md); a signed-in person holds the union of their roles' scopes.
ROLES: dict[str, tuple[str, ...]] = {
    "agent": ("search", "suggest", "internal", "feedback"),
    "author": ("search", "suggest", "internal", "feedback", "author"),
    "lead": ("search", "suggest", "internal", "feedback", "reports"),
    "admin": ("search", "suggest", "internal", "feedback", "reports", "author", "admin"),
}


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
        "search,suggest,feedback,reports,internal,author",
        "Scopes of requests without a token or a sign-in. The default trusts everyone who can reach the "
        "service (one team's laptop or network); with sign-in (docs/auth.md) set it empty, or "
        "`search,suggest` for public articles only. `admin` and `delegate` are refused here.",
    ),
    Setting(
        "SECRET_KEY",
        "",
        "At least 32 random characters, the same on every host: signs the short sign-in round trip "
        "and the pseudonymous ids. Needed when `OIDC_ISSUER` or `PERSON_ID=pseudonym` is set; "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` makes one.",
    ),
    Setting(
        "OIDC_ISSUER",
        "",
        "Single sign-on: your OpenID Connect provider's issuer URL (Okta, Entra ID, Google, Keycloak...; "
        "kb reads `/.well-known/openid-configuration` under it). Empty: no single sign-on. docs/auth.md.",
    ),
    Setting("OIDC_CLIENT_ID", "", "kb's client id at the provider (needed with `OIDC_ISSUER`)."),
    Setting("OIDC_CLIENT_SECRET", "", "kb's client secret at the provider (empty for a public client; PKCE is always used)."),
    Setting("OIDC_SCOPES", "openid email profile", "Scopes kb asks the provider for; add `groups` if yours needs it."),
    Setting("OIDC_GROUPS_CLAIM", "groups", "The ID token (or userinfo) claim that lists the person's groups."),
    Setting(
        "ROLE_GROUPS",
        "",
        "Groups that give roles: `lead=support-leads,author=kb-authors,admin=it-admins|kb-admins` "
        "(role=group, several groups joined by `|`). Roles: agent, author, lead, admin (docs/auth.md).",
    ),
    Setting("DEFAULT_ROLE", "agent", "Role of every signed-in person, whatever their groups; empty: only `ROLE_GROUPS` give roles."),
    Setting(
        "PROXY_USER_HEADER",
        "",
        "Behind an authenticating proxy: the header that names the signed-in person (e.g. "
        "`X-Forwarded-Email`), believed only from `TRUSTED_PROXIES`. Empty: off.",
    ),
    Setting("PROXY_GROUPS_HEADER", "", "The proxy's header listing the person's groups, comma-separated (optional)."),
    Setting(
        "TRUSTED_PROXIES",
        "",
        "Addresses (or CIDR networks) of the proxies whose `PROXY_USER_HEADER` kb believes, comma-separated. "
        "From any other address the header is ignored and logged.",
    ),
    Setting("SESSION_HOURS", 12, "How long a sign-in (browser or side panel) lasts, in hours."),
    Setting(
        "COOKIE_SECURE",
        "auto",
        "`on`: the sign-in cookie is sent over HTTPS only (set it when kb is behind HTTPS); `off`: also "
        "over plain HTTP; `auto`: `on` when the request came over HTTPS.",
    ),
    Setting(
        "PERSON_ID",
        "email",
        "What feedback, handled marks and the query log record for a signed-in person: `email`, or "
        "`pseudonym` (a stable id such as `p-3f9c21d0a7`, from `SECRET_KEY`, for teams that prefer it).",
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

    For commands that read the index or the database directly (`kb report`, `kb eval`), so they
    need not build the whole web app to learn two settings. Every setting is checked
    (`validate`): raises SettingError for the first bad one.
    """
    from flask import Config

    settings = Config(".")
    load(settings, overrides)
    return settings


def load(settings: Config, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill `settings` (an app's config) with the defaults, the `KB_*` variables, then `overrides`.

    Raises SettingError for the first bad setting: the environment's values are checked before
    `overrides` replace them too, so a bad KB_INDEX_DIR is refused even where `--index` (which
    click fills from it) wins.
    """
    settings.from_mapping(defaults())
    settings.from_prefixed_env("KB")
    validate(settings)
    if overrides:
        settings.from_mapping(overrides)
        validate(settings)


class SettingError(_AppLoadError, ValueError):
    """A `KB_` setting kb cannot use. Its message is the whole story in one line: the setting,
    what it expects and the value (with any password masked).

    It is gunicorn's AppImportError too, so a gunicorn worker whose `create_app()` refuses a
    setting prints this one line and exits with "App failed to load", and the master stops,
    instead of logging a traceback per worker and booting them again forever.
    """


def shown(value: Any) -> str:
    """`value` as a message may quote it: repr'd, with the password of any `scheme://user:pass@` masked."""
    return repr(_PASSWORD_RE.sub(r"\1***@", str(value)) if isinstance(value, str) else value)


_PASSWORD_RE = re.compile(r"(//[^/@:\s]*:)[^/@\s]*@")


def query_encoder(value: Any) -> str:
    """The KB_QUERY_ENCODER setting, checked: `fp32` or `int8`. Raises SettingError naming it."""
    from indexer.embedding import PRECISIONS

    precision = str(value).strip().lower()
    if precision not in PRECISIONS:
        raise SettingError(f"KB_QUERY_ENCODER must be one of {', '.join(PRECISIONS)}, not {shown(value)}")
    return precision


def no_match_threshold(value: Any) -> float | None:
    """The KB_NO_MATCH_THRESHOLD setting, checked: None (empty) for the calibrated default, else a score."""
    if value is None or str(value).strip() == "":
        return None
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise SettingError(f"KB_NO_MATCH_THRESHOLD must be a suggest score such as 0.55, not {shown(value)}") from None
    if isinstance(value, bool) or not 0.0 < threshold < 2.0:
        raise SettingError(f"KB_NO_MATCH_THRESHOLD must be a suggest score between 0 and 2, not {shown(value)}")
    return threshold


def _on_off(name: str, value: Any) -> bool:
    word = str(value).strip().lower()
    if word in ("on", "true", "1", "yes"):
        return True
    if word in ("off", "false", "0", "no"):
        return False
    raise SettingError(f"KB_{name} must be on or off, not {shown(value)}")


def is_learning_on(value: Any) -> bool:
    """The KB_LEARNING setting, checked: on or off. Raises SettingError naming it."""
    return _on_off("LEARNING", value)


def is_multilingual(value: Any) -> bool:
    """The KB_MULTILINGUAL setting, checked: on or off. Raises SettingError naming it."""
    return _on_off("MULTILINGUAL", value)


def cors_origins(value: Any) -> tuple[str, ...]:
    """The KB_CORS_ORIGINS setting, checked: exact `scheme://host[:port]` origins, lowercased.

    Raises SettingError naming the first bad entry: `*` (any site could read answers with the
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
            raise SettingError("KB_CORS_ORIGINS must list exact origins: '*' would let any site read kb's answers")
        try:
            parts = urlsplit(entry)
            port = parts.port  # raises ValueError for a port that is not a number
        except ValueError:
            raise SettingError(f"KB_CORS_ORIGINS: {shown(entry)} is not an origin like https://helpdesk.example.com") from None
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
            raise SettingError(
                f"KB_CORS_ORIGINS: {shown(entry)} is not an origin like https://helpdesk.example.com (scheme and host, "
                "optionally a port; no path, not even a trailing slash)"
            )
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
        # What a browser sends as `Origin` is compared byte for byte: `https://x.com:443` never matches.
        if origin != entry.lower() or port in ({"http": 80, "https": 443}[parts.scheme],):
            raise SettingError(f"KB_CORS_ORIGINS: {shown(entry)} is not written as a browser writes its origin")
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


# ---------------------------------------------------------------------------- the checks


class BadDatabaseSetting(SettingError):
    """KB_DATABASE is neither a file path, a sqlite:/// URL nor a postgresql:// URL."""


_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def database_url(value: Any) -> URL:
    """The SQLAlchemy URL `KB_DATABASE` names. Raises BadDatabaseSetting for anything else.

    A path (no scheme) or `sqlite:///path` is a SQLite file; `postgresql://…` (or
    `postgresql+psycopg://…`) is PostgreSQL through psycopg 3. No message shows the password.
    """
    from sqlalchemy import URL, exc, make_url

    raw = str(value).strip()
    accepted = "use a file path, sqlite:///path/to/kb.sqlite3 or postgresql://user:password@host:5432/dbname"
    if not raw:
        raise BadDatabaseSetting(f"KB_DATABASE is empty: {accepted}")
    if not isinstance(value, (str, os.PathLike)):
        raise BadDatabaseSetting(f"KB_DATABASE={shown(value)} is not a path or a URL: {accepted}")
    if not _SCHEME_RE.match(raw):
        return URL.create("sqlite", database=raw)
    try:
        url = make_url(raw)
    except exc.ArgumentError:
        raise BadDatabaseSetting(f"KB_DATABASE={shown(raw)} is not a database URL: {accepted}") from None
    if url.drivername == "sqlite":
        if not url.database or not raw.startswith("sqlite:///"):
            raise BadDatabaseSetting(f"KB_DATABASE={shown(raw)} names no SQLite file: {accepted}")
        return url
    if url.drivername in ("postgresql", "postgresql+psycopg"):
        if not raw.split(":", 1)[1].startswith("//") or not url.database:
            raise BadDatabaseSetting(f"KB_DATABASE={shown(raw)} is not a complete PostgreSQL URL: {accepted}")
        return url.set(drivername="postgresql+psycopg")
    raise BadDatabaseSetting(f"KB_DATABASE={shown(raw)}: kb cannot store in {url.drivername}; {accepted}")


def _folder(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        path = os.fspath(value) if isinstance(value, os.PathLike) else value
        if not isinstance(path, str) or not path.strip() or "\0" in path:
            # A JSON-looking value (KB_INDEX_DIR=2024) arrives as a number: ./2024 says the same folder.
            raise SettingError(f"KB_{name} must be a folder path such as var/index, not {shown(value)}")

    return check


def _number(name: str, low: float, high: float, *, integer: bool, unit: str) -> Callable[[Any], None]:
    kind = "a whole number" if integer else "a number"

    def check(value: Any) -> None:
        try:
            number = float(value) if not isinstance(value, bool) else float("nan")
        except (TypeError, ValueError):
            number = float("nan")
        if not low <= number <= high or (integer and not number.is_integer()):  # NaN fails both
            raise SettingError(f"KB_{name} must be {kind} of {unit} from {low:g} to {high:g}, not {shown(value)}")

    return check


def _scopes(value: Any) -> None:
    items = value if isinstance(value, (list, tuple)) else str(value if value is not None else "").split(",")
    unknown = [str(s).strip() for s in items if str(s).strip() and str(s).strip() not in SCOPES]
    if unknown or isinstance(value, (bool, int, float)):
        raise SettingError(
            f"KB_ANONYMOUS_SCOPES must be comma-separated scopes among {','.join(SCOPES)} (or empty), not {shown(value)}"
        )


def _rate_limit(value: Any) -> None:
    from limits import parse_many

    try:
        parsed = parse_many(str(value)) if isinstance(value, str) else []
    except ValueError:
        parsed = []
    # Flask-Limiter logs an unparsable limit and then limits nothing: refused here instead.
    if not parsed or any(item.amount < 1 for item in parsed):
        raise SettingError(f"KB_RATE_LIMIT must be a rate such as '600 per minute' or '10/second;600/hour', not {shown(value)}")


_STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


def _rate_limit_storage(value: Any) -> None:
    from urllib.parse import urlsplit

    raw = value if isinstance(value, str) else ""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        parts = urlsplit("")
    is_memory = raw == "memory://"
    is_redis = parts.scheme in _STORAGE_SCHEMES[1:] and raw.startswith(f"{parts.scheme}://") and (
        bool(parts.hostname) or parts.scheme == "redis+unix" and bool(parts.path)
    )
    if not (is_memory or is_redis) or any(ch.isspace() for ch in raw):
        raise SettingError(
            f"KB_RATE_LIMIT_STORAGE must be memory:// or a Redis URL such as redis://host:6379, not {shown(value)}"
        )


# A CSP source as frame-ancestors takes it: a scheme (`https:`), or `[scheme://]host[:port][/path]`
# with an optional `*.` before the host. No `;` or `,` (a second directive or policy), no quotes.
_SOURCE_RE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*:|(?:[a-z][a-z0-9+.-]*://)?(?:\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])"
    r"(?::(?:[0-9]{1,5}|\*))?(?:/[^\s;,'\"]*)?)$",
    re.IGNORECASE,
)


def _frame_ancestors(value: Any) -> None:
    sources = str(value).split() if isinstance(value, str) else []
    bad = not sources or any(s.lower() not in ("'self'", "'none'") and not _SOURCE_RE.match(s) for s in sources)
    if bad or ("'none'" in (s.lower() for s in sources) and len(sources) > 1):
        raise SettingError(
            "KB_FRAME_ANCESTORS must be space-separated CSP sources such as \"'self' https://helpdesk.example.com\" "
            f"(or 'none' alone), not {shown(value)}"
        )


def _anonymous_scopes(value: Any) -> None:
    _scopes(value)
    granted = {str(s).strip() for s in (value if isinstance(value, (list, tuple)) else str(value or "").split(","))}
    if granted & {"admin", "delegate"}:
        raise SettingError("KB_ANONYMOUS_SCOPES may not hold admin or delegate: those are for signed-in admins and tokens")


def _secret_key(value: Any) -> None:
    if not isinstance(value, str) or (value and len(value) < 32):
        raise SettingError("KB_SECRET_KEY must be at least 32 random characters (or empty), not a shorter or non-text value")


def oidc_issuer(value: Any) -> str:
    """The KB_OIDC_ISSUER setting, checked: empty, or an https URL (http only on this machine)."""
    from urllib.parse import urlsplit

    if value in ("", None):
        return ""
    text = str(value).strip().rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    loopback = parts is not None and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if (
        parts is None
        or not isinstance(value, str)
        or not parts.hostname
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
        or not (parts.scheme == "https" or (parts.scheme == "http" and loopback))
    ):
        raise SettingError(
            f"KB_OIDC_ISSUER must be the provider's issuer URL such as https://login.example.com/realms/support "
            f"(https; http only on 127.0.0.1), not {shown(value)}"
        )
    return text


def _plain_text(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (str, int)) or any(ord(ch) < 32 for ch in str(value)):
            raise SettingError(f"KB_{name} must be plain text on one line")

    return check


def role_groups(value: Any) -> dict[str, frozenset[str]]:
    """KB_ROLE_GROUPS, checked: `role=group|group,role=group` (or a JSON object) as {group: roles}."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for role, groups in value.items():
            for group in groups if isinstance(groups, (list, tuple)) else str(groups).split("|"):
                pairs.append((str(role), str(group)))
    elif isinstance(value, str):
        for entry in (e.strip() for e in value.split(",")):
            if not entry:
                continue
            role, equals, groups = entry.partition("=")
            if not equals:
                raise SettingError(f"KB_ROLE_GROUPS entries are role=group (e.g. lead=support-leads), not {shown(entry)}")
            pairs.extend((role, group) for group in groups.split("|"))
    else:
        raise SettingError(f"KB_ROLE_GROUPS must look like lead=support-leads,admin=it-admins, not {shown(value)}")
    mapping: dict[str, set[str]] = {}
    for role, group in ((r.strip(), g.strip()) for r, g in pairs):
        if role not in ROLES:
            raise SettingError(f"KB_ROLE_GROUPS: unknown role {shown(role)}; roles are {', '.join(ROLES)}")
        if not group:
            raise SettingError(f"KB_ROLE_GROUPS: role {role} names an empty group")
        mapping.setdefault(group, set()).add(role)
    return {group: frozenset(roles) for group, roles in mapping.items()}


def _default_role(value: Any) -> None:
    if value not in ("", None) and value not in ROLES:
        raise SettingError(f"KB_DEFAULT_ROLE must be one of {', '.join(ROLES)} or empty, not {shown(value)}")


def _header_name(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, str) or (value and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}", value)):
            raise SettingError(f"KB_{name} must be an HTTP header name such as X-Forwarded-Email (or empty), not {shown(value)}")

    return check


def trusted_proxies(value: Any) -> tuple[Any, ...]:
    """KB_TRUSTED_PROXIES, checked: addresses or CIDR networks as ip_network objects."""
    import ipaddress

    entries = value if isinstance(value, (list, tuple)) else str(value if value is not None else "").split(",")
    networks = []
    for entry in (str(e).strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise SettingError(f"KB_TRUSTED_PROXIES: {shown(entry)} is not an address or network such as 10.0.0.5 or 10.0.0.0/24") from None
        if networks[-1].prefixlen == 0:
            raise SettingError("KB_TRUSTED_PROXIES may not trust every address (0.0.0.0/0 or ::/0)")
    return tuple(networks)


def cookie_secure(value: Any) -> str:
    """KB_COOKIE_SECURE, checked: on, off or auto."""
    text = str(value).strip().lower() if isinstance(value, str) else {True: "on", False: "off"}.get(value, "?")
    if text not in ("on", "off", "auto"):
        raise SettingError(f"KB_COOKIE_SECURE must be on, off or auto, not {shown(value)}")
    return text


def _person_id(value: Any) -> None:
    if value not in ("email", "pseudonym"):
        raise SettingError(f"KB_PERSON_ID must be email or pseudonym, not {shown(value)}")


def _sign_in_together(settings: Mapping[str, Any]) -> None:
    """The sign-in settings that only make sense together (one line for the first missing one)."""
    if settings.get("OIDC_ISSUER") and not settings.get("OIDC_CLIENT_ID"):
        raise SettingError("KB_OIDC_ISSUER is set but KB_OIDC_CLIENT_ID is empty: register kb with the provider first")
    if not settings.get("SECRET_KEY"):
        why = "OIDC_ISSUER" if settings.get("OIDC_ISSUER") else "PERSON_ID" if settings.get("PERSON_ID") == "pseudonym" else None
        if why:
            raise SettingError(
                f"KB_{why} needs KB_SECRET_KEY: set it to 32+ random characters, the same on every host"
            )
    if settings.get("PROXY_USER_HEADER") and not trusted_proxies(settings.get("TRUSTED_PROXIES", "")):
        raise SettingError("KB_PROXY_USER_HEADER is set but KB_TRUSTED_PROXIES is empty: name the proxy's addresses")


# The check of every setting, beside the table: `validate` refuses a setting without one, and
# tests/test_settings.py walks each with bad values.
CHECKS: dict[str, Callable[[Any], object]] = {
    "ARTICLES_DIR": _folder("ARTICLES_DIR"),
    "INDEX_DIR": _folder("INDEX_DIR"),
    "DATABASE": database_url,
    "RELOAD_INTERVAL_S": _number("RELOAD_INTERVAL_S", 0, 86400, integer=False, unit="seconds"),
    "INFERENCE_THREADS": _number("INFERENCE_THREADS", 1, 256, integer=True, unit="threads"),
    "QUERY_ENCODER": query_encoder,
    "MAX_CONTENT_LENGTH": _number("MAX_CONTENT_LENGTH", 1024, 64 * 1024 * 1024, integer=True, unit="bytes"),
    "MAX_TEXT_CHARS": _number("MAX_TEXT_CHARS", 1, 1_000_000, integer=True, unit="characters"),
    "MAX_LIMIT": _number("MAX_LIMIT", 1, 1000, integer=True, unit="results"),
    "ANONYMOUS_SCOPES": _anonymous_scopes,
    "RATE_LIMIT": _rate_limit,
    "RATE_LIMIT_STORAGE": _rate_limit_storage,
    "LEARNING": is_learning_on,
    "MULTILINGUAL": is_multilingual,
    "NO_MATCH_THRESHOLD": no_match_threshold,
    "FRAME_ANCESTORS": _frame_ancestors,
    "CORS_ORIGINS": cors_origins,
    "SECRET_KEY": _secret_key,
    "OIDC_ISSUER": oidc_issuer,
    "OIDC_CLIENT_ID": _plain_text("OIDC_CLIENT_ID"),
    "OIDC_CLIENT_SECRET": _plain_text("OIDC_CLIENT_SECRET"),
    "OIDC_SCOPES": _plain_text("OIDC_SCOPES"),
    "OIDC_GROUPS_CLAIM": _plain_text("OIDC_GROUPS_CLAIM"),
    "ROLE_GROUPS": role_groups,
    "DEFAULT_ROLE": _default_role,
    "PROXY_USER_HEADER": _header_name("PROXY_USER_HEADER"),
    "PROXY_GROUPS_HEADER": _header_name("PROXY_GROUPS_HEADER"),
    "TRUSTED_PROXIES": trusted_proxies,
    "SESSION_HOURS": _number("SESSION_HOURS", 0.25, 24 * 30, integer=False, unit="hours"),
    "COOKIE_SECURE": cookie_secure,
    "PERSON_ID": _person_id,
}


def validate(settings: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> None:
    """Check every setting in `settings` (an app's config, or `from_env()`), in the table's order.

    Raises SettingError, one line naming the first bad setting and what it expects. A `KB_`
    variable in `environ` (default: os.environ) that names no setting is warned about in one
    line: a typo such as KB_RATE_LIMITS would otherwise leave the real setting at its default,
    silently. Only warned: a host may set other programs' KB_ variables, and kb must still start.
    """
    import difflib
    import logging

    names = {s.name for s in SETTINGS}
    for key in sorted(os.environ if environ is None else environ):
        if key.startswith("KB_") and key[3:] not in names:
            close = difflib.get_close_matches(key[3:], sorted(names), n=1)
            hint = f" (did you mean KB_{close[0]}?)" if close else ""
            logging.getLogger("kbserver.config").warning(
                "%s is not a kb setting%s; ignored (README's settings table lists them all)", key, hint)
    for setting in SETTINGS:
        CHECKS[setting.name](settings.get(setting.name, setting.default))
    if "'none'" in str(settings.get("FRAME_ANCESTORS", "")).lower().split() and cors_origins(
        settings.get("CORS_ORIGINS", "")
    ):
        raise SettingError("KB_FRAME_ANCESTORS is 'none' but KB_CORS_ORIGINS lists helpdesks that would embed the page")
    _sign_in_together(settings)
