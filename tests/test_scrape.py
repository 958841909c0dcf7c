"""``GET /metrics``: on the HTTP front, and on ``serve --metrics-port`` for a stdio gateway.

Real gateway subprocesses, real calls, a crash, a failed start and reloads;
each scrape parsed with ``prometheus_client.parser``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import await_until, echo_server, py_server, start_gateway, write_config
from fastmcp import Client
from prometheus_client.parser import text_string_to_metric_families
from test_http_e2e import free_port, http_gateway

from agent_gateway.front.scrape import answer

pytestmark = pytest.mark.anyio

POLICIES = {
    "default": '[allow]\nservers = ["*"]\n',
    "alice": '[allow]\nservers = ["*"]\n',
}
SERVERS = {
    "a": echo_server(),
    "crashy": py_server("faulty_server.py", "--mode", "crash-after"),
    "broken": py_server("faulty_server.py", "--mode", "start-crash"),
}


class Scrape:
    """One parsed scrape: ``value(name, **labels)`` sums the samples that match."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            s for family in text_string_to_metric_families(text) for s in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def labels(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name}


def scrape(url: str) -> Scrape:
    response = httpx2.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(response.text)


def reaches(url: str, check: Callable[[Scrape], bool]) -> Callable[[], bool]:
    return lambda: check(scrape(url))


async def test_http_front_metrics_count_calls_crashes_failed_starts_and_reloads(
    tmp_path: Path,
) -> None:
    with http_gateway(tmp_path, SERVERS, policies=POLICIES) as gw:
        url = f"{gw.base}/metrics"
        async with Client(gw.url, timeout=30) as client:

            async def call(server: str, tool: str, **extra: Any) -> Any:
                return await client.call_tool_mcp(
                    "call_tool", {"server": server, "tool": tool, **extra}
                )

            assert not (await call("a", "echo", arguments={"text": "hi"})).is_error
            assert not (
                await call("a", "echo", arguments={"text": "hi"}, agent_id="alice")
            ).is_error
            assert (await call("a", "fail", arguments={"message": "no"})).is_error
            assert (await call("a", "no_such_tool")).is_error
            assert (await call("nowhere", "echo")).is_error
            assert (await call("a", "echo", agent_id="mallory")).is_error  # no policy file
            assert not (await call("crashy", "crash_soon")).is_error  # exits 0.1 s later
            assert (await call("broken", "echo")).is_error
            searched = await client.call_tool_mcp("list_tools", {"query": "echo text"})
            assert not searched.is_error
        await await_until(
            reaches(url, lambda s: s.value("agent_gateway_server_crashes_total") == 1),
            what="the crash counted",
        )
        write_config(tmp_path / "conf", {**SERVERS, "b": echo_server()})
        await await_until(
            reaches(url, lambda s: s.value("agent_gateway_reloads_total", result="ok") >= 1),
            what="the reload counted",
        )
        (tmp_path / "conf" / ".mcp.json").write_text("{ not json")
        await await_until(
            reaches(url, lambda s: s.value("agent_gateway_reloads_total", result="rejected") >= 1),
            what="the rejected reload counted",
        )
        s = scrape(url)
    calls = "agent_gateway_calls_total"
    assert s.value(calls, server="a", tool="echo", agent="_anonymous", outcome="ok") == 1
    assert s.value(calls, server="a", tool="echo", agent="alice", outcome="ok") == 1
    assert s.value(calls, server="a", tool="fail", outcome="tool_error") == 1
    # Names that do not exist fold into one label; a known tool a caller may not use keeps its.
    assert s.value(calls, server="a", tool="_other", outcome="denied_or_missing") == 1
    assert s.value(calls, server="_other", tool="_other", outcome="denied_or_missing") == 1
    assert (
        s.value(calls, server="a", tool="echo", agent="_unknown", outcome="denied_or_missing") == 1
    )
    assert s.value(calls, server="crashy", tool="crash_soon", outcome="ok") == 1
    assert s.value(calls, server="broken", tool="_other", outcome="backend_error") == 1
    assert s.labels(calls, "agent") == {"_anonymous", "alice", "_unknown"}
    assert s.value(calls) == 8
    # Latency: gateway-added time for every call, downstream time for the six that asked one
    # (a start, a tool list or a call); a start is the downstream's time, not the gateway's.
    assert s.value("agent_gateway_call_gateway_seconds_count") == 8
    assert s.value("agent_gateway_call_downstream_seconds_count", server="a") == 4
    assert s.value("agent_gateway_call_downstream_seconds_count") == 6
    assert s.value("agent_gateway_call_gateway_seconds_bucket", le="1.0") == 8
    assert s.value("agent_gateway_server_starts_total", server="a") == 1
    assert s.value("agent_gateway_server_start_failures_total", server="broken") >= 1
    assert s.value("agent_gateway_server_crashes_total", server="crashy") == 1
    assert s.value("agent_gateway_server_state", server="a", state="ready") == 1
    assert s.value("agent_gateway_server_state", server="a") == 1  # one state at a time
    assert s.value("agent_gateway_server_state", server="b", state="idle") == 1
    assert s.value("agent_gateway_server_state", server="broken", state="error") == 1
    assert s.value("agent_gateway_tools_quarantined", server="a") == 0
    assert s.value("agent_gateway_reloads_total", file="config", result="ok") >= 1
    assert s.value("agent_gateway_reloads_total", file="config", result="rejected") >= 1
    assert s.value("agent_gateway_search_seconds_count", ranker="lexical") == 1


async def test_a_stdio_gateway_serves_metrics_on_its_metrics_port(tmp_path: Path) -> None:
    port = free_port()
    args = ["--metrics-port", str(port)]
    async with start_gateway(tmp_path, {"a": echo_server()}, args=args) as gw:
        assert not (await gw.downstream("a", "echo", text="hi")).is_error
        s = scrape(f"http://127.0.0.1:{port}/metrics")
        assert s.value("agent_gateway_calls_total", server="a", tool="echo", outcome="ok") == 1
        assert httpx2.get(f"http://127.0.0.1:{port}/other", timeout=10).status_code == 404
        evil = httpx2.get(
            f"http://127.0.0.1:{port}/metrics", headers={"Host": "evil.com"}, timeout=10
        )
        assert evil.status_code == 403


def render() -> bytes:
    return b"m 1\n"


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n", "200 OK"),
        (b"GET /metrics?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n", "200 OK"),
        (b"GET /metrics HTTP/1.0\r\n\r\n", "200 OK"),  # no Host: not a browser
        (b"GET /metrics HTTP/1.1\r\nHost: evil.com\r\n\r\n", "403 Forbidden"),
        (b"POST /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", "404 Not Found"),
        (b"GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n", "404 Not Found"),
        (b"garbage\r\n\r\n", "404 Not Found"),
    ],
)
def test_the_metrics_listener_answers_only_get_metrics_from_a_loopback_host(
    head: bytes, status: str
) -> None:
    got, body, _ = answer(head, render)
    assert got == status
    assert (body == b"m 1\n") is (status == "200 OK")
