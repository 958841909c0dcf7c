"""Who is calling: ``identity.resolve``, ``bearer_token`` and ``agent_for_bearer`` (pure)."""

from __future__ import annotations

import hashlib

import pytest

from agent_gateway.core.errors import IdentityError
from agent_gateway.core.identity import Caller, agent_for_bearer, bearer_token, resolve
from agent_gateway.core.policy import Policy, PolicySet


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


ALICE_TOKEN = "tok-alice-3f9a"
BOB_TOKEN = "tok-bob-77c1"

POLICIES = PolicySet.from_dicts(
    {
        "alice": {"allow": {"servers": ["*"]}, "tokens_sha256": [sha(ALICE_TOKEN)]},
        "bob": {"allow": {"servers": ["public"]}, "tokens_sha256": [sha(BOB_TOKEN), sha("b2")]},
        "default": {"allow": {"servers": ["public"]}},
    }
)

# --------------------------------------------------------------------------- resolve

# (id, launch_agent, token_agent, agent_id, expected Caller or None for IdentityError)
RESOLVE_CASES = [
    ("none", None, None, None, Caller(None, "none")),
    ("empty-agent-id-is-none", None, None, "", Caller(None, "none")),
    ("declared", None, None, "bob", Caller("bob", "declared")),
    ("launch-bound", "alice", None, None, Caller("alice", "launch")),
    ("launch-bound-empty-agent-id", "alice", None, "", Caller("alice", "launch")),
    ("launch-bound-same-agent-id", "alice", None, "alice", Caller("alice", "launch")),
    ("launch-bound-other-agent-id", "alice", None, "admin", None),
    ("launch-bound-agent-id-differs-in-case", "alice", None, "Alice", None),
    ("launch-bound-agent-id-with-space", "alice", None, "alice ", None),
    ("token-bound", None, "bob", None, Caller("bob", "token")),
    ("token-bound-empty-agent-id", None, "bob", "", Caller("bob", "token")),
    ("token-bound-same-agent-id", None, "bob", "bob", Caller("bob", "token")),
    ("token-bound-other-agent-id", None, "bob", "admin", None),
    ("launch-wins-over-token", "alice", "bob", None, Caller("alice", "launch")),
    ("launch-wins-agent-id-of-token-refused", "alice", "bob", "bob", None),
    ("launch-wins-own-agent-id-ok", "alice", "bob", "alice", Caller("alice", "launch")),
    ("declared-default-is-just-a-name", None, None, "default", Caller("default", "declared")),
]


@pytest.mark.parametrize(
    ("launch", "token", "agent_id", "expected"),
    [case[1:] for case in RESOLVE_CASES],
    ids=[case[0] for case in RESOLVE_CASES],
)
def test_resolve(
    launch: str | None, token: str | None, agent_id: str | None, expected: Caller | None
) -> None:
    if expected is None:
        with pytest.raises(IdentityError) as info:
            resolve(launch_agent=launch, token_agent=token, agent_id=agent_id)
        text = str(info.value)
        assert repr(agent_id) in text  # names what was claimed
        assert repr(launch or token) in text  # and what the connection is bound to
        assert "Omit agent_id" in text  # and the next step
    else:
        assert resolve(launch_agent=launch, token_agent=token, agent_id=agent_id) == expected


def test_resolve_takes_keyword_arguments_only() -> None:
    with pytest.raises(TypeError):
        resolve("alice", None, None)  # type: ignore[misc]


# --------------------------------------------------------------------------- bearer_token

# (id, Authorization header, expected token, or IdentityError)
BEARER_CASES: list[tuple[str, str | None, str | type[IdentityError] | None]] = [
    ("absent", None, None),
    ("empty", "", None),
    ("plain", f"Bearer {ALICE_TOKEN}", ALICE_TOKEN),
    ("scheme-lowercase", f"bearer {ALICE_TOKEN}", ALICE_TOKEN),
    ("scheme-uppercase", f"BEARER {ALICE_TOKEN}", ALICE_TOKEN),
    ("surrounding-spaces", f"  Bearer {ALICE_TOKEN}  ", ALICE_TOKEN),
    ("extra-spaces-after-scheme", f"Bearer    {ALICE_TOKEN}", ALICE_TOKEN),
    ("basic-scheme", "Basic dXNlcjpwYXNz", IdentityError),
    ("token-scheme", f"Token {ALICE_TOKEN}", IdentityError),
    ("scheme-only", "Bearer", IdentityError),
    ("scheme-and-spaces", "Bearer    ", IdentityError),
    ("token-without-scheme", ALICE_TOKEN, IdentityError),
    ("only-spaces", "   ", IdentityError),
    ("scheme-glued-to-token", f"Bearer:{ALICE_TOKEN}", IdentityError),
]


