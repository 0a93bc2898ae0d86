"""Secrets out of every text we write: task logs, reports, Slack posts, command lines.

Two layers, both applied by :func:`mask`:

* **Shapes** of secrets, whatever their value: URI passwords (also ones containing ``@``),
  libpq conninfo ``password=…`` (quoted or not), ``PGPASSWORD=``, ``key=value`` /
  ``"key": "value"`` pairs of well-known secret names (AWS secret keys, tokens), bearer
  tokens, AWS access key ids, Slack webhook paths and tokens, and SQL password literals
  (``CREATE/ALTER ROLE … [ENCRYPTED] PASSWORD '…'``, which ``pg_stat_statements`` keeps
  verbatim).
* **Values** registered with :func:`register` (the actual secrets of the connections a task
  uses, see :func:`register_connections`), also in their URL-encoded forms. They are
  registered with Airflow's own secrets masker too, so Airflow's log handlers hide them.

:func:`slack_escape` makes user-supplied text inert in Slack mrkdwn (no ``<!channel>``).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

log = logging.getLogger(__name__)

HIDDEN = "***"
# Shorter values would hide ordinary words (Airflow's masker uses the same floor).
MIN_REGISTERED_LENGTH = 5

_QUOTED = r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\""
_SECRET_KEYS = (r"(?:pg)?password|passwd|aws_secret_access_key|aws_session_token|secret_access_key|secret_key"
                r"|rediscli_auth|client_secret|api_key|apikey|access_token|auth_token|refresh_token|webhook_token")



def _keep_quotes(match: re.Match[str]) -> str:
    value = match[3]
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{match[1]}{match[2]}{quote_char}{HIDDEN}{quote_char}"


_SHAPES: list[tuple[re.Pattern[str], Any]] = [
    # SQL: CREATE/ALTER ROLE|USER … [ENCRYPTED|UNENCRYPTED] PASSWORD '…' (also E'…' and $$…$$).
    (re.compile(r"(?i)\b((?:(?:un)?encrypted\s+)?password\s+)(E?'(?:[^'\\]|\\.|'')*'|(\$[A-Za-z_]*\$).*?\3)",
                re.S), r"\1'***'"),
    # key=value, key: value, "key": "value" — conninfo password=, PGPASSWORD=, aws_secret_access_key= …
    (re.compile(rf"(?i)(?<![A-Za-z0-9])({_SECRET_KEYS})(\"?'?\s*[=:]\s*)({_QUOTED}|[^\s'\",;&}}]+)"),
     _keep_quotes),
    # Authorization headers and bearer tokens.
    (re.compile(r"(?i)(authorization\"?\s*[:=]\s*\"?(?:basic|token|bearer)?\s*)[A-Za-z0-9._~+/=:-]{6,}"), r"\1***"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\1***"),
    # AWS access key ids (long-term AKIA…, temporary ASIA…).
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), HIDDEN),
    # Slack: webhook paths on any host, and API tokens.
    (re.compile(r"(/services/)T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+"), r"\1***"),
    (re.compile(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>|]+"), r"\1***"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"), HIDDEN),
    # URI userinfo: scheme://user:secret@host — the secret may itself contain '@' (the last
    # '@' before the host ends it) but not '/' or whitespace.
    (re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^\s/]*@"), r"\1***@"),
]

_lock = threading.Lock()
_registered: set[str] = set()
_replacer: re.Pattern[str] | None = None


def _variants(value: str) -> set[str]:
    return {v for v in (value, quote(value, safe=""), quote_plus(value), quote(value)) if v}


def register(*values: Any) -> None:
    """Hide these exact values (and their URL-encoded forms) from now on, here and in Airflow's logs."""
    global _replacer
    new = {str(v) for v in values if v is not None and len(str(v)) >= MIN_REGISTERED_LENGTH}
    if not new:
        return
    with _lock:
        before = len(_registered)
        for value in new:
            _registered.update(_variants(value))
        if len(_registered) != before:
            ordered = sorted(_registered, key=len, reverse=True)  # longest first: no partial leftovers
            _replacer = re.compile("|".join(re.escape(v) for v in ordered))
    for value in new:
        _airflow_mask(value)


def _airflow_mask(value: str) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # outside Airflow (report CLI): our own layer still applies
        return
    try:
        mask_secret(value)
    except Exception:  # the masker is best-effort here; ours is applied to every text we write
        log.debug("Airflow's secrets masker refused a value", exc_info=True)


def mask(text: str) -> str:
    """Hide secrets in ``text``.

    >>> mask("postgresql://app:s3cr3t@db:5432/x")
    'postgresql://app:***@db:5432/x'
    >>> mask("postgresql://app:p@ss@word@db.internal/x")
    'postgresql://app:***@db.internal/x'
    >>> mask("host=db user=app password=hunter2 dbname=x")
    'host=db user=app password=*** dbname=x'
    >>> mask("host=db password='with space\\\\' quote' dbname=x")
    "host=db password='***' dbname=x"
    >>> mask("PGPASSWORD=hunter2 pg_dump -Fc")
    'PGPASSWORD=*** pg_dump -Fc'
    >>> mask('{"password": "hunter2", "user": "app"}')
    '{"password": "***", "user": "app"}'
    >>> mask("Authorization: Bearer eyJhbGciOi.J9x")
    'Authorization: Bearer ***'
    >>> mask("curl --oauth2-bearer abcdefgh1234")
    'curl --oauth2-bearer ***'
    >>> mask("token Bearer abcdefgh1234")
    'token Bearer ***'
    >>> mask("key AKIAIOSFODNN7EXAMPLE and aws_secret_access_key=wJalrXUtnFEMI/K7MDENG")
    'key *** and aws_secret_access_key=***'
    >>> mask("https://hooks.slack.com/services/T0001/B0002/AbCdEf123")
    'https://hooks.slack.com/services/***'
    >>> mask("http://127.0.0.1:8080/services/T000/B000/XXXX failed")
    'http://127.0.0.1:8080/services/*** failed'
    >>> mask("ALTER ROLE app WITH ENCRYPTED PASSWORD 'it''s secret' VALID UNTIL 'infinity'")
    "ALTER ROLE app WITH ENCRYPTED PASSWORD '***' VALID UNTIL 'infinity'"
    >>> mask("create user bob password $$x$$")
    "create user bob password '***'"
    >>> mask("password authentication failed for user app")
    'password authentication failed for user app'
    """
    if not text:
        return text
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    replacer = _replacer
    if replacer is not None:
        text = replacer.sub(HIDDEN, text)
    return _airflow_redact(text)


