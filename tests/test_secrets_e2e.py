"""No output channel of a running gateway carries a secret from its config.

A config full of recognisable secret values (stdio ``env`` values, one
substituted from the gateway's environment, a ``--api-key`` argument, remote
``headers``, URL userinfo and a ``?access_token=``) in front of a server that
leaks its environment everywhere (tests/servers/leaky_server.py): to stderr
at start, in exception texts, in protocol errors, before crashing, and in a
start failure. Every answer the agent gets (call_tool errors on both routes,
direct tools, list_servers, list_tools, get_tool, gateway_status with its
stderr tails and last errors), the audit log and the whole debug-level stderr
are scanned; a server added by a reload brings a new secret that must be
redacted too.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import (
    PY,
    alive,
    await_until,
    passed_env,
    py_server,
    start_gateway,
    wait_until,
    write_config,
)

from agent_gateway.core.redact import REDACTED

if TYPE_CHECKING:
    from fastmcp.client.logging import LogMessage

pytestmark = pytest.mark.anyio

GH = "ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa"
SECRETS = {
    "API_TOKEN": "envsecret-K7Q2W9",
    "REGION_HINT": "plainvalue-M3N8",  # a value under a name that does not look secret
    "SUBSTITUTED": "substsecret-P4R6",
    "GITHUB_PERSONAL_ACCESS_TOKEN": GH,
    "ARG": "argsecret-T5Y1",
    "URL_USER": "urluser-V2B7",
    "URL_PASS": "urlpass-C9X4",
    "QUERY": "querysecret-Z8L3",
    "HEADER": "hdrsecret-J6H2",
    "HEADER2": "hdrsecret-F1D5",
    "RELOADED": "reloadsecret-G4S8",
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def leaky(mode: str, **env: str) -> dict[str, Any]:
    args = ["--mode", mode, "--api-key", SECRETS["ARG"]]
    return py_server("leaky_server.py", *args, env=env, timeout=20, startupTimeout=20)


def servers(*, reloaded: bool = False) -> dict[str, Any]:
    env = {
        "API_TOKEN": SECRETS["API_TOKEN"],
        "REGION_HINT": SECRETS["REGION_HINT"],
        "FROM_GATEWAY": "${LEAKY_SUBST}",
        "GITHUB_PERSONAL_ACCESS_TOKEN": GH,
    }
    user, password, query = SECRETS["URL_USER"], SECRETS["URL_PASS"], SECRETS["QUERY"]
    url = f"http://{user}:{password}@127.0.0.1:{_closed_port()}/mcp?access_token={query}&page=1"
    found: dict[str, Any] = {
        "leaky": leaky("serve", **env),
        "broken": leaky("start-crash", **env),
        "remote": {
            "url": url,
            "headers": {
                "Authorization": f"Bearer {SECRETS['HEADER']}",
                "X-Api": SECRETS["HEADER2"],
            },
            "startupTimeout": 10,
        },
    }
    if reloaded:
        found["late"] = leaky("start-crash", LATE_SECRET=SECRETS["RELOADED"])
    return found


def _text(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json", by_alias=True), ensure_ascii=False)


async def _agent_channels(gw: Any) -> list[str]:
    """Everything an agent can get the gateway to say about the leaky servers."""
    seen: list[str] = []
    ok = await gw.downstream("leaky", "ok")
    assert not ok.is_error, ok
    progress: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    params = {"server": "leaky", "tool": "leak_notify"}
    notified = await gw.client.call_tool_mcp("call_tool", params, progress_handler=on_progress)
    assert not notified.is_error, notified
    assert progress and "progress: argv=" in progress[0], progress
    seen.extend(progress)
    for server, tool in [
        ("leaky", "leak_raise"),
        ("leaky", "leak_mcp_error"),
        ("leaky", "leak_and_crash"),
        ("broken", "ok"),
        ("remote", "ok"),
    ]:
        result = await gw.downstream(server, tool)
        assert result.is_error, (server, tool, result)
        seen.append(_text(result))
    seen.append(_text(await gw.client.call_tool_mcp("leaky__leak_raise", {})))
    seen.append(_text(await gw.client.call_tool_mcp("broken__ok", {})))
    seen.append(_text(await gw.call("list_tools")))
    seen.append(_text(await gw.call("list_tools", server="broken")))
    seen.append(_text(await gw.call("list_tools", server="remote")))
    seen.append(_text(await gw.call("get_tool", server="broken", tool="ok")))
    seen.append(_text(await gw.call("list_servers")))
    seen.append(_text(await gw.call("gateway_status")))
    return seen


def _assert_no_secret(channel: str, text: str) -> None:
    for name, value in SECRETS.items():
        assert value not in text, f"{name} ({value}) leaked in {channel}:\n{text}"


@pytest.mark.timeout(180)  # three leaky servers started, crashed and restarted, one reload
@pytest.mark.parametrize("route", ["fast", "fastmcp"])
async def test_no_output_channel_carries_a_configured_secret(tmp_path: Path, route: str) -> None:
    audit = tmp_path / "audit.jsonl"
    env = {"LEAKY_SUBST": SECRETS["SUBSTITUTED"], "AGENT_GATEWAY_FAST_ROUTE": "1"}
    if route == "fastmcp":
        env["AGENT_GATEWAY_FAST_ROUTE"] = "0"
    args = ["--expose", "both", "--audit-log", str(audit)]
    logged: list[str] = []

    async def on_log(message: LogMessage) -> None:
        logged.append(json.dumps(message.data, default=str))

    async with start_gateway(tmp_path, servers(), args=args, env=env, log_handler=on_log) as gw:
        seen = await _agent_channels(gw)
        assert any("log line: argv=" in line for line in logged), logged
        seen.extend(logged)
        status = await gw.data("gateway_status")
        tails = {s["name"]: s["stderr_tail"] or "" for s in status["servers"]}
        assert "starting: argv=" in tails["broken"], tails  # the channel did carry the dump
        assert REDACTED in tails["broken"]

        write_config(tmp_path, servers(reloaded=True))

        async def late_listed() -> bool:
            listed = await gw.data("list_servers")
            return any(s["name"] == "late" for s in listed["servers"])

        await await_until(late_listed, timeout=20, what="the reload to add 'late'")
        late = await gw.downstream("late", "ok")
        assert late.is_error
        seen.append(_text(late))
        seen.append(_text(await gw.call("gateway_status")))
        pid = gw.pid
    wait_until(lambda: not alive(pid), what="the gateway to exit")
    stderr = gw.stderr()
    assert "starting: argv=" in stderr  # the debug log relayed the servers' stderr
    for i, text in enumerate(seen):
        _assert_no_secret(f"agent answer #{i}", text)
    _assert_no_secret("the audit log", audit.read_text(encoding="utf-8"))
    _assert_no_secret("the gateway's stderr (--log-level debug)", stderr)


def _cli(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``agent-gateway ARGV`` in a fresh process (its redactor knows only what it loaded)."""
    env = {**os.environ, **passed_env(), "LEAKY_SUBST": SECRETS["SUBSTITUTED"]}
    return subprocess.run(
        [PY, "-m", "agent_gateway", *argv],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.timeout(240)  # five CLI processes, three of them starting servers
def test_cli_check_tools_call_and_init_print_no_configured_secret(tmp_path: Path) -> None:
    config = write_config(tmp_path, servers(reloaded=True))
    outputs = {}
    for code, argv in (
        (0, ["check", "--config", str(config)]),
        (1, ["tools", "--config", str(config), "--log-level", "debug"]),
        (1, ["call", "--config", str(config), "broken", "ok"]),
        (1, ["call", "--config", str(config), "leaky", "leak_raise"]),
    ):
        done = _cli(tmp_path, *argv)
        assert done.returncode == code, (argv, done.stdout, done.stderr)
        _assert_no_secret(f"{argv[0]} output", done.stdout + done.stderr)
        outputs[" ".join(argv[:1] + argv[3:])] = done.stdout + done.stderr
    assert "leaky_server.py --mode serve --api-key <redacted>" in outputs["check"]
    assert "starting: argv=" in outputs["call broken ok"]  # the stderr tail was shown

    new = tmp_path / "new"
    done = _cli(tmp_path, "init", "--from", str(config), "--config", str(new / ".mcp.json"))
    assert done.returncode == 0, done.stderr
    _assert_no_secret("init --from output", done.stdout + done.stderr)
    written = (new / ".mcp.json").read_text(encoding="utf-8")
    assert SECRETS["API_TOKEN"] in written  # the imported file itself keeps its values
