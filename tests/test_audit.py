"""``serve --audit-log PATH``: one JSON line per call_tool; argument names and sizes,
their values only with ``--audit-args`` (and even then no configured secret)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import alive, echo_server, start_gateway, wait_until

pytestmark = pytest.mark.anyio

KEYS = {
    "time",
    "agent",
    "identified_by",
    "server",
    "tool",
    "allowed",
    "duration_ms",
    "isError",
    "argument_sizes",
}
SECRET_TEXT = "sk-live-AUDIT-7f3c9e1b2d"  # looks like a credential: must never be logged
SECRET_MESSAGE = "password=hunter2-AUDIT-0a9b"
ALICE = """
[allow]
servers = ["public"]
[deny.tools]
"*" = ["crash"]
"""

AUDIT_BUG = (
    "bug: agent_gateway/gateway.py never calls AuditLog.record: Gateway.call_tool "
    "(and its refusals) must record one line per call_tool; the --audit-log file stays empty"
)


async def call(gw: Any, server: str, tool: str, **arguments: Any) -> Any:
    return await gw.client.call_tool_mcp(
        "call_tool", {"server": server, "tool": tool, "arguments": arguments}
    )


async def test_audit_log_has_one_line_per_call_tool_and_no_argument_values(
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.jsonl"
    args = ["--agent", "alice", "--audit-log", str(log)]
    async with start_gateway(
        tmp_path, {"public": echo_server()}, policies={"alice": ALICE}, args=args
    ) as gw:
        ok = await call(gw, "public", "echo", text=SECRET_TEXT)
        assert not ok.is_error and ok.content[0].text == SECRET_TEXT
        denied = await call(gw, "public", "crash", text=SECRET_TEXT)
        assert denied.is_error
        failed = await call(gw, "public", "fail", message=SECRET_MESSAGE)
        assert failed.is_error
        # Other meta-tools are not call_tool: no lines for them.
        await gw.client.call_tool_mcp("list_tools", {"query": SECRET_TEXT})
        await gw.client.call_tool_mcp("get_tool", {"server": "public", "tool": "echo"})
        pid = gw.pid
    # The gateway has exited (and closed the log): every line is on disk now.
    wait_until(lambda: not alive(pid), what="the gateway to exit")

    raw = log.read_text(encoding="utf-8")
    assert SECRET_TEXT not in raw
    assert SECRET_MESSAGE not in raw
    assert "hunter2" not in raw
    lines = raw.splitlines()
    assert len(lines) == 3, raw
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert set(entry) == KEYS, entry
        assert entry["agent"] == "alice"
        assert entry["identified_by"] == "launch"
        assert entry["server"] == "public"
        assert isinstance(entry["duration_ms"], int | float) and entry["duration_ms"] >= 0
        time.strptime(entry["time"], "%Y-%m-%dT%H:%M:%SZ")

    echo, crash, fail = entries
    assert (echo["tool"], echo["allowed"], echo["isError"]) == ("echo", True, False)
    assert echo["argument_sizes"] == {"text": len(json.dumps(SECRET_TEXT))}
    assert fail["argument_sizes"] == {"message": len(json.dumps(SECRET_MESSAGE))}
    assert (crash["tool"], crash["allowed"]) == ("crash", False)
    assert crash["isError"] in (True, None)  # the downstream never ran it
    assert (fail["tool"], fail["allowed"], fail["isError"]) == ("fail", True, True)


async def test_audit_args_records_argument_values_but_never_a_configured_secret(
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit.jsonl"
    configured = "cfgsecret-AUDIT-5d6e"
    server = echo_server(env={"SERVICE_TOKEN": configured})
    args = ["--audit-log", str(log), "--audit-args"]
    async with start_gateway(tmp_path, {"public": server}, args=args) as gw:
        ok = await call(gw, "public", "echo", text="plain words")
        assert not ok.is_error
        leaked = await call(gw, "public", "echo", text=f"copy of {configured}")
        assert not leaked.is_error
        as_string = await gw.client.call_tool_mcp(
            "call_tool", {"server": "public", "tool": "add", "arguments": '{"a": 1, "b": 2}'}
        )
        assert not as_string.is_error
        pid = gw.pid
    wait_until(lambda: not alive(pid), what="the gateway to exit")

    raw = log.read_text(encoding="utf-8")
    assert configured not in raw
    plain, copied, added = (json.loads(line) for line in raw.splitlines())
    assert plain["arguments"] == {"text": "plain words"}
    assert plain["argument_sizes"] == {"text": len(json.dumps("plain words"))}
    assert copied["arguments"] == {"text": "copy of <redacted>"}
    assert added["arguments"] == {"a": 1, "b": 2}
