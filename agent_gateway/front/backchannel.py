"""The caller's side of a downstream's questions: elicitation, sampling and roots.

A :class:`CallerPeer` is made for each call from the caller's request-scoped
session and request id. For a handshake-era caller it is put in ``CALL_PEER``
for the call (downstream/backchannel.py decides which call a downstream's
request belongs to); a 2026-07-28 caller's call gets a front/parking.py peer
instead, which asks through an input_required result. The gateway also asks
a 2026-07-28 server's questions through it (front/rounds.py). It forwards the
request unchanged on the caller's own session, tied to the caller's request,
and returns the caller's answer unchanged. A caller whose client lacks the
capability, or whose connection has no channel for server requests, answers
at once with an error that says so: the downstream never hangs. Only the
caller of a call to a server can be asked, so a server an agent may not see
can never reach that agent this way.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import mcp_types
from mcp import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from agent_gateway.downstream.backchannel import (
    METHOD_NOT_FOUND,
    ElicitAnswer,
    RootsAnswer,
    SampleAnswer,
)

logger = logging.getLogger("agent_gateway.front.backchannel")

INTERNAL_ERROR = -32603

_CAPABILITY = {
    "elicitation": mcp_types.ClientCapabilities(elicitation=mcp_types.ElicitationCapability()),
    "sampling": mcp_types.ClientCapabilities(sampling=mcp_types.SamplingCapability()),
    "roots": mcp_types.ClientCapabilities(roots=mcp_types.RootsCapability()),
}


class CallerPeer:
    """One call's caller: its SDK session and the id of its tools/call request."""

    def __init__(self, session: Any, request_id: Any) -> None:
        self.session = session
        self.request_id = request_id

    @property
    def modern(self) -> bool:
        """Does the caller speak 2026-07-28 (questions go in input_required results)?"""
        return getattr(self.session, "protocol_version", None) in MODERN_PROTOCOL_VERSIONS

    def refusal(
        self, server: str, what: str, *, channel: bool = True
    ) -> mcp_types.ErrorData | None:
        """Why ``what`` cannot be asked of this caller, or None when it can.

        ``channel``: the question goes as a server request on the caller's
        connection (handshake era), which must be able to carry one.
        """
        session = self.session
        try:
            capable = session.check_client_capability(_CAPABILITY[what])
            open_channel = bool(getattr(session, "can_send_request", True)) or not channel
        except Exception:  # a session that cannot say: treat as unable, never hang
            logger.debug("Could not read the caller's capabilities", exc_info=True)
            capable, open_channel = False, False
        if not capable:
            reason = f"the client calling {server!r} through agent-gateway does not support {what}"
        elif not open_channel:
            reason = (
                f"the client calling {server!r} through agent-gateway speaks MCP "
                f"{getattr(session, 'protocol_version', '2026-07-28')}, whose connection carries "
                f"no {what} request from the server"
            )
        else:
            return None
        return mcp_types.ErrorData(code=METHOD_NOT_FOUND, message=f"Not relayed: {reason}.")

    async def _ask(self, request: Any, result_type: type[Any]) -> Any:
        metadata = ServerMessageMetadata(related_request_id=self.request_id)
        try:
            return await self.session.send_request(request, result_type, metadata=metadata)
        except MCPError as exc:  # the caller's error goes back to the server as it came
            return mcp_types.ErrorData(code=exc.code, message=exc.message, data=exc.data)
        except (ValidationError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            return mcp_types.ErrorData(
                code=INTERNAL_ERROR, message=f"The caller could not answer: {exc}"
            )

    async def elicit(self, server: str, params: mcp_types.ElicitRequestParams) -> ElicitAnswer:
        refusal = self.refusal(server, "elicitation")
        if refusal is not None:
            return refusal
        logger.debug("Relaying an elicitation of %r to its caller", server)
        answer: ElicitAnswer = await self._ask(
            mcp_types.ElicitRequest(params=params), mcp_types.ElicitResult
        )
        return answer

    async def sample(
        self, server: str, params: mcp_types.CreateMessageRequestParams
    ) -> SampleAnswer | mcp_types.ErrorData:
        refusal = self.refusal(server, "sampling")
        if refusal is not None:
            return refusal
        logger.debug("Relaying a sampling request of %r to its caller", server)
        kind = (
            mcp_types.CreateMessageResultWithTools
            if params.tools
            else mcp_types.CreateMessageResult
        )
        answer: SampleAnswer | mcp_types.ErrorData = await self._ask(
            mcp_types.CreateMessageRequest(params=params), kind
        )
        return answer

    async def roots(self, server: str) -> RootsAnswer:
        refusal = self.refusal(server, "roots")
        if refusal is not None:
            return refusal
        answer: RootsAnswer = await self._ask(
            mcp_types.ListRootsRequest(), mcp_types.ListRootsResult
        )
        return answer
