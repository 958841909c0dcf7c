"""A name-mapping HTTP shim between the MCP conformance suite and a direct-mode gateway.

The suite calls fixed names (``test_simple_text``, ``test://static-text``,
``test_simple_prompt``); a direct-mode gateway exposes server S's items as
``S__name`` and ``agw://S/uri``, by design. The shim maps only those names,
both ways, and passes everything else through unchanged, streaming (a
server's elicitation or sampling request arrives on an SSE stream while the
call's POST is still open): headers (``Host``, ``Origin``, ``Mcp-Session-Id``),
status codes, JSON and SSE bodies.

- client to gateway: ``tools/call`` and ``prompts/get`` ``name``, the ``uri``
  of ``resources/read|subscribe|unsubscribe``, and ``completion/complete``'s
  ``ref``, get the prefix;
- gateway to client: every string that starts with ``S__`` or ``agw://S/``
  loses it (tool, prompt and resource lists, read results, notifications).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import httpx2

HOP_BY_HOP = {b"content-length", b"transfer-encoding", b"connection", b"keep-alive"}


class NameShim:
    """An ASGI app forwarding to ``upstream``, mapping the suite's names for ``server``."""

    def __init__(self, upstream: str, server: str) -> None:
        self.upstream = upstream
        self.tool_prefix = f"{server}__"
        self.uri_prefix = f"agw://{server}/"
        self.client = httpx2.AsyncClient(timeout=httpx2.Timeout(120.0))

    # ----- the mapping ---------------------------------------------------------------------

    def to_gateway(self, message: Any) -> Any:
        if isinstance(message, list):
            return [self.to_gateway(m) for m in message]
        if not isinstance(message, dict) or not isinstance(message.get("params"), dict):
            return message
        method, params = message.get("method"), dict(message["params"])
        if method in ("tools/call", "prompts/get") and isinstance(params.get("name"), str):
            params["name"] = self.tool_prefix + params["name"]
        elif method in ("resources/read", "resources/subscribe", "resources/unsubscribe"):
            params["uri"] = self.uri_prefix + str(params.get("uri"))
        elif method == "completion/complete" and isinstance(params.get("ref"), dict):
            ref = dict(params["ref"])
            if ref.get("type") == "ref/prompt":
                ref["name"] = self.tool_prefix + str(ref.get("name"))
            elif ref.get("type") == "ref/resource":
                ref["uri"] = self.uri_prefix + str(ref.get("uri"))
            params["ref"] = ref
        return {**message, "params": params}

    def to_client(self, value: Any) -> Any:
        if isinstance(value, str):
            for prefix in (self.tool_prefix, self.uri_prefix):
                if value.startswith(prefix):
                    return value[len(prefix) :]
            return value
        if isinstance(value, list):
            return [self.to_client(v) for v in value]
        if isinstance(value, dict):
            return {k: self.to_client(v) for k, v in value.items()}
        return value

    def _sse_line(self, line: str) -> str:
        if not line.startswith("data:") or not line[5:].strip():
            return line
        try:
            data = json.loads(line[5:])
        except ValueError:
            return line
        return "data: " + json.dumps(self.to_client(data), separators=(",", ":"))

    # ----- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await self.client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        if body and scope["method"] == "POST":
            with contextlib.suppress(ValueError):  # not JSON: the gateway answers it as is
                body = json.dumps(self.to_gateway(json.loads(body))).encode()
        url = self.upstream + scope["path"]
        request = self.client.build_request(scope["method"], url, headers=headers, content=body)
        response = await self.client.send(request, stream=True)
        try:
            await self._relay(response, send)
        except httpx2.TransportError:
            pass  # the gateway ended a stream (a session closed): so does the shim
        finally:
            await response.aclose()

    async def _relay(self, response: httpx2.Response, send: Any) -> None:
        kept = [
            (k.encode(), v.encode())
            for k, v in response.headers.multi_items()
            if k.lower().encode() not in HOP_BY_HOP and k.lower() != "content-encoding"
        ]
        stream = response.headers.get("content-type", "").startswith("text/event-stream")
        start = {"type": "http.response.start", "status": response.status_code}
        if stream:
            await send({**start, "headers": kept})
            async for line in response.aiter_lines():
                chunk = (self._sse_line(line) + "\n").encode()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        body = await response.aread()
        if body and response.headers.get("content-type", "").startswith("application/json"):
            body = json.dumps(self.to_client(json.loads(body))).encode()
        kept.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": kept})
        await send({"type": "http.response.body", "body": body})
