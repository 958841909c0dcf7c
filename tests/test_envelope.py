"""The gateway's requestState envelope: round trip, tampering, and whose call it belongs to."""

from __future__ import annotations

import base64
import json

import pytest

from agent_gateway.core.envelope import PREFIX, Envelope, seal, unseal

KEY = b"k" * 32
RELAY = Envelope("relay", "asking", "ask_name", "alice", state="down-state")
PARKED = Envelope("parked", "ev", "trigger", None, call="abc123")


@pytest.mark.parametrize("envelope", [RELAY, PARKED, Envelope("relay", "s", "t", None)])
def test_an_envelope_comes_back_as_it_was_sealed(envelope: Envelope) -> None:
    token = seal(envelope, KEY)
    assert token.startswith(PREFIX)
    assert unseal(token, KEY) == envelope


def _tampered_payload(token: str, **change: object) -> str:
    body, _, tag = token[len(PREFIX) :].partition(".")
    fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    fields.update(change)
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return f"{PREFIX}{base64.urlsafe_b64encode(raw).decode().rstrip('=')}.{tag}"


TOKEN = seal(RELAY, KEY)


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (_tampered_payload(TOKEN, a="bob"), "another agent written in"),
        (_tampered_payload(TOKEN, s="other"), "another server written in"),
        (_tampered_payload(TOKEN, d="other-state"), "another downstream state written in"),
        (TOKEN[:-2] + ("AA" if TOKEN[-2:] != "AA" else "BB"), "the signature changed"),
        (TOKEN.replace(PREFIX, "agw2.", 1), "another format"),
        (TOKEN.split(".", 2)[0] + "." + TOKEN.split(".", 2)[1], "no signature"),
        ("", "empty"),
        ("agw1.!!!.###", "not base64"),
        (None, "not a string"),
        (seal(RELAY, b"x" * 32), "another process's key"),
    ],
)
def test_an_envelope_that_was_not_sealed_unchanged_by_this_key_is_refused(
    token: object, why: str
) -> None:
    assert unseal(token, KEY) is None, why


@pytest.mark.parametrize(
    ("server", "tool", "agent", "fits"),
    [
        ("asking", "ask_name", "alice", True),
        ("asking", "ask_name", "bob", False),
        ("asking", "ask_name", None, False),
        ("asking", "other", "alice", False),
        ("other", "ask_name", "alice", False),
    ],
)
def test_an_envelope_fits_only_the_call_it_was_made_for(
    server: str, tool: str, agent: str | None, fits: bool
) -> None:
    assert RELAY.fits(server, tool, agent) is fits
