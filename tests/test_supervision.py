"""The supervision fault matrix, end to end through a real gateway subprocess.

Every downstream server gets a unique marker in its command line
(``--name <marker>``), so each test can find every process it caused from
``/proc`` and prove that none is left once the gateway has exited.

Some tests check a once-found bug last (``known_bug``), after every other
check, so a regression names the bug it brings back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import (
    PY,
    SERVERS,
    Gateway,
    alive,
    await_until,
    marked,
    py_server,
    start_gateway,
    wait_until,
)

pytestmark = pytest.mark.anyio


class KnownBug(AssertionError):
    """Raised by the last check of a test when a bug fixed earlier is back."""


def known_bug(problems: list[str]) -> None:
    if problems:
        raise KnownBug("; ".join(problems))


# --------------------------------------------------------------------------- helpers


def new_marker() -> str:
    return f"sv-{uuid.uuid4().hex[:12]}"


def echo(marker: str, **extra: Any) -> dict[str, Any]:
    return py_server("echo_server.py", "--name", marker, **extra)


def faulty(mode: str, marker: str, *args: str, **extra: Any) -> dict[str, Any]:
    return py_server("faulty_server.py", "--mode", mode, "--name", marker, *args, **extra)


def assert_all_gone(marker: str, *pids: int, timeout: float = 8.0) -> None:
    """After the gateway exited: the given pids and every marked process are dead."""
    for pid in pids:
        wait_until(lambda pid=pid: not alive(pid), timeout, f"process {pid} to exit")
    wait_until(lambda: not marked(marker), timeout, f"every {marker} process to exit")


def text(result: Any) -> str:
    assert result.content, result
    return str(result.content[0].text)


async def server_status(gw: Gateway, name: str) -> dict[str, Any]:
    status = await gw.data("gateway_status")
    (found,) = [s for s in status["servers"] if s["name"] == name]
    return dict(found)


async def timed_call(gw: Gateway, server: str, tool: str, **args: Any) -> tuple[float, Any]:
    t0 = time.monotonic()
    result = await gw.downstream(server, tool, **args)
    return time.monotonic() - t0, result


async def pid_of(gw: Gateway, server: str) -> int:
    result = await gw.downstream(server, "pid")
    assert not result.is_error, text(result)
    return int(text(result))


async def warm_pid(gw: Gateway, server: str, deadline: float = 30.0) -> int:
    """The server's pid once a ``pid`` call answers within its (short) timeout."""
    give_up = time.monotonic() + deadline
    while True:
        result = await gw.downstream(server, "pid")
        if not result.is_error:
            return int(text(result))
        assert "in time" in text(result) and time.monotonic() < give_up, text(result)


async def pids_of(gw: Gateway, *servers: str) -> dict[str, int]:
    """Start several servers concurrently (each start costs about a second)."""
    found: dict[str, int] = {}

    async def one(server: str) -> None:
        found[server] = await pid_of(gw, server)

    async with anyio.create_task_group() as tg:
        for server in servers:
            tg.start_soon(one, server)
    return found


# --------------------------------------------------------------------------- 1. crash


async def test_crash_mid_call_fails_at_once_and_the_next_call_restarts(tmp_path: Path) -> None:
    m = new_marker()
    async with start_gateway(tmp_path, {"echo": echo(m)}) as gw:
        first = await pid_of(gw, "echo")

        elapsed, result = await timed_call(gw, "echo", "crash")
        assert result.is_error
        msg = text(result)
        assert "'echo'" in msg and "exited with code 3" in msg, msg
        assert elapsed < 1.0, elapsed
        await await_until(lambda: not alive(first), 5, "the crashed server to be gone")

        second = await pid_of(gw, "echo")
        assert second != first
        st = await server_status(gw, "echo")
        assert st["state"] == "ready"
        assert st["pid"] == second
        assert st["restarts"] == 1
        assert "exited with code 3" in (st["last_error"] or ""), st
    assert_all_gone(m, first, second)


# --------------------------------------------------------------------------- 3. hang


