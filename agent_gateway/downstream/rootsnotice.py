"""Telling a running downstream that its client's roots changed, as a Backend mixin.

A handshake-era server that uses roots (a filesystem server) asks for them
once and again on ``notifications/roots/list_changed``. The gateway is that
server's client: when a caller's roots change, the front decides which
servers may hear of it (front/roots.py) and calls :meth:`roots_changed` on
each one that is connected. A server that is not running asks when it starts;
a 2026-07-28 server keeps no session and is not told.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

from mcp_types.version import MODERN_PROTOCOL_VERSIONS

if TYPE_CHECKING:
    from fastmcp import Client

logger = logging.getLogger("agent_gateway.downstream.roots")


class RootsNotice:
    """``roots_changed()`` for a Backend."""

    name: str
    _client: Client[Any] | None

    async def roots_changed(self) -> bool:
        """Send ``notifications/roots/list_changed`` if connected in the handshake era.

        True when it was sent; a failure is logged, not raised (the server
        asks again on its next start anyway).
        """
        client = self._client
        if client is None or client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # roots are deprecated in 2026-07-28
                await client.session.send_roots_list_changed()
        except Exception as exc:  # noqa: BLE001 - a dying session: it asks again on restart
            logger.debug("Could not tell %r that the roots changed: %r", self.name, exc)
            return False
        logger.debug("Told %r that its client's roots changed.", self.name)
        return True
