"""Per-request relays: the caller's session and request id, and where progress and logs go.

Captured when a call starts, so a downstream's notifications (which arrive on
its session's reader task, not the caller's) reach exactly that request.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from fastmcp import Context

from agent_gateway.downstream.backend import LogFn, ProgressFn
from agent_gateway.front.redaction import redact, redact_tree

if TYPE_CHECKING:
    from fastmcp.client.logging import LogMessage


def request_of(ctx: Context | None) -> tuple[Any, Any]:
    """The request-scoped SDK session and request id behind a fastmcp ``Context``."""
    if ctx is None:
        return None, None
    try:
        return ctx.session, ctx.request_id
    except RuntimeError:
        return None, None


def relays(session: Any, request_id: Any) -> tuple[ProgressFn | None, LogFn | None]:
    """Progress and log relays bound to THIS request.

    The downstream's notifications arrive on its session's reader task, whose
    context is not this request's: use the request-scoped session and id
    captured now instead of resolving them from context variables later.
    """

    async def progress(value: float, total: float | None, message: str | None) -> None:
        await session.report_progress(value, total, None if message is None else redact(message))

    async def on_log(message: LogMessage) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the logging capability is deprecated in 2026-07-28
            send = session.send_log_message(
                level=message.level,
                data=redact_tree(message.data),  # a server's log line may echo its secrets
                logger=message.logger,
                related_request_id=request_id,
            )
        await send

    return progress, on_log
