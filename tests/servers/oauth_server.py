"""An OAuth-protected MCP server with its own authorization server on loopback (tests).

Run:  python tests/servers/oauth_server.py PORT     (MCP at http://127.0.0.1:PORT/mcp)

fastmcp's in-memory provider is the authorization server: discovery (RFC 9728
and RFC 8414 metadata), dynamic client registration, authorization code with
PKCE and an authorize endpoint that approves at once (so a test's "browser" is
one GET that follows the redirect to the callback), refresh tokens (rotated on
use), revocation. Environment:

- ``OAUTH_TOKEN_LIFETIME``: access-token lifetime in seconds (default 3600);
- ``OAUTH_CLIENT_ID``, ``OAUTH_CLIENT_SECRET``, ``OAUTH_REDIRECT``: a
  pre-registered confidential client and its one redirect URI.

Test routes (no auth): ``POST /test/revoke`` forgets every refresh token (the
next refresh gets ``invalid_grant``); ``POST /test/revoke-access`` forgets every
access token (the next call gets 401, a refresh still works); ``POST
/test/expire-access`` makes every access token expired, as if the server's clock
ran ahead (the provider revokes a token's refresh token too when it is presented
after its expiry); ``GET /test/stats`` counts registrations, code exchanges and
refreshes.
"""

from __future__ import annotations

import os
import sys
import time

from fastmcp import FastMCP
from fastmcp.server.auth.auth import ClientRegistrationOptions, RevocationOptions
from fastmcp.server.auth.providers import in_memory
from fastmcp.server.dependencies import get_access_token
from mcp.server.auth.provider import AuthorizationCode, RefreshToken
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl
from starlette.requests import Request
from starlette.responses import JSONResponse

STATS = {"registrations": 0, "logins": 0, "refreshes": 0, "refresh_failures": 0}


class Provider(in_memory.InMemoryOAuthProvider):
    """The in-memory provider, counting what it does."""

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        STATS["registrations"] += 1
        await super().register_client(client_info)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        STATS["logins"] += 1
        return await super().exchange_authorization_code(client, authorization_code)

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        found = await super().load_refresh_token(client, refresh_token)
        if found is None:
            STATS["refresh_failures"] += 1
        return found

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        STATS["refreshes"] += 1
        return await super().exchange_refresh_token(client, refresh_token, scopes)


def build(port: int) -> FastMCP:
    in_memory.DEFAULT_ACCESS_TOKEN_EXPIRY_SECONDS = int(
        os.environ.get("OAUTH_TOKEN_LIFETIME", "3600")
    )
    base = f"http://127.0.0.1:{port}"
    provider = Provider(
        base_url=base,
        client_registration_options=ClientRegistrationOptions(enabled=True),
        revocation_options=RevocationOptions(enabled=True),
    )
    if client_id := os.environ.get("OAUTH_CLIENT_ID"):
        provider.clients[client_id] = OAuthClientInformationFull(
            client_id=client_id,
            client_secret=os.environ["OAUTH_CLIENT_SECRET"],
            redirect_uris=[AnyUrl(os.environ["OAUTH_REDIRECT"])],
            token_endpoint_auth_method="client_secret_post",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        )
    mcp = FastMCP("oauth-test", auth=provider)

    @mcp.tool
    def whoami() -> str:
        """Say which OAuth client the caller's token belongs to."""
        token = get_access_token()
        return f"client {token.client_id if token else None}"

    @mcp.custom_route("/test/revoke", methods=["POST"])
    async def revoke(request: Request) -> JSONResponse:
        provider.refresh_tokens.clear()
        return JSONResponse({"ok": True})

    @mcp.custom_route("/test/revoke-access", methods=["POST"])
    async def revoke_access(request: Request) -> JSONResponse:
        provider.access_tokens.clear()
        return JSONResponse({"ok": True})

    @mcp.custom_route("/test/expire-access", methods=["POST"])
    async def expire_access(request: Request) -> JSONResponse:
        past = int(time.time()) - 1
        for key, token in provider.access_tokens.items():
            provider.access_tokens[key] = token.model_copy(update={"expires_at": past})
        return JSONResponse({"ok": True})

    @mcp.custom_route("/test/stats", methods=["GET"])
    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(STATS)

    return mcp


if __name__ == "__main__":
    port = int(sys.argv[1])
    build(port).run(transport="http", host="127.0.0.1", port=port, show_banner=False)
