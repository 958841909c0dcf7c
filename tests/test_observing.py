"""One CallWatch per call: outcomes, bounded labels, the audit line (in process)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from conftest import echo_server

from agent_gateway.audit import AuditLog
from agent_gateway.core import errors
from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.identity import Caller
from agent_gateway.core.policy import PolicySet
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.front.gateway import Gateway
from agent_gateway.front.observing import outcome_of
from agent_gateway.metrics import GatewayMetrics

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (errors.UnknownServerError("s"), "denied_or_missing"),
        (errors.UnknownToolError("s", "t"), "denied_or_missing"),
        (errors.QuarantinedToolError("s", "t", "held"), "quarantined"),
        (errors.InvalidArgumentsError("bad"), "invalid_arguments"),
        (errors.BackendTimeoutError("s", "slow"), "timeout"),
        (errors.BackendCrashedError("s", "died"), "crashed"),
        (errors.BackendUnavailableError("s", "off"), "unavailable"),
        (errors.BackendStartError("s", "no"), "backend_error"),
        (errors.BackendError("s", "x"), "backend_error"),
        # load control (downstream/guard.py): each error class names its own outcome
        (errors.ServerBusyError("s", "busy", retry_after=1), "busy"),
        (errors.CircuitOpenError("s", "open", retry_after=1), "circuit_open"),
        (errors.RateLimitedError("over", retry_after=1), "rate_limited"),
        (errors.GatewayError("x"), "gateway_error"),
        (asyncio.CancelledError(), "cancelled"),
    ],
)
def test_every_failure_has_an_outcome_label(exc: BaseException, outcome: str) -> None:
    assert outcome_of(exc) == outcome


def calls(metrics: GatewayMetrics) -> dict[tuple[str, ...], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.labels["server"], s.labels["tool"], s.labels["agent"], s.labels["outcome"]): s.value
        for f in text_string_to_metric_families(metrics.render().decode())
        for s in f.samples
        if s.name == "agent_gateway_calls_total"
    }


async def test_labels_stay_bounded_and_every_call_is_audited(tmp_path: Path) -> None:
    config = GatewayConfig.from_dict({"mcpServers": {"a": echo_server()}}, environ=dict(os.environ))
    manager = ProxyManager(config)
    policies = PolicySet.from_dicts({"ann": {"allow": {"servers": ["a"]}}})
    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    gateway = Gateway(manager, policies, config_path="x", audit=audit)
    ann, anonymous = Caller("ann", "declared"), Caller(None, "none")
    bob = Caller("bob", "declared")
    try:
        ok = await gateway.call_tool_raw(ann, "a", "echo", {"text": "hi"}, None, None)
        assert not (ok.get("isError") if isinstance(ok, dict) else ok.is_error)
        for caller, server, tool in [
            (ann, "a", "x" * 300),  # a made-up tool name
            (ann, "made-up", "echo"),
            (anonymous, "a", "echo"),  # no default policy: sees nothing
            (bob, "a", "echo"),  # no policy file
        ]:
            with pytest.raises(errors.NotFoundError):
                await gateway.call_tool_raw(caller, server, tool, {}, None, None)
    finally:
        await manager.close()
        audit.close()
    assert calls(gateway.metrics) == {
        ("a", "echo", "ann", "ok"): 1,
        ("a", "_other", "ann", "denied_or_missing"): 1,
        ("_other", "_other", "ann", "denied_or_missing"): 1,
        ("a", "echo", "_anonymous", "denied_or_missing"): 1,
        ("a", "echo", "_unknown", "denied_or_missing"): 1,
    }
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 5
    assert '"allowed": true' in lines[0] and '"allowed": false' in lines[1]


def test_agent_labels_are_policy_files_or_the_launch_agent_even_in_open_mode() -> None:
    from agent_gateway.front.observing import Observer

    config = GatewayConfig.from_dict({"mcpServers": {}}, environ=dict(os.environ))
    manager = ProxyManager(config)
    for policies in (PolicySet.open(), PolicySet.from_dicts({"ann": {}})):
        observer = Observer(manager, lambda p=policies: p, GatewayMetrics(), None, "bound")
        assert observer.agent_label(None) == "_anonymous"
        assert observer.agent_label("bound") == "bound"
        assert observer.agent_label("any-name-a-caller-declares") == "_unknown"
    observer = Observer(
        manager, lambda: PolicySet.from_dicts({"ann": {}}), GatewayMetrics(), None, None
    )
    assert observer.agent_label("ann") == "ann"
