"""The HTTP front's guard: loopback Host/Origin only, bearer tokens, ``/healthz``.

A pure ASGI middleware in front of fastmcp's streamable-HTTP app:
- a request whose ``Host`` or ``Origin`` is not a loopback name (localhost,
  127.0.0.1, [::1], any port) and not listed with ``--allowed-host`` gets 403
  (DNS-rebinding protection);
- ``GET /healthz`` answers 200 without auth (liveness), and so does ``GET /metrics``
  (Prometheus text; scrapers rarely carry a token, and it holds names and
  counts, never arguments or secrets);
- ``GET /healthz?ready`` (or ``/readyz``) answers 200 once the config and
  policies are loaded and the watcher follows their files, 503 before, with a
  small JSON body of counts and flags (no name, path or secret): readiness;
- a request with more than one ``Authorization`` header gets 400;
- an ``Authorization: Bearer`` token that matches no agent gets 401, never a
  downgrade to "no identity".
The decisions are pure functions, tested without a server.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agent_gateway.core.errors import DuplicateHeaderError, IdentityError
from agent_gateway.core.identity import agent_for_bearer, authorization_header
from agent_gateway.core.policy import PolicySet
from agent_gateway.metrics import CONTENT_TYPE

logger = logging.getLogger("agent_gateway.http")

METRICS_TYPE = CONTENT_TYPE.encode()
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def host_name(host_header: str) -> str:
    """The name part of a Host header: ``[::1]:8765`` -> ``::1``, ``a:80`` -> ``a``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host_header: str | None, allowed: Iterable[str] = ()) -> bool:
    if host_header is None:
        return True  # not a browser: browsers always send Host
    name = host_name(host_header)
    return name in LOOPBACK_NAMES or name in {a.lower() for a in allowed}


def origin_allowed(origin: str | None, allowed: Iterable[str] = ()) -> bool:
    if origin is None:
        return True  # not a cross-origin browser request
    parts = urlsplit(origin.strip())
    name = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not name:
        return False  # "null" and other opaque origins
    return name in LOOPBACK_NAMES or name in {a.lower() for a in allowed}


@dataclass(frozen=True)
class Readiness:
    """Whether this replica may take traffic, and what it has loaded (counts and flags only)."""

    ready: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not ready", **self.detail}


def wants_readiness(path: str, query_string: bytes) -> bool:
    """``/readyz``, or ``/healthz`` with a ``ready`` query parameter (any value)."""
    if path == "/readyz":
        return True
    query = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    return path == "/healthz" and "ready" in query


def is_loopback_bind(host: str) -> bool:
    name = host_name(host)
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a DNS name (even "127.evil.com") is not known to be loopback


def unauthenticated_exposure(host: str, policies: PolicySet) -> str | None:
    """Why ``serve --host HOST`` must not start with these policies, or None when it may.

    Beyond loopback, a gateway whose policies list no token at all lets anyone who
    reaches the port call as ``default.toml`` (or everything, in open mode).
    """
    if is_loopback_bind(host) or policies.token_agents:
        return None
    return (
        f"--host {host} makes the gateway reachable from other machines, but no policy "
        "lists a token (tokens_sha256), so every caller would be anonymous. Give each "
        "agent a token with 'agent-gateway token AGENT' and paste its tokens_sha256 line "
        "into policies/AGENT.toml, or pass --insecure-no-auth to serve without any "
        "(only behind a proxy that authenticates)."
    )


class GuardMiddleware:
    """ASGI middleware: Host/Origin check, bearer check, /healthz and readiness."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        policies: Callable[[], PolicySet],
        allowed_hosts: Iterable[str] = (),
        readiness: Callable[[], Readiness] | None = None,
        metrics: Callable[[], bytes] | None = None,
    ) -> None:
        self.app = app
        self.policies = policies
        self.allowed_hosts = tuple(allowed_hosts)
        self.readiness = readiness or (lambda: Readiness(True))
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host, origin = headers.get("host"), headers.get("origin")
        if not host_allowed(host, self.allowed_hosts) or not origin_allowed(
            origin, self.allowed_hosts
        ):
            logger.warning(
                "Refused a request with Host %r, Origin %r (not loopback).", host, origin
            )
            await _respond(
                send,
                403,
                {
                    "error": "Host or Origin not allowed. Use a loopback "
                    "name, or start the gateway with --allowed-host NAME."
                },
            )
            return
        if wants_readiness(scope["path"], scope.get("query_string", b"")):
            state = self.readiness()
            await _respond(send, 200 if state.ready else 503, state.body())
            return
        if scope["path"] == "/healthz":
            await _respond(send, 200, {"status": "ok"})
            return
        if scope["path"] == "/metrics" and self.metrics is not None:
            await _send(send, 200, self.metrics(), METRICS_TYPE)
            return
        try:
            authorization = authorization_header(scope["headers"])
        except DuplicateHeaderError as exc:
            await _respond(send, 400, {"error": str(exc)})
            return
        try:
            agent_for_bearer(self.policies(), authorization)
        except IdentityError as exc:
            await _respond(
                send,
                401,
                {"error": str(exc)},
                extra=[(b"www-authenticate", b'Bearer realm="agent-gateway"')],
            )
            return
        await self.app(scope, receive, send)


async def _respond(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send(send, status, json.dumps(body).encode(), b"application/json", extra)


async def _send(
    send: Send,
    status: int,
    data: bytes,
    kind: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(data)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": data})
