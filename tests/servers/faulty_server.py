"""A deliberately misbehaving MCP server for tests, selected by --mode.

Modes:
  start-crash  write "fatal: missing API key FAKE_KEY" to stderr, exit 1 before speaking MCP
  junk         serve echo/pid; write a non-JSON line onto the protocol stdout before serving
               and again inside every echo call
  hang         echo never answers; pid works
  crash-loop   append a line to --count-file at every start, then exit 1 at once
  grandchild   spawn a `sleep 300` grandchild (same process group), write its pid to
               --pid-file; tools echo, pid, grandchild_pid
  slow-start   sleep --delay seconds before serving echo/pid (a line per start to --count-file,
               if given, before the sleep)
  slow-list    serve echo/pid, but answer tools/list only after --delay seconds
  crash-after  serve echo/pid; crash_soon exits the process with code 5 0.1 s later

fastmcp is imported only once the mode needs it, so the early-exit modes are fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastmcp import FastMCP

MODES = (
    "start-crash",
    "junk",
    "hang",
    "crash-loop",
    "grandchild",
    "slow-start",
    "slow-list",
    "crash-after",
)

JUNK_LINE = b"this is not json\n"

# While serving, the mcp SDK's stdio_server() moves the protocol onto a private
# duplicate of fd 1 and points fd 1 itself at stderr, so a plain print() or
# os.write(1, ...) from a tool never reaches the client. To put junk on the wire
# mid-session we keep our own duplicate of the real stdout, taken before serving.
_wire_fd: int | None = None


def write_junk() -> None:
    """Write one stray non-JSON line onto the real protocol stdout."""
    os.write(1 if _wire_fd is None else _wire_fd, JUNK_LINE)


def build_server(
    name: str, mode: str, grandchild: subprocess.Popen[bytes] | None, delay: float = 0.0
) -> FastMCP:
    import asyncio

    from fastmcp import FastMCP
    from fastmcp.server.middleware import Middleware

    class SlowList(Middleware):
        async def on_list_tools(self, context, call_next):  # type: ignore[no-untyped-def]
            await asyncio.sleep(delay)
            return await call_next(context)

    mcp = FastMCP(name, middleware=[SlowList()] if mode == "slow-list" else [])

    @mcp.tool
    async def echo(text: str) -> str:
        """Echo the text back."""
        if mode == "hang":
            await asyncio.sleep(3600)  # never answers
        elif mode == "junk":
            write_junk()
        return text

    @mcp.tool
    def pid() -> int:
        """Return this server's process id."""
        return os.getpid()

    if grandchild is not None:
        child_pid = grandchild.pid

        @mcp.tool
        def grandchild_pid() -> int:
            """Return the process id of the spawned grandchild."""
            return child_pid

    if mode == "crash-after":

        @mcp.tool
        async def crash_soon() -> str:
            """Exit this server with code 5 a moment after answering."""
            asyncio.get_running_loop().call_later(0.1, os._exit, 5)
            return "ok"

    return mcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", required=True, choices=MODES)
    parser.add_argument("--name", default="faulty")
    parser.add_argument(
        "--count-file", help="crash-loop, slow-start: file to append a line to per start"
    )
    parser.add_argument("--pid-file", help="grandchild: file to write the grandchild pid to")
    parser.add_argument(
        "--inherit-fds",
        action="store_true",
        help="grandchild: let the grandchild inherit stdin/stdout/stderr (default: /dev/null)",
    )
    parser.add_argument(
        "--delay", type=float, default=2.0, help="slow-start, slow-list: seconds to wait"
    )
    args = parser.parse_args()

    if args.mode == "start-crash":
        sys.stderr.write("fatal: missing API key FAKE_KEY\n")
        sys.stderr.flush()
        sys.exit(1)

    if args.mode == "crash-loop":
        if not args.count_file:
            parser.error("--mode crash-loop needs --count-file")
        with open(args.count_file, "a", encoding="utf-8") as f:
            f.write(f"start {os.getpid()}\n")
        sys.stderr.write("fatal: crash-loop server exiting\n")
        sys.stderr.flush()
        sys.exit(1)

    grandchild: subprocess.Popen[bytes] | None = None
    if args.mode == "grandchild":
        if not args.pid_file:
            parser.error("--mode grandchild needs --pid-file")
        devnull = None if args.inherit_fds else subprocess.DEVNULL
        grandchild = subprocess.Popen(
            ["sleep", "300"], stdin=devnull, stdout=devnull, stderr=devnull
        )
        tmp = f"{args.pid_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{grandchild.pid}\n")
        os.replace(tmp, args.pid_file)

    if args.mode == "slow-start":
        if args.count_file:
            with open(args.count_file, "a", encoding="utf-8") as f:
                f.write(f"start {os.getpid()}\n")
        time.sleep(args.delay)

    mcp = build_server(args.name, args.mode, grandchild, args.delay)

    if args.mode == "junk":
        global _wire_fd
        _wire_fd = os.dup(1)
        write_junk()

    mcp.run(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
