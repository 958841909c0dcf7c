"""The environment of a stdio server: a safe set of the gateway's variables, then its own.

By default a server gets the MCP SDK's safe set (HOME, LOGNAME, PATH, SHELL,
TERM, USER) plus what networks and locales need: the CA bundle variables,
the proxy variables in both cases, LANG, LC_*, TMPDIR and XDG_*. Values that
look like exported shell functions are never passed (the SDK's rule). With
``"inheritEnv": true`` the server gets the gateway's whole environment.
The configured values (``envFile``, then ``env``, already merged by the
config loader) come last and win.
"""

from __future__ import annotations

from collections.abc import Mapping

from mcp.client.stdio import DEFAULT_INHERITED_ENV_VARS

from agent_gateway.core.hints import CA_VARIABLES

__all__ = ["PASSED_PREFIXES", "PASSED_VARIABLES", "child_environment"]

_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")
PASSED_VARIABLES = frozenset(
    (
        *DEFAULT_INHERITED_ENV_VARS,
        *CA_VARIABLES,
        *_PROXIES,
        *(p.lower() for p in _PROXIES),
        "LANG",
        "LANGUAGE",
        "TMPDIR",
    )
)
PASSED_PREFIXES = ("LC_", "XDG_")


def _passed(name: str, value: str) -> bool:
    if value.startswith("()"):
        return False
    return name in PASSED_VARIABLES or name.startswith(PASSED_PREFIXES)


def child_environment(
    environ: Mapping[str, str], *, inherit: bool, configured: Mapping[str, str]
) -> dict[str, str]:
    """The environment for one stdio server started now."""
    base = dict(environ) if inherit else {k: v for k, v in environ.items() if _passed(k, v)}
    return base | dict(configured)
