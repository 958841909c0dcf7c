"""OAuth for remote servers (``"auth": "oauth"``): fastmcp's OAuth client over our login files.

The flow itself (discovery of the authorization server, dynamic client
registration or a pre-registered client, PKCE, the RFC 8707 ``resource``
parameter, refresh with the refresh token) is fastmcp's ``OAuth`` on the MCP
SDK's ``OAuthClientProvider``. This module only decides where the tokens live
(downstream/tokenstore.py) and what happens when a person is needed:

- ``LoginOAuth`` (``agent-gateway login``): starts the loopback callback
  server first, then prints the URL and opens the browser, then waits for the
  redirect. The login is staged in memory and written to the file in one go
  once the server accepted the new token.
- ``ServingOAuth`` (the running gateway): never opens a browser. It refreshes
  a little before expiry; when it would need a person (no login, the refresh
  token refused) it raises ``LoginRequiredError``, naming the command to run.

``OAuthGate`` (downstream/logingate.py) is the Backend's side of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import webbrowser
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import anyio
from fastmcp.client.auth import OAuth
from fastmcp.client.oauth_callback import OAuthCallbackResult, create_oauth_callback_server
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

from agent_gateway.core.config import ServerSpec, oauth_entry
from agent_gateway.core.errors import GatewayError, LoginRequiredError
from agent_gateway.downstream.tokenstore import FileKeyValue, TokenFile

if TYPE_CHECKING:
    import httpx2
    from uvicorn.server import Server

REFRESH_MARGIN = 30.0  # refresh this long before expiry (see refresh_margin)
WHOLE_SECOND = 1.0  # a server may keep expiry in whole seconds (a JWT's "exp"), so cut short
CALLBACK_HOST = "localhost"
REFUSED = "its login expired or was revoked (the authorization server refused the refresh token)."


class _QuietWhenLoginNeeded(logging.Filter):
    """The SDK logs every failed flow with a traceback; a wanted login is no crash (the
    Backend logs one line for it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, LoginRequiredError)


logging.getLogger("mcp.client.auth.oauth2").addFilter(_QuietWhenLoginNeeded())


class _StoredOAuth(OAuth):
    """fastmcp's OAuth for one configured server, its tokens in ``file``."""

    def __init__(self, spec: ServerSpec, file: TokenFile, *, keep_client: bool, **kw: Any) -> None:
        entry = oauth_entry(spec)
        assert entry is not None
        self.server = spec.name
        super().__init__(
            mcp_url=entry.url,
            scopes=entry.scopes,
            client_name="agent-gateway",
            token_storage=FileKeyValue(file, keep_client=keep_client),
            callback_port=entry.callback_port,
            callback_host=CALLBACK_HOST,
            client_id=entry.client_id,
            client_secret=entry.client_secret,
            **kw,
        )


class ServingOAuth(_StoredOAuth):
    """The running gateway's OAuth: refreshes early, never asks a person."""

    def __init__(self, spec: ServerSpec, file: TokenFile) -> None:
        # The gateway never registers a client: a registration belongs with its login.
        super().__init__(spec, file, keep_client=True)
        self.file = file
        # Set when a person is needed. The HTTP client's task group may end the session
        # with a bare "connection closed": the Backend asks here what really happened.
        self.refused: LoginRequiredError | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.refused = LoginRequiredError(self.server, REFUSED)
        raise self.refused

    async def callback_handler(self) -> AuthorizationCodeResult:
        self.refused = LoginRequiredError(self.server, REFUSED)
        raise self.refused

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """The SDK's flow, refreshing early; and when the server refuses a token that looked
        valid (it revoked the access token, or restarted), one refresh before giving up:
        the SDK itself would go straight to a new browser login.

        Early refresh is decided when the SDK is about to send ``request``: it holds its lock
        then and has loaded the stored login, which a new session's first request finds only
        there. A token close to expiry is not sent: the flow starts again and refreshes."""
        self._take_new_login()
        retried = early = False
        while True:
            try:
                async with aclosing(super().async_auth_flow(request)) as flow:
                    response: Any = None
                    while True:
                        try:
                            sent = await flow.asend(response)
                        except StopAsyncIteration:
                            return
                        if sent is request and not early and self._expire_early():
                            early = True
                            break  # closing the flow releases its lock; the next one refreshes
                        response = yield sent
            except LoginRequiredError:
                if retried or not self.context.can_refresh_token():
                    raise
                retried, self.refused = True, None
                self.context.token_expiry_time = time.time() - 1  # refresh first, then retry

    def _take_new_login(self) -> None:
        """A new ``agent-gateway login`` replaced the file: use its client and tokens now
        (and never overwrite them with a refresh of the old ones)."""
        if self.context.current_tokens is None or not self.file.changed():
            return
        tokens, client = self.file.tokens(), self.file.client()
        if tokens is None or client is None:
            return
        ctx = self.context
        ctx.client_info = OAuthClientInformationFull.model_validate(client)
        ctx.current_tokens = OAuthToken.model_validate(tokens)
        ctx.token_expiry_time = self.file.expires_at()

    def _expire_early(self) -> bool:
        """Treat a token close to its expiry as expired, so the SDK refreshes it now (True)."""
        ctx = self.context
        tokens, expiry = ctx.current_tokens, ctx.token_expiry_time
        if tokens is None or expiry is None or not tokens.expires_in or not tokens.refresh_token:
            return False
        if time.time() <= expiry - refresh_margin(int(tokens.expires_in)):
            return False
        ctx.token_expiry_time = time.time() - 1
        return True


