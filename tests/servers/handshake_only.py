"""Run a stdio MCP server so that it speaks only the handshake era (2025-11-25 and older).

    python tests/servers/handshake_only.py SERVER.py [ARGS...]

A fastmcp 4.2.3 server serves whichever era the client's first request opens,
and a fastmcp client opens with the 2026-07-28 ``server/discover``. This
filter answers that request itself with "method not found" (what a Node SDK
1.x server says), so the client falls back to ``initialize`` and the server
then sees a handshake-era connection: one that carries server-to-client
requests (elicitation, sampling, roots). Everything else passes through.
"""

from __future__ import annotations

import asyncio
import json
import sys


async def pump_client_to_server(child: asyncio.subprocess.Process) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    assert child.stdin is not None
    while line := await reader.readline():
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("method") == "server/discover":
            error = {"code": -32601, "message": "Method not found"}
            answer = {"jsonrpc": "2.0", "id": message.get("id"), "error": error}
            sys.stdout.buffer.write(json.dumps(answer).encode() + b"\n")
            sys.stdout.buffer.flush()
            continue
        child.stdin.write(line)
        await child.stdin.drain()
    child.stdin.close()


async def pump_server_to_client(child: asyncio.subprocess.Process) -> None:
    assert child.stdout is not None
    while line := await child.stdout.readline():
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()


async def main(argv: list[str]) -> int:
    child = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    inbound = asyncio.create_task(pump_client_to_server(child))
    await pump_server_to_client(child)
    inbound.cancel()
    return await child.wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
