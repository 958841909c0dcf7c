"""Task pass-through end to end: a gateway subprocess, server-everything behind it.

server-everything's ``simulate-research-query`` runs only as a task
(``execution.taskSupport: required``, protocol 2025-11-25) and takes about
four seconds. The caller is a fastmcp Client in the handshake era; fastmcp's
core client has no task API (and the SDK's typed send rejects a
``CreateTaskResult`` at 2025-11-25), so the task-augmented ``tools/call``
and the ``tasks/*`` requests go out as raw requests on its session, as a
task-aware client sends them. One test also drives the gateway with the MCP
TypeScript SDK's own task client (tests/npm/task_client.mjs), one runs over
the HTTP front with two bearer-token agents.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest
from conftest import (
    PY,
    REPO,
    Gateway,
    await_until,
    everything_server,
    passed_env,
    start_gateway,
    write_config,
    write_policies,
)
from fastmcp import Client
from mcp import MCPError
from mcp.client.extension import ClientExtension, NotificationBinding
from test_http_e2e import http_gateway

from agent_gateway import compat

pytestmark = pytest.mark.anyio

TOOL = "simulate-research-query"
DIRECT = f"everything__{TOOL}"
TASK_DONE = 20.0  # seconds a research task may take (four one-second stages)
ALL = '[allow]\nservers = ["*"]\n'
Caller = Gateway | Client[Any]


class StatusWatch(ClientExtension):
    """Collects notifications/tasks/status (the MCP client drops them unless bound)."""

    identifier = "test.agent-gateway/task-status"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def notifications(self) -> list[NotificationBinding[Any]]:
        async def seen(params: mcp_types.TaskStatusNotificationParams) -> None:
            self.seen.append((params.task_id, params.status))

        params = mcp_types.TaskStatusNotificationParams
        method = "notifications/tasks/status"
        return [NotificationBinding(method=method, params_type=params, handler=seen)]


async def request(gw: Caller, method: str, params: dict[str, Any]) -> dict[str, Any]:
    client = gw if isinstance(gw, Client) else gw.client
    send = compat.raw_sender(client.session)
    assert send is not None
    answer: dict[str, Any] = await send(method, params, 30.0)
    return answer


async def refusal(gw: Caller, method: str, params: dict[str, Any]) -> MCPError:
    with pytest.raises(MCPError) as caught:
        await request(gw, method, params)
    return caught.value


async def create(gw: Caller, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    answer = await request(
        gw, "tools/call", {"name": name, "arguments": arguments, "task": {"ttl": 60000}}
    )
    return dict(answer["task"])


async def until_done(gw: Caller, task_id: str, meta: dict[str, Any] | None = None) -> str:
    """Poll tasks/get (as a task-aware client does) until the task ends; its last status."""
    params: dict[str, Any] = {"taskId": task_id, **({"_meta": meta} if meta else {})}
    deadline = time.monotonic() + TASK_DONE
    while True:
        task = await request(gw, "tasks/get", params)
        assert task["taskId"] == task_id
        if task["status"] in ("completed", "failed", "cancelled"):
            return str(task["status"])
        assert time.monotonic() < deadline, f"task still {task['status']} after {TASK_DONE}s"
        await anyio.sleep(0.2)


async def listed(gw: Gateway, name: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        tools = {t.name: t for t in await gw.client.list_tools()}
        if name in tools:
            return tools[name]
        assert time.monotonic() < deadline, f"{name} not listed"
        await anyio.sleep(0.05)


async def test_a_task_only_tool_runs_as_a_task_through_direct_mode(tmp_path: Path) -> None:
    servers = {"everything": everything_server()}
    watch = StatusWatch()
    async with start_gateway(
        tmp_path,
        servers,
        args=["--expose", "direct"],
        mode="legacy",
        client_options={"extensions": [watch]},
    ) as gw:
        caps = gw.client.initialize_result.capabilities
        assert caps.tasks is not None and caps.tasks.requests.tools.call is not None
        tool = await listed(gw, DIRECT)
        assert tool.execution.task_support == "required"

        task = await create(gw, DIRECT, {"topic": "gateways"})
        assert task["status"] == "working"
        task_id = task["taskId"]
        assert len(task_id) == 24  # the gateway's own id, not the downstream's 32 hex digits
        listing = await request(gw, "tasks/list", {})
        assert [t["taskId"] for t in listing["tasks"]] == [task_id]

        assert await until_done(gw, task_id) == "completed"
        result = await request(gw, "tasks/result", {"taskId": task_id})
        assert "Research Report: gateways" in result["content"][0]["text"]
        # the downstream's status notifications reached us, under our id
        await await_until(lambda: (task_id, "completed") in watch.seen, what="a status")
        assert {seen for seen, _ in watch.seen} == {task_id}

        # cancel: a second task, cancelled while it works
        second = (await create(gw, DIRECT, {"topic": "cancel me"}))["taskId"]
        cancelled = await request(gw, "tasks/cancel", {"taskId": second})
        assert (cancelled["taskId"], cancelled["status"]) == (second, "cancelled")
        assert await until_done(gw, second) == "cancelled"

        # an id the gateway never gave out
        unknown = await refusal(gw, "tasks/get", {"taskId": "no-such-task"})
        assert unknown.error.code == -32602
        assert (
            unknown.error.message
            == "Unknown task 'no-such-task'. Call tasks/list to see your tasks."
        )


async def test_a_task_only_tool_called_without_a_task_says_how_to_call_it(tmp_path: Path) -> None:
    servers = {"everything": everything_server()}
    async with start_gateway(tmp_path, servers, args=["--expose", "both"], mode="legacy") as gw:
        await listed(gw, DIRECT)
        for result in (
            await gw.client.call_tool_mcp(DIRECT, {"topic": "x"}),
            await gw.downstream("everything", TOOL, topic="x"),
        ):
            assert result.is_error
            text = result.content[0].text
            assert f"Tool {TOOL!r} on server 'everything' runs only as a task" in text
            assert "params.task" in text and "tasks/get" in text and "tasks/result" in text

        # a tool that takes no task says so, with a clear error, not -32601
        echo = await refusal(
            gw,
            "tools/call",
            {"name": "everything__echo", "arguments": {"message": "hi"}, "task": {}},
        )
        assert echo.error.code != -32601
        assert "does not run as a task" in echo.error.message
        listing = await refusal(gw, "tools/call", {"name": "list_servers", "task": {}})
        assert "does not run as a task" in listing.error.message


async def test_tasks_of_one_agent_are_invisible_to_another_and_follow_policy(
    tmp_path: Path,
) -> None:
    servers = {"everything": everything_server()}
    policies = {"alice": ALL, "bob": ALL}
    async with start_gateway(tmp_path, servers, policies=policies, mode="legacy") as gw:
        # meta mode: the caller's own params.task on its call_tool call
        arguments = {
            "server": "everything",
            "tool": TOOL,
            "arguments": {"topic": "privacy"},
            "agent_id": "alice",
        }
        task_id = (await create(gw, "call_tool", arguments))["taskId"]
        alice, bob = {"agent_id": "alice"}, {"agent_id": "bob"}

        # bob (and a caller with no identity) sees nothing, exactly as for an unknown id
        for meta in (bob, None):
            extra = {"_meta": meta} if meta else {}
            listing = await request(gw, "tasks/list", extra)
            assert listing["tasks"] == []
            for method in ("tasks/get", "tasks/result", "tasks/cancel"):
                theirs = await refusal(gw, method, {"taskId": task_id, **extra})
                missing = await refusal(gw, method, {"taskId": "x" * 24, **extra})
                assert theirs.error.code == missing.error.code == -32602
                assert theirs.error.message == missing.error.message.replace("x" * 24, task_id)

        # alice sees it, and gets its result
        mine = await request(gw, "tasks/list", {"_meta": alice})
        assert [t["taskId"] for t in mine["tasks"]] == [task_id]
        assert await until_done(gw, task_id, alice) == "completed"
        result = await request(gw, "tasks/result", {"taskId": task_id, "_meta": alice})
        assert "Research Report: privacy" in result["content"][0]["text"]

        # a policy reload that hides the server hides its tasks
        write_policies(tmp_path, {"alice": '[allow]\nservers = ["other"]\n'})

        async def hidden() -> bool:
            try:
                await request(gw, "tasks/get", {"taskId": task_id, "_meta": alice})
            except MCPError as exc:
                return exc.error.message.startswith("Unknown task")
            return False

        await await_until(hidden, timeout=10, what="alice's task to be hidden by her policy")
        assert (await request(gw, "tasks/list", {"_meta": alice}))["tasks"] == []


async def test_a_tasks_question_reaches_the_caller_while_it_waits_for_the_result(
    tmp_path: Path,
) -> None:
    asked: list[str] = []

    async def elicit(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return {"interpretation": "historical"}

    servers = {"everything": everything_server()}
    options = {"elicitation_handler": elicit}
    async with start_gateway(
        tmp_path, servers, args=["--expose", "direct"], mode="legacy", client_options=options
    ) as gw:
        await listed(gw, DIRECT)
        task_id = (await create(gw, DIRECT, {"topic": "rome", "ambiguous": True}))["taskId"]

        async def needs_input() -> bool:
            task = await request(gw, "tasks/get", {"taskId": task_id})
            return task["status"] == "input_required"

        await await_until(needs_input, timeout=TASK_DONE, what="the task to ask")
        result = await request(gw, "tasks/result", {"taskId": task_id})
        assert asked and "rome" in asked[0]
        assert "Research Report: rome (historical)" in result["content"][0]["text"]


async def test_a_2026_caller_is_told_the_tasks_extension_is_not_relayed(tmp_path: Path) -> None:
    servers = {"everything": everything_server()}
    async with start_gateway(tmp_path, servers, args=["--expose", "direct"]) as gw:
        assert gw.client.session.protocol_version == "2026-07-28"
        caps = gw.client.server_capabilities
        assert caps is not None
        assert "io.modelcontextprotocol/tasks" not in (caps.extensions or {})
        await listed(gw, DIRECT)
        for method, params in (
            ("tools/call", {"name": DIRECT, "arguments": {"topic": "x"}, "task": {}}),
            ("tasks/get", {"taskId": "abc"}),
            ("tasks/update", {"taskId": "abc", "inputResponses": {}}),
        ):
            refused = await refusal(gw, method, params)
            assert refused.error.code == -32600
            text = "does not relay the io.modelcontextprotocol/tasks extension of protocol 2026"
            assert text in refused.error.message
            assert "need protocol 2025-11-25" in refused.error.message


async def test_over_http_a_bearer_token_agent_sees_only_its_own_tasks(tmp_path: Path) -> None:
    tokens = {agent: secrets.token_urlsafe(24) for agent in ("alice", "bob")}
    policies = {
        agent: f'tokens_sha256 = ["{hashlib.sha256(token.encode()).hexdigest()}"]\n{ALL}'
        for agent, token in tokens.items()
    }
    servers = {"everything": everything_server()}
    watch = StatusWatch()
    with http_gateway(tmp_path, servers, policies=policies, args=["--expose", "direct"]) as gw:
        alice = Client(gw.url, mode="legacy", auth=tokens["alice"], extensions=[watch])
        bob = Client(gw.url, mode="legacy", auth=tokens["bob"])
        async with alice, bob:
            deadline = time.monotonic() + 30
            while DIRECT not in {t.name for t in await alice.list_tools()}:
                assert time.monotonic() < deadline, f"{DIRECT} not listed"
                await anyio.sleep(0.05)
            task_id = (await create(alice, DIRECT, {"topic": "http"}))["taskId"]
            assert (await request(bob, "tasks/list", {}))["tasks"] == []
            theirs = await refusal(bob, "tasks/get", {"taskId": task_id})
            unknown = f"Unknown task {task_id!r}. Call tasks/list to see your tasks."
            assert theirs.error.message == unknown
            assert await until_done(alice, task_id) == "completed"
            result = await request(alice, "tasks/result", {"taskId": task_id})
            assert "Research Report: http" in result["content"][0]["text"]
            await await_until(lambda: (task_id, "completed") in watch.seen, what="a status")


@pytest.mark.parametrize(
    ("expose", "tool", "arguments", "how"),
    [
        ("direct", DIRECT, {"topic": "node"}, "auto"),  # the client sees taskSupport: required
        (
            "meta",
            "call_tool",
            {"server": "everything", "tool": TOOL, "arguments": {"topic": "node"}},
            "explicit",  # call_tool declares no taskSupport: the client asks for a task itself
        ),
    ],
)
def test_a_typescript_sdk_task_client_runs_a_tool_as_a_task_through_the_gateway(
    tmp_path: Path, expose: str, tool: str, arguments: dict[str, Any], how: str
) -> None:
    """The MCP TypeScript SDK's own task client (callToolStream), as a real caller would."""
    node = shutil.which("node")
    assert node is not None, "node is needed (it runs server-everything too)"
    config = write_config(tmp_path, {"everything": everything_server()})
    gateway = [PY, "-m", "agent_gateway", "serve", "--config", str(config), "--expose", expose]
    script = REPO / "tests" / "npm" / "task_client.mjs"
    argv = [node, str(script), tool, json.dumps(arguments), how, "--", *gateway]
    env = {**os.environ, **passed_env()}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=40, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0] == {
        "type": "capabilities",
        "tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}},
    }
    created = lines[1]
    assert created["type"] == "taskCreated" and len(created["taskId"]) == 24
    statuses = [(m["taskId"], m["status"]) for m in lines[2:-1]]
    assert statuses[-1] == (created["taskId"], "completed")
    assert lines[-1]["type"] == "result"
    assert "Research Report: node" in lines[-1]["text"]


def test_the_task_table_forgets_an_agents_oldest_tasks_and_finds_them_by_downstream_id() -> None:
    from agent_gateway.front.tasks import TaskEntry, TaskTable

    backend: Any = object()
    table = TaskTable(kept=2)
    ids = [table.add(TaskEntry("alice", "s", "t", backend, f"d{n}")) for n in range(3)]
    other = table.add(TaskEntry("bob", "s", "t", backend, "b0"))
    assert len(set(ids)) == 3 and all(len(i) == 24 for i in ids)
    assert table.get(ids[0]) is None  # alice's oldest, past her two
    assert table.of_downstream(backend, "d0") is None
    found = table.of_downstream(backend, "d2")
    assert found is not None and found[0] == ids[2]
    assert [k for k, _ in table.items()] == [ids[1], ids[2], other]
    table.forget(ids[2])
    assert table.of_downstream(backend, "d2") is None
