"""A retry's input to a downstream (2026-07-28 ``input_required``), and such a result, read.

A 2026-07-28 downstream that needs input answers ``tools/call`` with an
``InputRequiredResult``: questions (``inputRequests``: elicitation, sampling,
roots) and its own opaque ``requestState``. The call goes on when the same
``tools/call`` is sent again with :class:`Answers`: the answers under the keys
the downstream chose, and its state byte for byte. Who answers (the caller,
asked on its own session or through its own retry) is the front's business
(front/inputrelay.py); this module only carries the two fields both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mcp_types

from agent_gateway.core.errors import BackendError


@dataclass(frozen=True)
class Answers:
    """What a retry carries to the downstream: answers by key, and its own requestState."""

    responses: dict[str, mcp_types.InputResponse] | None
    state: str | None

    def wire(self) -> dict[str, Any]:
        """The ``tools/call`` params fields, as JSON."""
        params: dict[str, Any] = {}
        if self.responses is not None:
            params["inputResponses"] = {
                key: answer.model_dump(mode="json", by_alias=True, exclude_none=True)
                for key, answer in self.responses.items()
            }
        if self.state is not None:
            params["requestState"] = self.state
        return params


def input_required(server: str, raw: dict[str, Any]) -> mcp_types.InputRequiredResult:
    """A wire ``input_required`` result as the model, or a BackendError saying why not."""
    try:
        return mcp_types.InputRequiredResult.model_validate(raw)
    except ValueError as exc:
        raise BackendError(
            server, f"answered tools/call with an invalid input_required result: {exc}"
        ) from exc


__all__ = ["Answers", "input_required"]