async def test_a_hung_call_costs_one_timeout_and_never_blocks_another_server(
    tmp_path: Path,
) -> None:
    m = new_marker()
    servers = {"hang": faulty("hang", m, timeout=1), "echo": echo(m)}
    async with start_gateway(tmp_path, servers) as gw:
        # Start both first so start-up time is not measured below. The hang server's
        # 1 s limit covers its first call too, which a loaded machine can take longer
        # for: ask again (a timeout keeps the session), within a deadline.
        started = {"echo": await pid_of(gw, "echo"), "hang": await warm_pid(gw, "hang")}

        hung: dict[str, Any] = {}
        others: list[tuple[float, Any]] = []

        async def call_hung() -> None:
            hung["elapsed"], hung["result"] = await timed_call(gw, "hang", "echo", text="x")

        async def call_other() -> None:
            while "result" not in hung:
                others.append(await timed_call(gw, "echo", "echo", text="fast"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call_hung)
            tg.start_soon(call_other)

        assert hung["result"].is_error
        msg = text(hung["result"])
        assert "'hang'" in msg and ("in time" in msg or "timed out" in msg), msg
        assert 0.9 <= hung["elapsed"] < 2.0, hung["elapsed"]

        assert len(others) >= 5, others
        for elapsed, result in others:
            assert not result.is_error, text(result)
            assert text(result) == "fast"
            assert elapsed < 0.5, [e for e, _ in others]

        # The hung server's session is still usable, without a restart.
        assert await pid_of(gw, "hang") == started["hang"]
        st = await server_status(gw, "hang")
        assert st["state"] == "ready" and st["restarts"] == 0, st
    assert_all_gone(m, *started.values())
    # The caller should learn which limit was hit and where to change it.
    known_bug([] if "1s" in msg and "timeout" in msg else [f"no limit named in {msg!r}"])


# --------------------------------------------------------------------------- 4 + 5. junk, big


async def test_junk_on_stdout_is_skipped_and_a_10_mb_result_passes_whole(tmp_path: Path) -> None:
    """Two data-path faults in one gateway (each gateway start costs over a second)."""
    m = new_marker()
    size = 10_000_000
    async with start_gateway(tmp_path, {"junk": faulty("junk", m), "echo": echo(m)}) as gw:
        started = await pids_of(gw, "junk", "echo")

        # 4. Junk lines on the protocol stdout (at start and in every echo call).
        for i in range(5):
            result = await gw.downstream("junk", "echo", text=f"hello {i}")
            assert not result.is_error, text(result)
            assert text(result) == f"hello {i}"
        assert await pid_of(gw, "junk") == started["junk"]
        st = await server_status(gw, "junk")
        assert st["state"] == "ready" and st["restarts"] == 0 and st["last_error"] is None, st
        # The junk really reached the gateway (and was skipped, not fatal).
        await await_until(lambda: "non-JSON line" in gw.stderr(), 5, "the junk warning")

        # 5. A 10 MB result, whole.
        result = await gw.downstream("echo", "big", size=size)
        assert not result.is_error, text(result)[:500]
        body = text(result)
        assert len(body) == size
        assert body.count("x") == size
        assert await pid_of(gw, "echo") == started["echo"]
    assert_all_gone(m, *started.values())


# --------------------------------------------------------------------------- 2 + 6. start crashes


async def test_a_crash_on_start_shows_stderr_and_a_crash_loop_is_backed_off(
    tmp_path: Path,
) -> None:
    """Two start-failure faults in one gateway (each gateway start costs over a second)."""
    m = new_marker()
    count = tmp_path / "starts.txt"
    servers = {
        "bad": faulty("start-crash", m),
        "loop": faulty("crash-loop", m, "--count-file", str(count)),
    }
    async with start_gateway(tmp_path, servers) as gw:
        # 2. Crash on start with a message on stderr.
        elapsed, result = await timed_call(gw, "bad", "pid")
        assert result.is_error
        msg = text(result)
        assert "'bad'" in msg and "fatal: missing API key" in msg, msg
        assert "exited with code 1" in msg, msg
        assert elapsed < 5.0, elapsed
        st = await server_status(gw, "bad")
        assert st["state"] == "error" and st["pid"] is None, st
        assert "fatal: missing API key" in st["stderr_tail"], st
        assert "exited with code 1" in (st["last_error"] or ""), st
        assert not marked(m)

        # 6. A crash loop, called as fast as calls return for 3 s.
        calls: list[tuple[float, str]] = []
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            elapsed, result = await timed_call(gw, "loop", "pid")
            assert result.is_error, result
            calls.append((elapsed, text(result)))
        st = await server_status(gw, "loop")
        starts = count.read_text().splitlines() if count.exists() else []

        assert 2 <= len(starts) <= 5, starts
        in_window = [(e, t) for e, t in calls if "next restart is in" in t]
        assert len(in_window) >= 10, calls
        for elapsed, msg in in_window:
            assert elapsed < 0.2, (elapsed, msg)
            assert "'loop'" in msg and "exited with code 1" in msg, msg
        assert st["state"] == "error", st
        assert "crash-loop server exiting" in st["stderr_tail"], st
    assert_all_gone(m, *(int(line.split()[1]) for line in starts))


# --------------------------------------------------------------------------- 7. grandchild


async def test_grandchildren_die_with_the_gateway(tmp_path: Path) -> None:
    """Two servers with a `sleep 300` grandchild: one on /dev/null, one holding our pipes."""
    m = new_marker()
    pid_files = {"gc": tmp_path / "gc.pid", "gcp": tmp_path / "gcp.pid"}
    servers = {
        "gc": faulty("grandchild", m, "--pid-file", str(pid_files["gc"])),
        "gcp": faulty("grandchild", m, "--pid-file", str(pid_files["gcp"]), "--inherit-fds"),
    }
    grandchildren = []
    async with start_gateway(tmp_path, servers) as gw:
        started = await pids_of(gw, *servers)
        for name in servers:
            result = await gw.downstream(name, "grandchild_pid")
            assert not result.is_error, text(result)
            grandchild = int(text(result))
            assert int(pid_files[name].read_text()) == grandchild
            assert alive(grandchild)
            grandchildren.append(grandchild)
            # A grandchild holding the pipes must not stall the session.
            assert not (await gw.downstream(name, "echo", text="hi")).is_error
    # Dead by the time the gateway has exited (give the kernel a moment to report it).
    for pid in grandchildren:
        wait_until(lambda pid=pid: not alive(pid), 1.0, f"grandchild {pid} to die")
    assert_all_gone(m, *started.values(), *grandchildren)


# --------------------------------------------------------------------------- 8. SIGTERM


async def test_sigterm_with_calls_in_flight_stops_everything_promptly(tmp_path: Path) -> None:
    m = new_marker()
    servers = {"a": echo(m), "b": echo(m)}
    async with start_gateway(tmp_path, servers) as gw:
        pids = list((await pids_of(gw, "a", "b")).values())
        outcomes: list[Any] = []

        async def sleeper(server: str) -> None:
            try:
                outcomes.append(await gw.downstream(server, "sleep", seconds=5))
            except Exception as exc:  # the gateway goes away under the call
                outcomes.append(exc)

        async with anyio.create_task_group() as tg:
            for server in ("a", "b", "a"):
                tg.start_soon(sleeper, server)
            # In flight = the gateway has sent all three downstream.
            await await_until(
                lambda: gw.stderr().count("Calling tool 'sleep'") >= 3, 10, "calls in flight"
            )
            t0 = time.monotonic()
            os.kill(gw.pid, signal.SIGTERM)
            # The downstream processes go first, at once; then the gateway. (Under 5 s:
            # it used to wait 5 s, or forever, for its uncancellable stdin reader thread.)
            await await_until(lambda: not any(alive(p) for p in pids), 3, "downstreams to exit")
            await await_until(lambda: not alive(gw.pid), 5, "the gateway to exit")
            took = time.monotonic() - t0
            assert marked(m) == []
            await await_until(lambda: len(outcomes) == 3, 5, "the calls to end")
        assert took < 5.0, took
        # The calls did not pretend to succeed (they end well before their 5 s).
        for outcome in outcomes:
            assert isinstance(outcome, Exception) or outcome.is_error, outcome
    assert_all_gone(m, *pids)


# --------------------------------------------------------------------------- 8b. client shutdown

SLOW_TO_STOP = """
import runpy, signal, sys, time
echo = {echo!r}
sys.argv = [echo, "--name", sys.argv[1]]
runpy.run_path(echo, run_name="__main__")
# stdin closed: shut down slowly (say, flushing state), deaf to SIGTERM
signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(30)
"""

SLOW_TO_START = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(sys.argv[2], "w") as f:
    f.write(str(os.getpid()))
time.sleep(30)  # still "starting" (never answers initialize), deaf to SIGTERM
"""


async def test_the_clients_shutdown_sequence_orphans_no_server(tmp_path: Path) -> None:
    """The client closes stdin, waits 2 s, SIGTERMs, waits 2 s, SIGKILLs (the MCP stdio
    rules; conftest's transport does exactly that). One server needs 4 s to stop; one is
    still starting (a call waits for it)."""
    m = new_marker()
    pid_file = tmp_path / "starting.pid"
    stop_script = tmp_path / "slow_to_stop.py"
    stop_script.write_text(SLOW_TO_STOP.format(echo=str(SERVERS / "echo_server.py")))
    start_script = tmp_path / "slow_to_start.py"
    start_script.write_text(SLOW_TO_START)
    servers = {
        "stopping": {"command": PY, "args": [str(stop_script), m]},
        "starting": {"command": PY, "args": [str(start_script), m, str(pid_file)]},
    }
    pending: list[Any] = []

    async def wait_for_starting(gw: Gateway) -> None:
        try:
            pending.append(await gw.downstream("starting", "pid"))
        except Exception as exc:  # the gateway goes away under the call
            pending.append(exc)

    async with anyio.create_task_group() as tg, start_gateway(tmp_path, servers) as gw:
        stopping = await pid_of(gw, "stopping")
        tg.start_soon(wait_for_starting, gw)
        await await_until(pid_file.exists, 10, "the starting server to run")
        starting = int(pid_file.read_text())
    # The gateway is gone (by itself or by our SIGTERM/SIGKILL); so must its servers be.
    procs = {"stopping": stopping, "starting": starting}
    with contextlib.suppress(AssertionError):
        await await_until(lambda: not any(alive(p) for p in procs.values()), 1.0)
    orphans = [name for name, pid in procs.items() if alive(pid)]
    for name in orphans:
        os.kill(procs[name], signal.SIGKILL)  # our own leftover: do not leak it
    assert len(pending) == 1
    assert_all_gone(m, stopping, starting)
    known_bug(
        [f"{orphans} outlived the gateway (exit {gw.transport.returncode})"] if orphans else []
    )


# --------------------------------------------------------------------------- 9. idle


async def test_an_idle_server_is_stopped_and_restarted_lazily(tmp_path: Path) -> None:
    m = new_marker()
    # "idle" is plain; "mended" crashed once and restarted before going idle.
    servers = {"idle": echo(m, idleTimeout=1), "mended": echo(m, idleTimeout=1)}
    problems: list[str] = []
    async with start_gateway(tmp_path, servers) as gw:
        started = await pids_of(gw, "idle", "mended")
        t0 = time.monotonic()
        mended: list[int] = []

        async def crash_and_restart() -> None:
            assert (await gw.downstream("mended", "crash")).is_error
            mended.append(await pid_of(gw, "mended"))

        async def stopped(name: str) -> bool:
            return (await server_status(gw, name))["pid"] is None

        async with anyio.create_task_group() as tg:
            tg.start_soon(crash_and_restart)  # meanwhile "idle" goes idle
            await await_until(lambda: stopped("idle"), 5, "the idle server to be stopped")
            assert time.monotonic() - t0 < 3.5
        await await_until(lambda: not alive(started["idle"]), 3, "the idle process to exit")
        st = await server_status(gw, "idle")
        assert st["state"] == "idle" and st["last_error"] is None, st

        again = await pid_of(gw, "idle")  # restarted lazily
        assert again != started["idle"]
        assert (await server_status(gw, "idle"))["state"] == "ready"

        await await_until(lambda: stopped("mended"), 5, "the mended server to be stopped")
        await await_until(lambda: not alive(mended[0]), 3, "the mended process to exit")
        st = await server_status(gw, "mended")
        listed = {s["name"]: s for s in (await gw.data("list_servers"))["servers"]}
        if st["state"] != "idle" or listed["mended"]["error"] is not None:
            problems.append(f"idle after a recovered crash shows as {st} / {listed['mended']}")
    assert_all_gone(m, *started.values(), *mended, again)
    known_bug(problems)


# --------------------------------------------------------------------------- 10. startup timeout


async def test_startup_timeout_fails_the_call_and_kills_the_process(tmp_path: Path) -> None:
    m = new_marker()
    servers = {"slow": faulty("slow-start", m, "--delay", "30", startupTimeout=1)}
    async with start_gateway(tmp_path, servers) as gw:
        elapsed, result = await timed_call(gw, "slow", "pid")
        assert result.is_error
        msg = text(result)
        assert "'slow'" in msg and "startupTimeout" in msg and "1s" in msg, msg
        assert elapsed < 4.5, elapsed
        # Killed by the time of the error, not at gateway exit.
        assert marked(m) == []
        st = await server_status(gw, "slow")
        assert st["state"] == "error" and st["pid"] is None, st
    assert_all_gone(m)
    # The bug this guards: waiting out the 2 s stdin-close grace (3 s and more).
    # 2.9 s leaves room for a loaded machine (2.3 s seen with 3 test workers on 2 cores).
    known_bug([] if elapsed < 2.9 else [f"the error took {elapsed:.1f}s for a 1 s startupTimeout"])