@pytest.mark.parametrize(
    ("header", "expected"), [c[1:] for c in BEARER_CASES], ids=[c[0] for c in BEARER_CASES]
)
def test_bearer_token(header: str | None, expected: str | type[IdentityError] | None) -> None:
    if expected is IdentityError:
        with pytest.raises(IdentityError, match="Bearer TOKEN"):
            bearer_token(header)
    else:
        assert bearer_token(header) == expected


def test_a_malformed_header_never_echoes_its_value() -> None:
    with pytest.raises(IdentityError) as info:
        bearer_token("Basic c2VjcmV0LXZhbHVl")
    assert "c2VjcmV0LXZhbHVl" not in str(info.value)


# --------------------------------------------------------------------------- agent_for_bearer

AGENT_CASES: list[tuple[str, str | None, str | type[IdentityError] | None]] = [
    ("no-header-no-agent", None, None),
    ("empty-header-no-agent", "", None),
    ("alice-token", f"Bearer {ALICE_TOKEN}", "alice"),
    ("bob-first-token", f"Bearer {BOB_TOKEN}", "bob"),
    ("bob-second-token", "Bearer b2", "bob"),
    ("unknown-token", "Bearer not-a-known-token", IdentityError),
    ("token-case-matters", f"Bearer {ALICE_TOKEN.upper()}", IdentityError),
    ("token-prefix-is-not-enough", f"Bearer {ALICE_TOKEN[:-1]}", IdentityError),
    ("digest-is-not-the-token", f"Bearer {sha(ALICE_TOKEN)}", IdentityError),
    ("malformed-header", f"Basic {ALICE_TOKEN}", IdentityError),
]


@pytest.mark.parametrize(
    ("header", "expected"), [c[1:] for c in AGENT_CASES], ids=[c[0] for c in AGENT_CASES]
)
def test_agent_for_bearer(header: str | None, expected: str | type[IdentityError] | None) -> None:
    if expected is IdentityError:
        with pytest.raises(IdentityError):
            agent_for_bearer(POLICIES, header)
    else:
        assert agent_for_bearer(POLICIES, header) == expected


def test_a_token_matching_nobody_is_refused_never_downgraded() -> None:
    # "default" exists, so a downgrade to "no identity" would grant something: it must not.
    with pytest.raises(IdentityError) as info:
        agent_for_bearer(POLICIES, "Bearer stolen-or-stale")
    text = str(info.value)
    assert "matches no agent" in text
    assert "agent-gateway token NAME" in text  # the next step
    assert "stolen-or-stale" not in text  # never echo the token


def test_any_token_is_refused_when_no_policy_lists_tokens() -> None:
    plain = PolicySet.from_dicts({"default": Policy(), "carol": Policy()})
    assert agent_for_bearer(plain, None) is None
    with pytest.raises(IdentityError):
        agent_for_bearer(plain, "Bearer anything")


def test_token_then_resolve_binds_the_request() -> None:
    token_agent = agent_for_bearer(POLICIES, f"Bearer {BOB_TOKEN}")
    assert resolve(launch_agent=None, token_agent=token_agent, agent_id=None) == Caller(
        "bob", "token"
    )
    with pytest.raises(IdentityError):
        resolve(launch_agent=None, token_agent=token_agent, agent_id="alice")


# --------------------------------------------------------------------------- identity -> policy

# (id, launch, agent_id, servers visible of ["public", "secret"])
SCOPE_CASES = [
    ("none-gets-default", None, None, ["public"]),
    ("declared-alice", None, "alice", ["public", "secret"]),
    ("declared-bob", None, "bob", ["public"]),
    ("declared-unknown-gets-nothing-not-default", None, "mallory", []),
    ("declared-default-by-name", None, "default", ["public"]),
    ("launch-bound-bob", "bob", None, ["public"]),
]


@pytest.mark.parametrize(
    ("launch", "agent_id", "visible"), [c[1:] for c in SCOPE_CASES], ids=[c[0] for c in SCOPE_CASES]
)
def test_the_resolved_caller_selects_the_policy(
    launch: str | None, agent_id: str | None, visible: list[str]
) -> None:
    caller = resolve(launch_agent=launch, token_agent=None, agent_id=agent_id)
    assert POLICIES.visible_servers(caller.agent, ["public", "secret"]) == visible
    if caller.agent == "mallory":
        assert POLICIES.policy_for("mallory") is None  # fail closed, even with a default.toml
        assert "policies/mallory.toml" in (POLICIES.hint_for("mallory") or "")
