"""Secret redaction, pure: which config values are secrets, and how text loses them.

Two ways a secret is found in text:

* By value: every configured ``env`` and ``headers`` value, URL userinfo,
  the value of a key-like URL query parameter (token, key, secret,
  password, auth, ...), and the value after a key-like flag in a stdio
  server's ``args`` (``--api-key VALUE``, ``--token=VALUE``). A value is
  replaced wherever it appears, also URL-encoded, JSON-escaped or repr'd.
  Values shorter than :data:`MIN_SECRET` characters, and a few common
  non-secret words (``true``, ``info``, ``production``, ...) and short numbers,
  are not: they would blank out every such word in every message.
* By shape: ``Bearer``/``Basic`` credentials, URL userinfo, key-like query
  values, ``NAME_TOKEN=value`` assignments with an upper-case key-like name,
  common API key formats (OpenAI/Anthropic ``sk-``, Stripe ``sk_live_``,
  GitHub ``ghp_``/``github_pat_``, Slack ``xoxb-``, AWS ``AKIA``, Google
  ``AIza``, GitLab ``glpat-``), JWTs and PEM blocks (even a block cut short).

Everything found becomes :data:`REDACTED`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from agent_gateway.core.config import RemoteEntry, ServerSpec, StdioEntry

REDACTED = "<redacted>"
MIN_SECRET = 4  # shorter values ("1", "on") would blank out every such word in every message
COMMON_WORDS = frozenset(
    "true false yes no none null debug info warn warning error trace verbose quiet silent "
    "production prod development dev test testing staging local default auto enabled disabled "
    "stdio http https json text utf-8".split()
)
SHORT_NUMBER = re.compile(r"[0-9]{1,7}")  # ports, timeouts, counts: not secrets by themselves
KEYLIKE = r"(?:key|token|secret|passw(?:or)?d|pwd|auth|credential|signature|sig)"
_KEYLIKE_RE = re.compile(KEYLIKE, re.IGNORECASE)
_ENV_NAME = r"[A-Z][A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIALS?|AUTH)[A-Z0-9_]*"
_API_KEYS = (
    r"\bsk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{16,}",
    r"\b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    r"\bAIza[0-9A-Za-z_-]{35}",
    r"\bglpat-[A-Za-z0-9_-]{20,}",
    r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",  # a JWT
)
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?(?:-----END \1-----|\Z)"),
        f"-----BEGIN \\1-----{REDACTED}-----END \\1-----",
    ),
    # A credential, not a placeholder in a hint ("Bearer TOKEN", "Bearer <token>").
    (
        re.compile(r"(?i)\b(bearer|basic)(\s+)(?-i:(?![A-Z_]+\b))[A-Za-z0-9._~+/=-]{6,}"),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?<=://)[^/\s@]+@"), f"{REDACTED}@"),
    (
        re.compile(rf"(?i)([?&;][^=&\s?#]*{KEYLIKE}[^=&\s?#]*=)[^&\s#'\"]+"),
        rf"\1{REDACTED}",
    ),
    (  # a placeholder (${input:key}) is not a value
        re.compile(rf"\b({_ENV_NAME})(['\"]?\s*[=:]\s*['\"]?)(?!\$\{{)[^\s'\",;&]+"),
        rf"\1\2{REDACTED}",
    ),
    (re.compile("|".join(_API_KEYS)), REDACTED),
)


# A location, not a secret: an absolute path (a project folder in env would
# otherwise blank out every path under it), or a placeholder left unresolved.
_NOT_SECRET = re.compile(r"(?:/|~/|[A-Za-z]:[\\/])[^\s]*|\$\{[^}]*\}")


def is_secret_value(value: str) -> bool:
    """Is ``value`` long and specific enough to be replaced wherever it appears?"""
    text = value.strip()
    return (
        len(text) >= MIN_SECRET
        and text.lower() not in COMMON_WORDS
        and SHORT_NUMBER.fullmatch(text) is None
        and _NOT_SECRET.fullmatch(text) is None
    )


def url_secrets(url: str) -> set[str]:
    """A URL's userinfo and the values of its key-like query parameters."""
    try:
        parts = urlsplit(url)
        found = {v for v in (parts.username, parts.password) if v}
    except ValueError:  # an invalid port or bracket: nothing to read
        return set()
    found.update(v for k, v in parse_qsl(parts.query) if _KEYLIKE_RE.search(k))
    return found


def arg_secrets(args: Iterable[str]) -> set[str]:
    """Values given to key-like flags: ``--api-key VALUE`` and ``--token=VALUE``."""
    found: set[str] = set()
    previous = ""
    for arg in args:
        flag, eq, value = arg.partition("=")
        if arg.startswith("-") and eq and _KEYLIKE_RE.search(flag):
            found.add(value)
        elif previous.startswith("-") and "=" not in previous and _KEYLIKE_RE.search(previous):
            found.add(arg)
        found.update(url_secrets(arg) if "://" in arg else ())
        previous = arg
    return found


def header_secrets(headers: Mapping[str, str]) -> set[str]:
    """Header values, and the credential after a scheme word (``Bearer X`` gives X too)."""
    found: set[str] = set()
    for value in headers.values():
        found.add(value)
        found.update(value.split()[1:])
    return found


def secrets_of(spec: ServerSpec) -> set[str]:
    """The secret values one configured server carries (after substitution)."""
    entry = spec.entry
    if isinstance(entry, StdioEntry):
        return set(entry.env.values()) | arg_secrets(entry.args)
    if isinstance(entry, RemoteEntry):
        found = header_secrets(entry.headers) | url_secrets(entry.url)
        return found | ({entry.client_secret} if entry.client_secret else set())
    return set()  # pragma: no cover - the two entry kinds above are all there are


def _forms(value: str) -> set[str]:
    """The spellings a value takes in text: as is, URL-encoded, JSON-escaped, repr'd."""
    return {value, quote(value, safe=""), json.dumps(value)[1:-1], repr(value)[1:-1]}


class Redactor:
    """Replaces known secret values and secret-shaped text; values only ever accumulate."""

    def __init__(self) -> None:
        self._values: frozenset[str] = frozenset()
        self._known: re.Pattern[str] | None = None

    @property
    def values(self) -> frozenset[str]:
        return self._values

    def reset(self) -> None:
        """Forget every known value (a fresh process's state; tests start from it)."""
        self._values, self._known = frozenset(), None

    def add(self, values: Iterable[str]) -> None:
        """Remember more secret values (too short or common ones are skipped)."""
        forms = set(self._values)
        for value in values:
            if is_secret_value(value):
                forms |= {f for f in _forms(value) if len(f) >= MIN_SECRET}
        if forms == self._values:
            return
        self._values = frozenset(forms)
        ordered = sorted(forms, key=len, reverse=True)  # the longest spelling wins
        self._known = re.compile("|".join(re.escape(v) for v in ordered))

    def add_config(self, specs: Iterable[ServerSpec]) -> None:
        for spec in specs:
            self.add(secrets_of(spec))

    def redact(self, text: str) -> str:
        known = self._known
        if known is not None:
            text = known.sub(REDACTED, text)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def redact_tree(self, data: Any) -> Any:
        """``data`` (JSON-like: dicts, lists, strings) with every string redacted."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, dict):
            return {k: self.redact_tree(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.redact_tree(v) for v in data]
        return data
