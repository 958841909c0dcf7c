"""Ending a server's whole process group: stdin close, SIGTERM, SIGKILL, and no stragglers.

Servers start in their own session (``start_new_session=True``), so their
process group holds every grandchild an ``npx`` or a shell spawned; signals go
to the group. On Linux, zombies (exited, not yet reaped) do not count as
alive, so an orphan that died of the SIGTERM is not SIGKILLed again.
"""

from __future__ import annotations

import contextlib
import os
import signal

import anyio
import anyio.abc

STDIN_CLOSE_GRACE = 2.0
TERM_GRACE = 2.0


def describe_exit(code: int | None) -> str:
    """How a process ended, for messages: "exited with code 1", "was killed by SIGKILL"."""
    if code is None:
        return "exited"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


async def stop_process(
    process: anyio.abc.Process, *, stdin_grace: float = STDIN_CLOSE_GRACE
) -> None:
    """Close stdin, wait; SIGTERM the process group, wait; SIGKILL the group."""
    pgid = process.pid
    if process.stdin is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.aclose()
    if not await _wait_exit(process, stdin_grace):
        _killpg(pgid, signal.SIGTERM)
        if not await _wait_exit(process, TERM_GRACE):
            _killpg(pgid, signal.SIGKILL)
            await _wait_exit(process, TERM_GRACE)
    # The leader is gone; members of its group (grandchildren) may not be.
    if _group_alive(pgid):
        _killpg(pgid, signal.SIGTERM)
        with anyio.move_on_after(TERM_GRACE):
            while _group_alive(pgid):
                await anyio.sleep(0.02)
        if _group_alive(pgid):
            _killpg(pgid, signal.SIGKILL)
    for stream in (process.stdout,):
        if stream is not None:
            with contextlib.suppress(OSError, anyio.BrokenResourceError):
                await stream.aclose()


async def _wait_exit(process: anyio.abc.Process, timeout: float) -> bool:
    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(0.01)
        return True
    return False


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_group(pgid: int) -> None:
    """SIGKILL a server's whole process group now (the last resort on a forced exit)."""
    _killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    """Does any live (not zombie) process remain in the group?"""
    if os.path.isdir("/proc/self"):
        return bool(_live_group_members(pgid))
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _live_group_members(pgid: int) -> list[int]:
    """Linux: pids in process group ``pgid`` that are not zombies (from /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry))
    return members
