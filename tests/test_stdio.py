"""StdioProcessTransport and stop_process, in process (no gateway).

The helper scripts are written to the test's temp dir: they trap signals,
spawn grandchildren and write pid files, which the shared test servers do not.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import DEVNULL, PIPE
from typing import Any

import anyio
import pytest
from conftest import PY, SERVERS, alive, wait_until
from fastmcp import Client

from agent_gateway.downstream.stdio import STDERR_LINES, StdioProcessTransport, stop_process

pytestmark = pytest.mark.anyio

PR_SET_CHILD_SUBREAPER = 36


class KnownBug(AssertionError):
    """Raised by the last check of a test when a bug fixed earlier is back."""


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp, ...
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


def write_script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body)
    return path


def read_pids(path: Path) -> list[int]:
    wait_until(path.exists, 10, f"{path.name} to be written")
    return [int(x) for x in path.read_text().split()]


# --------------------------------------------------------------------------- the transport


async def test_the_pid_is_exposed_and_the_process_ends_with_the_client() -> None:
    transport = StdioProcessTransport("echo", PY, [str(SERVERS / "echo_server.py")], {}, None)
    assert transport.pid is None
    async with Client(transport) as client:
        result = await client.call_tool_mcp("pid", {})
        assert not result.is_error
        pid = int(result.content[0].text)
        assert transport.pid == pid
        assert alive(pid)
        assert transport.returncode is None
    # Closing stdin was enough: it exited by itself with 0, not by a signal.
    assert transport.returncode == 0
    assert not alive(pid)
    assert "pid=" in repr(transport)


STDERR_THEN_EXIT = """
import sys
for i in range(120):
    sys.stderr.write(f"line {i}\\n")
sys.stderr.write("long " + "y" * 5000 + "\\n")
sys.stderr.write("\\n   \\n")  # blank lines are not kept
sys.stderr.write("fatal: last words\\n")
sys.stderr.flush()
sys.exit(4)
"""


async def test_stderr_lands_in_a_bounded_ring_buffer_even_when_the_server_dies_at_once(
    tmp_path: Path,
) -> None:
    script = write_script(tmp_path, "noisy.py", STDERR_THEN_EXIT)
    transport = StdioProcessTransport("noisy", PY, [str(script)], {}, None)
    with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises for a dead server
        async with Client(transport):
            pass
    assert transport.returncode == 4
    lines = list(transport.stderr)
    assert len(lines) == STDERR_LINES == 50
    # The newest 50 non-blank lines: line 72..119, the long one (cut), then the last words.
    assert lines[:-2] == [f"line {i}" for i in range(72, 120)]
    assert lines[-2].startswith("long yyy") and len(lines[-2]) == 2000
    assert lines[-1] == "fatal: last words"
    tail = transport.stderr_tail(3).splitlines()
    assert tail[0] == "line 119" and tail[-1] == "fatal: last words"
    assert len(transport.stderr_tail().splitlines()) == 20


def test_junk_lines_are_skipped_and_json_rpc_lines_parsed() -> None:
    transport = StdioProcessTransport("junk", PY, [], {}, None)
    assert transport._parse(b"this is not json") is None
    assert transport._parse(b"   ") is None
    assert transport._parse(b'{"not": "json-rpc"}') is None
    message = transport._parse(b'{"jsonrpc": "2.0", "id": 7, "result": {}}')
    assert message is not None
    assert message.message.id == 7


async def test_a_last_stderr_line_without_newline_is_kept(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "abrupt.py",
        "import sys\nsys.stderr.write('first\\nError: no newline at the end')\nsys.exit(2)\n",
    )
    transport = StdioProcessTransport("abrupt", PY, [str(script)], {}, None)
    with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises for a dead server
        async with Client(transport):
            pass
    assert transport.returncode == 2
    lines = list(transport.stderr)
    assert lines[:1] == ["first"]
    if lines != ["first", "Error: no newline at the end"]:
        raise KnownBug(f"stderr ring buffer holds {lines}")


# --------------------------------------------------------------------------- stop_process


STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited: the grandchild ignores it too
child = subprocess.Popen(["sleep", "300"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(1)  # never reads stdin
"""