def refresh_margin(lifetime: float) -> float:
    """How long before its expiry a token of ``lifetime`` seconds is refreshed: 30 s, at most a
    quarter of the lifetime, but at least the second a server may cut off by keeping whole
    seconds (while that is under half the lifetime). A server that finds a token expired may
    revoke its refresh token with it (fastmcp's in-memory provider does): never send one late."""
    return min(REFRESH_MARGIN, lifetime / 2, max(lifetime / 4, WHOLE_SECOND))


class LoginOAuth(_StoredOAuth):
    """``agent-gateway login``: the browser flow, with the callback server up before the URL."""

    def __init__(
        self,
        spec: ServerSpec,
        file: TokenFile,
        *,
        say: Callable[[str], None],
        open_browser: bool,
        timeout: float,
    ) -> None:
        super().__init__(spec, file, keep_client=False, callback_timeout=timeout)
        self._say = say
        self._open_browser = open_browser
        self._wait = timeout
        self._result = OAuthCallbackResult()
        self._ready = anyio.Event()
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        await self._start_callback_server()
        self._say(
            f"To log in to {self.server!r}, open this URL in a browser "
            f"(waiting for it on port {self.redirect_port}):\n  {authorization_url}"
        )
        if self._open_browser:  # some browsers block until closed: never wait for one
            threading.Thread(target=webbrowser.open, args=(authorization_url,), daemon=True).start()

    async def callback_handler(self) -> AuthorizationCodeResult:
        try:
            with anyio.fail_after(self._wait):
                await self._ready.wait()
        except TimeoutError:
            raise GatewayError(
                f"No browser came back to the login of {self.server!r} within {self._wait:g}s."
            ) from None
        finally:
            await self._stop_callback_server()
        if self._result.error:
            raise GatewayError(f"The login of {self.server!r} failed: {self._result.error}")
        return AuthorizationCodeResult(
            code=self._result.code or "", state=self._result.state, iss=self._result.iss
        )

    async def _start_callback_server(self) -> None:
        self._result, self._ready = OAuthCallbackResult(), anyio.Event()
        server = create_oauth_callback_server(
            port=self.redirect_port,
            host=CALLBACK_HOST,
            server_url=self.mcp_url,
            result_container=self._result,
            result_ready=self._ready,
        )
        self._server = server

        async def serve() -> None:
            with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind
                await server.serve()

        self._task = asyncio.get_running_loop().create_task(serve())
        with anyio.move_on_after(10):
            while not server.started and not self._task.done():
                await asyncio.sleep(0.01)
        if not server.started:
            await self._stop_callback_server()
            raise GatewayError(
                f"Cannot listen for the login callback on {CALLBACK_HOST}:{self.redirect_port}; "
                'is the port in use? Set another "callbackPort" for this server.'
            )

    async def _stop_callback_server(self) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        if server is not None:
            server.should_exit = True
        if task is not None:
            with anyio.move_on_after(5):
                await asyncio.wait({task})
            task.cancel()


async def login(
    spec: ServerSpec,
    *,
    say: Callable[[str], None],
    open_browser: bool = True,
    timeout: float = 300.0,
) -> int:
    """Run the browser flow for ``spec`` and store the login; returns its tool count."""
    from fastmcp import Client

    from agent_gateway.downstream.remote import RelayHttpTransport, RelaySSETransport

    entry = oauth_entry(spec)
    if entry is None:
        raise GatewayError(f'Server {spec.name!r} does not use OAuth (no "auth": "oauth").')
    staged = TokenFile(spec.name, entry.url, None)  # a fresh registration, in memory
    auth = LoginOAuth(spec, staged, say=say, open_browser=open_browser, timeout=timeout)
    kind = RelaySSETransport if entry.type == "sse" else RelayHttpTransport
    transport = kind(entry.url, headers=dict(entry.headers), auth=auth)
    async with Client(transport, timeout=entry.timeout) as client:
        tools = await client.list_tools()
    TokenFile.of(spec.name, entry.url).write(staged.read())
    return len(tools)


def logout(spec: ServerSpec) -> bool:
    """Forget the stored login of ``spec``; True when there was one."""
    entry = oauth_entry(spec)
    return entry is not None and TokenFile.of(spec.name, entry.url).delete()


def login_state(spec: ServerSpec, now: float | None = None) -> str:
    """One line on the stored login: none, valid (until when), or refreshable."""
    entry = oauth_entry(spec)
    if entry is None:
        return "no OAuth"
    file = TokenFile.of(spec.name, entry.url)
    tokens = file.tokens()
    if tokens is None:
        return "needs login"
    expires = file.expires_at()
    left = None if expires is None else expires - (time.time() if now is None else now)
    if left is None or left > 0:
        return "logged in" + ("" if left is None else f" (access token valid {left:.0f}s more)")
    if tokens.get("refresh_token"):
        return "logged in (access token expired; the gateway refreshes it)"
    return "needs login (access token expired, no refresh token)"


__all__ = [
    "LoginOAuth",
    "ServingOAuth",
    "login",
    "login_state",
    "logout",
    "refresh_margin",
]
