"""The HTTP front's guard: pure Host/Origin decisions, then the ASGI middleware in-process.

No server and no sockets: the decisions are table-driven, and the middleware
is driven with hand-made ASGI scopes against a stub app that records whether
it was reached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from agent_gateway.core.policy import PolicySet
from agent_gateway.front.httpfront import (
    GuardMiddleware,
    Readiness,
    host_allowed,
    host_name,
    is_loopback_bind,
    origin_allowed,
    unauthenticated_exposure,
)

# --------------------------------------------------------------------------- host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost", "localhost"),
        ("localhost:8765", "localhost"),
        ("LOCALHOST:8765", "localhost"),
        ("  localhost:1  ", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[::1]", "::1"),
        ("[::1]:8765", "::1"),
        ("[::1", "[::1"),  # unterminated bracket: kept whole, never loopback
        ("::1", "::1"),  # bare IPv6 (several colons): not split on the last one
        ("evil.com:443", "evil.com"),
        ("Example.COM", "example.com"),
        ("", ""),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


# --------------------------------------------------------------------------- host_allowed


@pytest.mark.parametrize(
    ("header", "allowed", "ok"),
    [
        (None, (), True),  # no Host at all: not a browser
        ("localhost", (), True),
        ("localhost:8765", (), True),
        ("localhost:1", (), True),
        ("localhost:65535", (), True),
        ("LocalHost:8765", (), True),
        ("127.0.0.1", (), True),
        ("127.0.0.1:3000", (), True),
        ("[::1]", (), True),
        ("[::1]:8765", (), True),
        ("evil.com", (), False),
        ("evil.com:8765", (), False),
        ("localhost.evil.com", (), False),
        ("localhost.evil.com:8765", (), False),
        ("evil-localhost", (), False),
        ("127.0.0.1.nip.io", (), False),
        ("127.0.0.1.nip.io:8765", (), False),
        ("0.0.0.0:8765", (), False),
        ("192.168.1.10:8765", (), False),
        ("[::ffff:7f00:1]:8765", (), False),
        ("", (), False),
        # --allowed-host NAME
        ("myhost", ("myhost",), True),
        ("myhost:8765", ("myhost",), True),
        ("MYHOST:8765", ("myhost",), True),
        ("myhost:8765", ("MyHost",), True),
        ("myhost.evil.com:8765", ("myhost",), False),
        ("other:8765", ("myhost", "second"), False),
        ("second:1", ("myhost", "second"), True),
        ("localhost:8765", ("myhost",), True),  # the loopback names stay allowed
        ("evil.com", ("myhost",), False),
    ],
)
def test_host_allowed(header: str | None, allowed: tuple[str, ...], ok: bool) -> None:
    assert host_allowed(header, allowed) is ok


# --------------------------------------------------------------------------- origin_allowed


@pytest.mark.parametrize(
    ("origin", "allowed", "ok"),
    [
        (None, (), True),  # same-origin or not a browser
        ("http://localhost", (), True),
        ("http://localhost:3000", (), True),
        ("https://localhost:8443", (), True),
        ("http://127.0.0.1:6274", (), True),
        ("https://127.0.0.1", (), True),
        ("http://[::1]:8080", (), True),
        ("HTTP://LOCALHOST:3000", (), True),
        ("null", (), False),
        ("file://", (), False),
        ("file:///home/me/page.html", (), False),
        ("chrome-extension://abcdef", (), False),
        ("ws://localhost:3000", (), False),
        ("http://evil.com", (), False),
        ("https://evil.com:8765", (), False),
        ("http://localhost.evil.com", (), False),
        ("http://127.0.0.1.nip.io:8765", (), False),
        ("http://localhost@evil.com", (), False),  # userinfo trick: the host is evil.com
        ("http://", (), False),
        ("", (), False),
        # --allowed-host NAME
        ("http://myhost:8000", ("myhost",), True),
        ("https://MyHost", ("myhost",), True),
        ("http://myhost.evil.com", ("myhost",), False),
        ("http://evil.com", ("myhost",), False),
        ("null", ("myhost",), False),
    ],
)
def test_origin_allowed(origin: str | None, allowed: tuple[str, ...], ok: bool) -> None:
    assert origin_allowed(origin, allowed) is ok


# --------------------------------------------------------------------------- is_loopback_bind


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("127.evil.com", False),  # a DNS name is not known to resolve to loopback
        ("127.0.0.1.nip.io", False),
        ("", False),
    ],
)
def test_is_loopback_bind(host: str, loopback: bool) -> None:
    assert is_loopback_bind(host) is loopback


# --------------------------------------------------------------------------- the middleware


@pytest.mark.parametrize(
    ("host", "policies", "refused"),
    [
        ("0.0.0.0", None, True),  # open mode: no policies at all
        ("0.0.0.0", {"default": {"allow": {"servers": ["*"]}}}, True),
        ("::", {"default": {"allow": {"servers": ["*"]}}}, True),
        ("10.1.2.3", {}, True),
        ("0.0.0.0", {"alice": {"tokens_sha256": ["a" * 64]}}, False),
        ("127.0.0.1", None, False),
        ("localhost", {}, False),
        ("::1", None, False),
    ],
)
def test_binding_beyond_loopback_needs_a_token_in_some_policy(
    host: str, policies: dict[str, Any] | None, refused: bool
) -> None:
    pset = PolicySet.open("policies") if policies is None else PolicySet.from_dicts(policies)
    problem = unauthenticated_exposure(host, pset)
    assert (problem is not None) == refused
    if problem is not None:
        assert "--insecure-no-auth" in problem and "agent-gateway token AGENT" in problem
        assert host in problem


TOKEN = "alice-token-0123456789"
ALICE = {"allow": {"servers": ["a"]}, "tokens_sha256": [hashlib.sha256(TOKEN.encode()).hexdigest()]}


class Stub:
    """The wrapped app: records that it was reached and answers 204."""

    def __init__(self) -> None:
        self.reached = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.reached += 1
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})


async def drive(
    headers: dict[str, str] | list[tuple[str, str]],
    path: str = "/mcp",
    allowed: tuple[str, ...] = (),
    readiness: Callable[[], Readiness] | None = None,
) -> tuple[int, dict[str, str], Any, int]:
    """One request through GuardMiddleware: (status, headers, json body or None, reached)."""
    app = Stub()
    policies = PolicySet.from_dicts({"alice": ALICE})
    guard = GuardMiddleware(
        app, policies=lambda: policies, allowed_hosts=allowed, readiness=readiness
    )
    pairs = list(headers.items()) if isinstance(headers, dict) else headers
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": "POST" if path == "/mcp" else "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await guard(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    out_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], out_headers, (json.loads(body) if body else None), app.reached


LOCAL = {"Host": "127.0.0.1:8765"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "path", "allowed", "status", "reached"),
    [
        (LOCAL, "/mcp", (), 204, 1),
        ({}, "/mcp", (), 204, 1),
        (LOCAL, "/healthz", (), 200, 0),
        ({"Host": "evil.com"}, "/mcp", (), 403, 0),
        ({"Host": "evil.com"}, "/healthz", (), 403, 0),
        ({"Host": "myhost:8765"}, "/mcp", ("myhost",), 204, 1),
        ({**LOCAL, "Origin": "http://evil.com"}, "/mcp", (), 403, 0),
        ({**LOCAL, "Origin": "null"}, "/mcp", (), 403, 0),
        ({**LOCAL, "Origin": "http://localhost:3000"}, "/mcp", (), 204, 1),
        ({**LOCAL, "Authorization": f"Bearer {TOKEN}"}, "/mcp", (), 204, 1),
        ({**LOCAL, "Authorization": f"bearer {TOKEN}"}, "/mcp", (), 204, 1),
        ({**LOCAL, "Authorization": "Bearer nobody-has-this"}, "/mcp", (), 401, 0),
        ({**LOCAL, "Authorization": "Basic YWxpY2U6eA=="}, "/mcp", (), 401, 0),
        ({**LOCAL, "Authorization": "Bearer nobody-has-this"}, "/healthz", (), 200, 0),
        # the Host check comes before the token: a bad Host never learns about tokens
        ({"Host": "evil.com", "Authorization": "Bearer nobody"}, "/mcp", (), 403, 0),
    ],
)
async def test_guard_middleware(
    headers: dict[str, str], path: str, allowed: tuple[str, ...], status: int, reached: int
) -> None:
    got, out_headers, body, was_reached = await drive(headers, path, allowed)
    assert (got, was_reached) == (status, reached)
    if status == 403:
        assert "--allowed-host" in body["error"]
    if status == 401:
        assert out_headers["www-authenticate"].startswith("Bearer")
        assert "agent-gateway token" in body["error"] or "Bearer TOKEN" in body["error"]
        assert "nobody-has-this" not in json.dumps(body)  # never echo the token
    if status == 200:
        assert body == {"status": "ok"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "ready", "status"),
    [
        ("/healthz?ready", False, 503),
        ("/healthz?ready", True, 200),
        ("/healthz?ready=1", False, 503),
        ("/readyz", False, 503),
        ("/readyz", True, 200),
        ("/healthz", False, 200),  # liveness stays 200 while not ready
        ("/healthz?other", False, 200),
    ],
)
async def test_readiness_answers_503_until_ready_and_liveness_stays_200(
    path: str, ready: bool, status: int
) -> None:
    detail = {"servers": 2, "agents": 1, "watching": ready}
    got, _, body, reached = await drive(
        {**LOCAL, "Authorization": "Bearer nobody-has-this"},
        path,
        readiness=lambda: Readiness(ready, detail),
    )
    assert (got, reached) == (status, 0)
    if path.startswith("/healthz") and "ready" not in path:
        assert body == {"status": "ok"}
    else:
        assert body == {"status": "ready" if ready else "not ready", **detail}


@pytest.mark.anyio
async def test_readiness_needs_a_loopback_or_allowed_host_like_every_request() -> None:
    got, _, _, _ = await drive({"Host": "10.0.0.7:8765"}, "/readyz")
    assert got == 403
    got, _, body, _ = await drive({"Host": "10.0.0.7:8765"}, "/readyz", allowed=("10.0.0.7",))
    assert (got, body["status"]) == (200, "ready")


GOOD = f"Bearer {TOKEN}"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "authorizations",
    [
        [GOOD, GOOD],
        [GOOD, "Bearer nobody-has-this"],
        ["Bearer nobody-has-this", GOOD],
        ["", GOOD],
        [GOOD, GOOD, GOOD],
    ],
    ids=["same-twice", "good-then-bad", "bad-then-good", "empty-then-good", "three"],
)
async def test_a_request_with_more_than_one_authorization_header_gets_400(
    authorizations: list[str],
) -> None:
    headers = [("Host", "127.0.0.1:8765"), *(("Authorization", a) for a in authorizations)]
    status, _, body, reached = await drive(headers)
    assert (status, reached) == (400, 0)
    assert "more than one Authorization header" in body["error"]
    assert TOKEN not in json.dumps(body)


@pytest.mark.anyio
async def test_guard_passes_non_http_scopes_through() -> None:
    app = Stub()
    guard = GuardMiddleware(app, policies=PolicySet.open)

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError(f"the guard answered a lifespan scope: {message}")

    await guard({"type": "lifespan"}, receive, send)
    assert app.reached == 1