async def open_group_leader(script: Path, *args: str) -> Any:
    return await anyio.open_process(
        [PY, str(script), *args],
        stdin=PIPE,
        stdout=PIPE,
        stderr=DEVNULL,
        start_new_session=True,
    )


async def test_stop_process_sigkills_a_group_that_ignores_stdin_close_and_sigterm(
    tmp_path: Path,
) -> None:
    script = write_script(tmp_path, "stubborn.py", STUBBORN)
    pid_file = tmp_path / "stubborn.pids"
    process = await open_group_leader(script, str(pid_file))
    leader_gone: list[float] = []

    async def watch_leader(t0: float) -> None:
        while process.returncode is None:
            await anyio.sleep(0.01)
        leader_gone.append(time.monotonic() - t0)

    try:
        leader, grandchild = read_pids(pid_file)
        assert leader == process.pid
        assert sorted(group_members(process.pid)) == sorted([leader, grandchild])

        t0 = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_leader, t0)
            await stop_process(process)
        took = time.monotonic() - t0
    finally:
        if process.returncode is None:  # only if the code under test failed
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    # stdin close (2 s grace), SIGTERM (2 s grace), then SIGKILL to the group.
    assert process.returncode == -signal.SIGKILL
    assert 3.5 <= leader_gone[0] < 4.5, leader_gone
    wait_until(lambda: not alive(grandchild), 3, "the grandchild to die")
    wait_until(lambda: not group_members(process.pid), 3, "the process group to be empty")
    # The group phase may add one more grace while the killed orphan waits to be
    # reaped by init (see the test below), never more.
    assert took < 6.5, took


POLITE_WITH_GRANDCHILD = """
import os, subprocess, sys
child = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
sys.stdin.read()  # exit as soon as stdin closes, leaving the grandchild behind
"""


@contextlib.contextmanager
def orphans_reaped_late() -> Iterator[None]:
    """Make this process the reaper of its orphaned descendants, and reap them late.

    Linux's PR_SET_CHILD_SUBREAPER. It makes deterministic what a container's lazy
    init (or a gateway running as PID 1) does: a killed orphan stays a zombie a while.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) is not available")
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


async def test_stop_process_lets_a_polite_leader_exit_and_still_kills_its_grandchild(
    tmp_path: Path,
) -> None:
    script = write_script(tmp_path, "polite.py", POLITE_WITH_GRANDCHILD)
    pid_file = tmp_path / "polite.pids"
    with orphans_reaped_late():
        process = await open_group_leader(script, str(pid_file))
        try:
            _, grandchild = read_pids(pid_file)
            t0 = time.monotonic()
            await stop_process(process)
            took = time.monotonic() - t0
        finally:
            if process.returncode is None:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        # The leader left by itself on stdin close (exit 0, no signal); the orphaned
        # grandchild (now ours) was killed through the group.
        assert process.returncode == 0
        wait_until(lambda: not alive(grandchild), 3, "the grandchild to die")
        assert not group_members(process.pid)
        # Reap our zombie; it must have died of the SIGTERM, not of a needless SIGKILL.
        _, status = os.waitpid(grandchild, 0)
        assert os.WIFSIGNALED(status)
        signalled = os.WTERMSIG(status)
    assert signalled in (signal.SIGTERM, signal.SIGKILL)
    if signalled != signal.SIGTERM or took >= 1.0:
        raise KnownBug(f"stop_process took {took:.1f}s and ended the grandchild with {signalled}")


async def test_stop_process_on_an_already_dead_process_returns_at_once(tmp_path: Path) -> None:
    process = await anyio.open_process(
        [PY, "-c", "import sys; sys.exit(9)"],
        stdin=PIPE,
        stdout=DEVNULL,
        stderr=DEVNULL,
        start_new_session=True,
    )
    await process.wait()
    t0 = time.monotonic()
    await stop_process(process)
    assert time.monotonic() - t0 < 0.5
    assert process.returncode == 9
