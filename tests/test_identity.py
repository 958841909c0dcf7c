"""Who is calling: ``identity.resolve``, ``bearer_token`` and ``agent_for_bearer`` (pure)."""

from __future__ import annotations

import hashlib

import pytest

from agent_gateway.core.errors import DuplicateHeaderError, IdentityError
from agent_gateway.core.identity import (
    Caller,
    agent_for_bearer,
    authorization_header,
    bearer_token,
    resolve,
)
from agent_gateway.core.policy import Policy, PolicySet


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


ALICE_TOKEN = "tok-alice-3f9a"
BOB_TOKEN = "tok-bob-77c1"

POLICIES = PolicySet.from_dicts(
    {
        "alice": {"allow": {"servers": ["*"]}, "tokens_sha256": [sha(ALICE_TOKEN)]},
        "bob": {"allow": {"servers": ["public"]}, "tokens_sha256": [sha(BOB_TOKEN), sha("b2")]},
        "carol": {"allow": {"servers": ["public"]}},
        "default": {"allow": {"servers": ["public"]}},
    }
)

PROTECTED = POLICIES.token_agents

# --------------------------------------------------------------------------- resolve

# (id, launch_agent, token_agent, agent_id, expected Caller or None for IdentityError)
RESOLVE_CASES = [
    ("none", None, None, None, Caller(None, "none")),
    ("empty-agent-id-is-none", None, None, "", Caller(None, "none")),
    ("declared", None, None, "carol", Caller("carol", "declared")),
    ("declared-unknown", None, None, "mallory", Caller("mallory", "declared")),
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
            resolve(
                launch_agent=launch, token_agent=token, agent_id=agent_id, token_agents=PROTECTED
            )
        text = str(info.value)
        assert repr(agent_id) in text  # names what was claimed
        assert repr(launch or token) in text  # and what the connection is bound to
        assert "Omit agent_id" in text  # and the next step
    else:
        assert (
            resolve(
                launch_agent=launch, token_agent=token, agent_id=agent_id, token_agents=PROTECTED
            )
            == expected
        )


# (id, agent_id): a token-protected agent is never selected by a declared agent_id
PROTECTED_CASES = [("alice", "alice"), ("bob-with-two-tokens", "bob")]


@pytest.mark.parametrize(
    "agent_id", [c[1] for c in PROTECTED_CASES], ids=[c[0] for c in PROTECTED_CASES]
)
def test_a_declared_agent_id_cannot_select_a_token_protected_agent(agent_id: str) -> None:
    assert agent_id in POLICIES.token_agents
    with pytest.raises(IdentityError) as info:
        resolve(launch_agent=None, token_agent=None, agent_id=agent_id, token_agents=PROTECTED)
    text = str(info.value)
    assert repr(agent_id) in text and "Bearer TOKEN" in text and "tokens_sha256" in text
    # its own token, or a launch binding, still reaches it
    bound = resolve(
        launch_agent=None, token_agent=agent_id, agent_id=agent_id, token_agents=PROTECTED
    )
    assert bound == Caller(agent_id, "token")
    launched = resolve(
        launch_agent=agent_id, token_agent=None, agent_id=agent_id, token_agents=PROTECTED
    )
    assert launched == Caller(agent_id, "launch")


def test_token_agents_lists_exactly_the_agents_with_tokens() -> None:
    assert POLICIES.token_agents == frozenset({"alice", "bob"})
    assert PolicySet.open().token_agents == frozenset()


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
    assert resolve(
        launch_agent=None, token_agent=token_agent, agent_id=None, token_agents=PROTECTED
    ) == Caller("bob", "token")
    with pytest.raises(IdentityError):
        resolve(
            launch_agent=None, token_agent=token_agent, agent_id="alice", token_agents=PROTECTED
        )


# --------------------------------------------------------------------------- identity -> policy

# (id, launch, agent_id, servers visible of ["public", "secret"])
SCOPE_CASES = [
    ("none-gets-default", None, None, ["public"]),
    ("declared-carol", None, "carol", ["public"]),
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
    caller = resolve(
        launch_agent=launch, token_agent=None, agent_id=agent_id, token_agents=PROTECTED
    )
    assert POLICIES.visible_servers(caller.agent, ["public", "secret"]) == visible
    if caller.agent == "mallory":
        assert POLICIES.policy_for("mallory") is None  # fail closed, even with a default.toml
        assert "policies/mallory.toml" in (POLICIES.hint_for("mallory") or "")


# --------------------------------------------------------------------------- authorization_header

# (id, raw ASGI headers, expected value, or DuplicateHeaderError)
HEADER_CASES: list[
    tuple[str, list[tuple[bytes, bytes]], str | type[DuplicateHeaderError] | None]
] = [
    ("none", [], None),
    ("other-headers-only", [(b"host", b"x"), (b"accept", b"*/*")], None),
    ("one", [(b"authorization", b"Bearer t")], "Bearer t"),
    ("one-mixed-case-name", [(b"Authorization", b"Bearer t")], "Bearer t"),
    (
        "two-same",
        [(b"authorization", b"Bearer t"), (b"authorization", b"Bearer t")],
        DuplicateHeaderError,
    ),
    (
        "two-different",
        [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
        DuplicateHeaderError,
    ),
    (
        "two-names-differ-in-case",
        [(b"authorization", b"Bearer a"), (b"AUTHORIZATION", b"x")],
        DuplicateHeaderError,
    ),
    (
        "two-one-empty",
        [(b"authorization", b""), (b"authorization", b"Bearer b")],
        DuplicateHeaderError,
    ),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [c[1:] for c in HEADER_CASES], ids=[c[0] for c in HEADER_CASES]
)
def test_authorization_header_reads_one_header_and_refuses_several(
    raw: list[tuple[bytes, bytes]], expected: str | type[DuplicateHeaderError] | None
) -> None:
    if expected is DuplicateHeaderError:
        with pytest.raises(DuplicateHeaderError) as info:
            authorization_header(raw)
        assert "more than one Authorization header" in str(info.value)
        assert "Bearer a" not in str(info.value)  # never echo a credential
    else:
        assert authorization_header(raw) == expected


def test_a_duplicated_authorization_header_is_an_identity_error() -> None:
    assert issubclass(DuplicateHeaderError, IdentityError)
