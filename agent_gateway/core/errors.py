"""Every error agent-gateway raises, in one tree.

::

    GatewayError
    ├── ConfigError            .mcp.json cannot be used (syntax, schema, path)
    ├── PolicyError            a file in policies/ cannot be used
    ├── IdentityError          a caller's identity is refused (spoofed agent_id, bad token)
    │   └── DuplicateHeaderError   more than one Authorization header (HTTP 400)
    ├── QueryTooLongError      a search query over the length the gateway searches
    ├── InvalidArgumentsError  call_tool arguments not an object, or failing the tool's schema
    ├── UnknownRequestStateError  a retry's requestState is not one of this caller's calls
    ├── QuarantinedToolError   a tool, prompt or resource template new or changed since a
    │                          person approved it (pinning)
    ├── RateLimitedError       an agent called faster than its policy's ``rate`` allows
    ├── NotFoundError          a server or tool the caller cannot see; the text depends
    │   ├── UnknownServerError   only on the name given, so a denied thing looks
    │   └── UnknownToolError     exactly like a missing one
    └── BackendError           a downstream server failed; names the server
        ├── BackendStartError    could not start or initialize (missing binary, unset var)
        │   └── LoginRequiredError   an OAuth server with no usable login (``agent-gateway login``)
        ├── BackendCrashedError  the process exited or the connection dropped
        ├── BackendTimeoutError  no answer within the server's timeout
        ├── BackendUnavailableError  backing off after crashes, or draining after a reload
        │   └── CircuitOpenError     failing fast after consecutive failures (the breaker)
        └── ServerBusyError      maxConcurrency calls running and the queue full

Errors from the OS, httpx and the MCP SDK are translated in one place,
``downstream/translate.py``, with ``raise ... from exc``.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error agent-gateway raises on purpose."""


class ConfigError(GatewayError):
    """The config file cannot be read or validated; ``server``: the entry it is about."""

    def __init__(self, message: str, *, path: str | None = None, server: str | None = None) -> None:
        self.path = path
        self.server = server
        super().__init__(f"{path}: {message}" if path else message)


class PolicyError(GatewayError):
    """A policy file cannot be read or validated; ``agents``: other agents it names."""

    def __init__(
        self, message: str, *, path: str | None = None, agents: tuple[str, ...] = ()
    ) -> None:
        self.path = path
        self.agents = agents
        super().__init__(f"{path}: {message}" if path else message)


class IdentityError(GatewayError):
    """The caller's claimed identity is refused."""


class DuplicateHeaderError(IdentityError):
    """A request carries more than one ``Authorization`` header: ambiguous, refused."""


class NotFoundError(GatewayError):
    """Something the caller named does not exist for this caller."""


class UnknownServerError(NotFoundError):
    def __init__(self, server: str) -> None:
        self.server = server
        super().__init__(
            f"Unknown server {server!r}. Call list_servers() to see the servers you can use."
        )


class UnknownToolError(NotFoundError):
    def __init__(self, server: str, tool: str) -> None:
        self.server = server
        self.tool = tool
        super().__init__(
            f"Unknown tool {tool!r} on server {server!r}. "
            f"Call list_tools(server={server!r}) to see its tools."
        )


class BackendError(GatewayError):
    """A downstream server failed; ``server`` names it."""

    def __init__(self, server: str, message: str, *, stderr_tail: str = "") -> None:
        self.server = server
        self.reason = message
        self.stderr_tail = stderr_tail
        text = f"Server {server!r} {message}"
        if stderr_tail:
            text += f"\nLast stderr lines of {server!r}:\n{stderr_tail}"
        super().__init__(text)


class BackendStartError(BackendError):
    pass


class LoginRequiredError(BackendStartError):
    """An OAuth server has no login, or its refresh token was refused: a person must log in.

    The serving gateway never opens a browser; the text names the command to run.
    """

    def __init__(self, server: str, why: str) -> None:
        super().__init__(
            server,
            f"needs login: {why} Run `agent-gateway login {server}` in a terminal; "
            "the gateway uses the new login without a restart.",
        )


class BackendCrashedError(BackendError):
    pass


class BackendTimeoutError(BackendError):
    pass


class BackendUnavailableError(BackendError):
    pass


class CircuitOpenError(BackendUnavailableError):
    """The server's circuit breaker is open; ``retry_after``: seconds until a probe call."""

    outcome = "circuit_open"  # its metrics label (front/observing.py)

    def __init__(self, server: str, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(server, message)


class ServerBusyError(BackendError):
    """The server runs ``maxConcurrency`` calls and its queue is full; ``retry_after``: seconds."""

    outcome = "busy"  # its metrics label (front/observing.py)

    def __init__(self, server: str, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(server, message)


class RateLimitedError(GatewayError):
    """An agent is over its policy's call rate; ``retry_after``: seconds until the next call."""

    outcome = "rate_limited"  # its metrics label (front/observing.py)

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class QueryTooLongError(GatewayError):
    """A search query is longer than the gateway searches."""

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(f"Query is {length:,} characters; the limit is {limit:,}. Shorten it.")


class InvalidArgumentsError(GatewayError):
    """A call's arguments are not a JSON object, or fail the tool's input schema."""


class UnknownRequestStateError(GatewayError):
    """A retry's ``requestState`` is forged, expired, or made for another call or agent.

    One text for every case, naming only what was given: a state minted for
    another agent looks exactly like one that never existed.
    """

    def __init__(self, server: str, tool: str) -> None:
        self.server = server
        self.tool = tool
        super().__init__(
            f"Unknown or expired requestState for tool {tool!r} on server {server!r}: "
            "call the tool again without inputResponses and requestState."
        )


class QuarantinedToolError(GatewayError):
    """A tool, prompt or template held by pinning (new, changed or rejected).

    The text names the approve command; ``tool`` is the item's label
    (``NAME``, ``prompt:NAME`` or ``template:URI_TEMPLATE``).
    """

    def __init__(self, server: str, tool: str, message: str) -> None:
        self.server = server
        self.tool = tool
        super().__init__(message)


class TaskRequiredError(GatewayError):
    """A tool that runs only as a task (``execution.taskSupport: required``) called without one."""

    def __init__(self, server: str, tool: str) -> None:
        self.server = server
        self.tool = tool
        super().__init__(
            f"Tool {tool!r} on server {server!r} runs only as a task. Call it with a task: "
            "send the tools/call request with params.task (protocol 2025-11-25), then poll "
            "tasks/get with the taskId it answers and read the result with tasks/result."
        )


class UnknownTaskError(NotFoundError):
    """A task id that names no task this caller may see."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"Unknown task {task_id!r}. Call tasks/list to see your tasks.")


class TaskNotSupportedError(GatewayError):
    """A task request the gateway cannot carry (protocol era, or a tool that takes no task)."""


class DownstreamTaskError(BackendError):
    """A downstream server answered a task request with a JSON-RPC error (``code``)."""

    def __init__(self, server: str, code: int, message: str) -> None:
        self.code = code
        super().__init__(server, f"answered with an error: {message}")
