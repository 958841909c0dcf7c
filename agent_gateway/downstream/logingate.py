"""A Backend's side of OAuth: its transport's auth, and waiting for a person to log in.

A server whose login is missing or was refused is not retried on the usual
backoff: calls fail at once with the ``agent-gateway login`` command to run,
until the server's login file changes; then the next call connects at once
(a fresh ``login`` is picked up without a restart). The flow itself is in
downstream/oauth.py (which imports fastmcp, so it is loaded only when needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_gateway.core.config import ServerSpec, oauth_entry
from agent_gateway.core.errors import BackendError, LoginRequiredError
from agent_gateway.downstream.tokenstore import Stamp, TokenFile

if TYPE_CHECKING:
    from agent_gateway.downstream.oauth import ServingOAuth

NO_LOGIN = "it has no login yet."


class OAuthGate:
    """A Backend's OAuth side: its auth for the transport, and waiting for a login."""

    name: str
    spec: ServerSpec
    _retry_at: float
    _login_wait: tuple[Stamp | None] | None = (
        None  # the file's stamp when a login was found wanting
    )
    _auth: ServingOAuth | None = None  # the current session's OAuth

    def _login_file(self) -> TokenFile | None:
        entry = oauth_entry(self.spec)
        return None if entry is None else TokenFile.of(self.name, entry.url)

    def _oauth(self) -> ServingOAuth | None:
        """The transport's auth (None: no OAuth); LoginRequiredError with no login stored."""
        file = self._login_file()
        if file is None:
            return None
        if file.tokens() is None:
            raise LoginRequiredError(self.name, NO_LOGIN)
        from agent_gateway.downstream.oauth import ServingOAuth  # imports fastmcp

        self._auth = ServingOAuth(self.spec, file)
        return self._auth

    def _login_error(self, err: BackendError) -> BackendError:
        """``err``, or the login error behind it (the session ended for want of a login)."""
        auth = self._auth
        return auth.refused if auth is not None and auth.refused is not None else err

    def _wait_for_login(self) -> None:
        """A login is needed: retry only once the login file changes."""
        file = self._login_file()
        self._login_wait = (None if file is None else file.stamp(),)

    def _login_failed(self, err: BackendError) -> None:
        """A recorded failure: when it wants a login, wait for one."""
        if isinstance(err, LoginRequiredError):
            self._wait_for_login()

    def _login_changed(self) -> bool:
        """Not waiting for a login, or the awaited login arrived (then retry at once)."""
        waiting = self._login_wait
        if waiting is None:
            return True
        file = self._login_file()
        if file is None or file.stamp() != waiting[0]:
            self._login_wait = None
            self._retry_at = 0.0
            return True
        return False


__all__ = ["NO_LOGIN", "OAuthGate"]
