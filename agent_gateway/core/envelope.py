"""The gateway's own ``requestState``: which call a 2026-07-28 caller's retry continues.

Under the 2026-07-28 revision a server that needs input answers ``tools/call``
with an ``input_required`` result carrying an opaque ``requestState``; the
client answers the questions and calls again with that state. Through the
gateway the state the caller sees is an :class:`Envelope`: the server, the
tool and the agent the call was made for, and either the downstream's own
state (``relay``: the downstream continues its call itself) or the id of a
call the gateway keeps waiting in memory (``parked``: a handshake-era
downstream's question, asked on the caller's behalf).

The envelope is signed (HMAC-SHA256 under a key of the gateway process): the
front also seals every ``requestState`` it sends (the SDK's request-state
boundary, AES-GCM under its own per-process key), but the gateway does not
rely on that alone. Replicas behind one Service would need one shared key for
both; see the README. :func:`unseal` answers ``None`` for anything it did not
sign unchanged; whether an intact envelope belongs to the call it came with
is :meth:`Envelope.fits`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

PREFIX = "agw1."
Kind = Literal["relay", "parked"]


@dataclass(frozen=True)
class Envelope:
    """One round's continuation: whose call it is, and where it goes on."""

    kind: Kind
    server: str
    tool: str
    agent: str | None
    state: str | None = None  # relay: the downstream's own requestState
    call: str | None = None  # parked: the id of the call held in memory

    def fits(self, server: str, tool: str, agent: str | None) -> bool:
        """Was this envelope made for a call of ``tool`` on ``server`` by ``agent``?"""
        return (self.server, self.tool, self.agent) == (server, tool, agent)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def _tag(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, PREFIX.encode() + payload, hashlib.sha256).digest()


def seal(envelope: Envelope, key: bytes) -> str:
    """The envelope as an opaque, signed string."""
    fields = {
        "k": envelope.kind,
        "s": envelope.server,
        "t": envelope.tool,
        "a": envelope.agent,
        "d": envelope.state,
        "c": envelope.call,
    }
    payload = json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode()
    return f"{PREFIX}{_b64(payload)}.{_b64(_tag(key, payload))}"


def unseal(token: object, key: bytes) -> Envelope | None:
    """The envelope ``token`` carries, or None when it is not one this key signed unchanged."""
    if not isinstance(token, str) or not token.startswith(PREFIX):
        return None
    body, _, tag = token[len(PREFIX) :].partition(".")
    try:
        payload, given = _unb64(body), _unb64(tag)
    except ValueError:
        return None
    if not hmac.compare_digest(given, _tag(key, payload)):
        return None
    try:
        fields = json.loads(payload)
        kind, server, tool = fields["k"], fields["s"], fields["t"]
        agent, state, call = fields["a"], fields["d"], fields["c"]
    except (ValueError, KeyError, TypeError):
        return None
    if kind not in ("relay", "parked") or not isinstance(server, str) or not isinstance(tool, str):
        return None
    if not all(v is None or isinstance(v, str) for v in (agent, state, call)):
        return None
    return Envelope(kind, server, tool, agent, state, call)
