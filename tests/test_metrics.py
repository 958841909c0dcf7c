"""GatewayMetrics: a registry per gateway, the series it renders, scrape-time server gauges."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from agent_gateway.metrics import GatewayMetrics, ServerSample


def values(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_two_gateways_in_one_process_count_apart_and_never_in_the_default_registry() -> None:
    one, two = GatewayMetrics(), GatewayMetrics()
    one.call("a", "echo", "_anonymous", "ok", 0.0001, 0.002)
    one.call("a", "echo", "_anonymous", "ok", 0.0001, 0.002)
    two.call("a", "echo", "_anonymous", "ok", 0.0001, None)
    key = (
        "agent_gateway_calls_total",
        (("agent", "_anonymous"), ("outcome", "ok"), ("server", "a"), ("tool", "echo")),
    )
    assert values(one)[key] == 2
    assert values(two)[key] == 1
    assert values(one)[("agent_gateway_call_downstream_seconds_count", (("server", "a"),))] == 2
    assert ("agent_gateway_call_downstream_seconds_count", (("server", "a"),)) not in values(two)
    assert REGISTRY.get_sample_value("agent_gateway_calls_total") is None


def test_server_events_reloads_and_searches_are_counted() -> None:
    m = GatewayMetrics()
    m.started("a", restart=False)
    m.started("a", restart=True)
    m.start_failed("b")
    m.crashed("a")
    m.reloaded("config", True)
    m.reloaded("policies", False)
    m.searched("lexical", 0.001)
    v = values(m)
    assert v[("agent_gateway_server_starts_total", (("server", "a"),))] == 2
    assert v[("agent_gateway_server_restarts_total", (("server", "a"),))] == 1
    assert v[("agent_gateway_server_start_failures_total", (("server", "b"),))] == 1
    assert v[("agent_gateway_server_crashes_total", (("server", "a"),))] == 1
    assert v[("agent_gateway_reloads_total", (("file", "config"), ("result", "ok")))] == 1
    assert v[("agent_gateway_reloads_total", (("file", "policies"), ("result", "rejected")))] == 1
    assert v[("agent_gateway_search_seconds_count", (("ranker", "lexical"),))] == 1


def test_server_gauges_are_read_at_each_scrape() -> None:
    m = GatewayMetrics()
    servers = [ServerSample("a", "ready", 2, 1)]
    m.watch_servers(lambda: servers)
    v = values(m)
    states = {k[1][1][1]: val for k, val in v.items() if k[0] == "agent_gateway_server_state"}
    assert states == {"idle": 0, "connecting": 0, "ready": 1, "error": 0, "disabled": 0}
    assert v[("agent_gateway_server_inflight_calls", (("server", "a"),))] == 2
    assert v[("agent_gateway_tools_quarantined", (("server", "a"),))] == 1
    servers[0] = ServerSample("a", "error", 0, 0)
    v = values(m)
    assert v[("agent_gateway_server_state", (("server", "a"), ("state", "error")))] == 1
    assert v[("agent_gateway_server_state", (("server", "a"), ("state", "ready")))] == 0
