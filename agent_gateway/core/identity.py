"""Who is calling: launch-bound agent, HTTP bearer token, or a declared ``agent_id``.

In order: (1) ``serve --agent NAME`` / ``$AGENT_GATEWAY_AGENT`` binds every
call of this gateway to NAME; (2) over HTTP, ``Authorization: Bearer TOKEN``
binds the request to the agent whose policy lists the token's SHA-256 (a
token that matches nobody is refused, never downgraded); (3) otherwise the
optional ``agent_id`` argument of a meta-tool declares who is calling, which
scopes context but is not a security boundary: it selects only agents whose
policy lists no ``tokens_sha256`` (a token-protected agent is reachable only
with its token or a launch binding); (4) no identity at all means
``default.toml``. A bound identity is never replaced by a different
``agent_id``: that call is refused.

Every reader of the ``Authorization`` header (the HTTP guard, the meta-tools,
the fast call route) goes through :func:`authorization_header`, so they all
see the same value and all refuse a request that carries several.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from agent_gateway.core.errors import DuplicateHeaderError, IdentityError
from agent_gateway.core.policy import PolicySet

How = Literal["launch", "token", "declared", "none"]


@dataclass(frozen=True)
class Caller:
    agent: str | None
    how: How


def authorization_header(raw_headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The one ``Authorization`` value of raw ASGI headers; several is an error."""
    values = [value for name, value in raw_headers if name.lower() == b"authorization"]
    if len(values) > 1:
        raise DuplicateHeaderError(
            "The request has more than one Authorization header. "
            "Send exactly one: 'Authorization: Bearer TOKEN'."
        )
    return values[0].decode("latin-1") if values else None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise IdentityError("The Authorization header must be 'Bearer TOKEN'.")
    return token.strip()


def agent_for_bearer(policies: PolicySet, authorization: str | None) -> str | None:
    """The agent bound by a bearer header; IdentityError for a token nobody owns."""
    token = bearer_token(authorization)
    if token is None:
        return None
    agent = policies.agent_for_token(token)
    if agent is None:
        raise IdentityError(
            "The bearer token matches no agent. Create one with 'agent-gateway token NAME' "
            "and paste its tokens_sha256 line into policies/NAME.toml."
        )
    return agent


def resolve(
    *,
    launch_agent: str | None,
    token_agent: str | None,
    agent_id: str | None,
    token_agents: Collection[str],
) -> Caller:
    """Decide who is calling. Pure. ``token_agents``: the agents that own a token."""
    declared = agent_id or None
    if launch_agent is not None:
        bound, how = launch_agent, "launch"
    elif token_agent is not None:
        bound, how = token_agent, "token"
    else:
        if declared is None:
            return Caller(None, "none")
        if declared in token_agents:
            raise IdentityError(
                f"agent_id {declared!r} is protected by a token (tokens_sha256 in its policy). "
                "Send 'Authorization: Bearer TOKEN', or bind the gateway with "
                f"'serve --agent {declared}'; agent_id alone selects only agents without tokens."
            )
        return Caller(declared, "declared")
    if declared is not None and declared != bound:
        raise IdentityError(
            f"agent_id {declared!r} does not match the agent this connection is bound to "
            f"({bound!r}). Omit agent_id."
        )
    return Caller(bound, how)  # type: ignore[arg-type]