def _airflow_redact(text: str) -> str:
    """What Airflow's masker knows too (e.g. every connection a hook fetched in this task)."""
    if "airflow.sdk.log" not in sys.modules:  # outside Airflow: never import it just for this
        return text
    try:
        # the masker instance airflow.sdk.log (mask_secret, the task log handler) uses
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact

        return str(airflow_redact(text))
    except Exception:  # best-effort second layer; ours has been applied already
        return text


def mask_value(value: Any) -> Any:
    """:func:`mask` applied to every string inside a JSON-like value (dict keys kept)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v) for v in value]
    return value


_SENSITIVE_EXTRA = re.compile(r"(?i)password|secret|token|webhook|private_key|passphrase|credential|api_key")


def connection_secrets(conn: Any) -> list[str]:
    """The secret values of an Airflow connection: password, sensitive extras, the full URI."""
    values: list[str] = []
    password = getattr(conn, "password", None)
    if password:
        values.append(str(password))
    extra = getattr(conn, "extra_dejson", None) or {}
    if isinstance(extra, dict):
        for key, value in extra.items():
            if _SENSITIVE_EXTRA.search(str(key)) and isinstance(value, (str, int)) and value:
                values.append(str(value))
    return values


def register_connections(conn_ids: Iterable[str]) -> list[str]:
    """Register the secrets of each connection; returns the ids that could not be read
    (a missing connection fails the task that uses it, with its own message)."""
    from airflow.sdk import BaseHook

    missing: list[str] = []
    for conn_id in dict.fromkeys(c for c in conn_ids if c):
        try:
            conn = BaseHook.get_connection(conn_id)
        except Exception:
            missing.append(conn_id)
            continue
        register(*connection_secrets(conn))
    return missing


def slack_escape(text: Any) -> str:
    """User-supplied text made inert in Slack mrkdwn: ``&``, ``<``, ``>`` become entities, so
    ``<!channel>``, ``<@U123>`` and ``<http://x|link>`` are shown, not acted on.

    >>> slack_escape("ping <!channel> & <@U024BE7LH> <http://evil|click>")
    'ping &lt;!channel&gt; &amp; &lt;@U024BE7LH&gt; &lt;http://evil|click&gt;'
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def config_conn_ids(cfg: Any) -> list[str]:
    """Every connection id the maintenance config names (targets, backups, alerts, security)."""
    ids = [t.conn_id for t in cfg.targets.postgres] + [t.conn_id for t in cfg.targets.redis]
    ids += [cfg.backups.conn_id, cfg.alerts.slack_conn_id, cfg.alerts.prometheus_conn_id,
            getattr(cfg.security, "aws_conn_id", None)]
    return [str(i) for i in dict.fromkeys(ids) if i]


def register_config(cfg: Any) -> list[str]:
    """Register the secrets of every connection the config names, before any work; returns
    the ids that could not be read."""
    missing = register_connections(config_conn_ids(cfg))
    if missing:
        log.info("connections not readable (yet) for secret masking: %s", ", ".join(missing))
    return missing


_SECRET_WORDS = re.compile(r"passw|secret|token|credential", re.IGNORECASE)


def statement(query: str | None, limit: int = 300) -> str | None:
    """SQL text from ``pg_stat_statements`` / ``pg_stat_activity`` for a report or log: masked,
    whitespace collapsed, shortened — and hidden whole when it still names a secret.

    >>> statement("ALTER ROLE app PASSWORD 'x'")
    '<redacted: statement may contain a secret>'
    >>> statement("SELECT  *\\n FROM orders WHERE id = $1")
    'SELECT * FROM orders WHERE id = $1'
    >>> statement("SELECT dblink_connect('host=db password=hunter2')")
    "SELECT dblink_connect('host=db password=***')"
    >>> len(statement("SELECT " + "x" * 500))
    300
    """
    if query is None:
        return None
    text = " ".join(mask(query).split())
    if _SECRET_WORDS.search(text.replace(f"password={HIDDEN}", "")):
        return "<redacted: statement may contain a secret>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_line(error: BaseException | str | None, *, typed: bool = True, default: str = "") -> str:
    """The first line of an error, masked: ``Type: first line`` for an exception (``typed``).

    >>> first_line(ValueError("bad thing\\nmore"))
    'ValueError: bad thing'
    >>> first_line(RuntimeError(""))
    'RuntimeError'
    >>> first_line("postgresql://u:pw@h/db failed\\ntrace", default="x")
    'postgresql://u:***@h/db failed'
    >>> first_line(None, default="task failure")
    'task failure'
    """
    text = "" if error is None else str(error).strip()
    line = mask(text.splitlines()[0]) if text else ""
    if isinstance(error, BaseException) and typed:
        return f"{type(error).__name__}: {line}" if line else type(error).__name__
    return line or default
