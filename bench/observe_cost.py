"""What metrics and tracing add to one call, in microseconds (a micro-benchmark).

Run: python bench/observe_cost.py [--calls N]

Times, per call, what the call path runs for observability and nothing else:
- ``metrics``: ``GatewayMetrics.call`` (a cached counter child, two histograms);
- ``watch``: a whole ``CallWatch`` (``Observer.call``) around an empty body: labels, the
  agent look-up, the contextvar, metrics (and the span, once an SDK is configured);
- ``front span``: the fast route's ``front_span`` (with a ``traceparent`` in ``_meta``
  and without).
First with ``opentelemetry-api`` alone (what a user gets by default), then with the SDK
configured (a ``TracerProvider`` whose processor drops every span, so export costs
nothing here: a real exporter adds its own cost, off the call path when batched).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.identity import Caller
from agent_gateway.core.policy import PolicySet
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.front.observing import Observer
from agent_gateway.metrics import GatewayMetrics
from agent_gateway.tracing import front_span, recheck

TRACEPARENT = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def per_call_us(body: Callable[[], None], calls: int) -> float:
    """The best of five rounds of ``calls`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            body()
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def rows(calls: int) -> dict[str, float]:
    metrics = GatewayMetrics()
    manager = ProxyManager(GatewayConfig.from_dict({"mcpServers": {}}, environ=dict(os.environ)))
    policies = PolicySet.from_dicts({"ann": {"allow": {"servers": ["*"]}}})
    observer = Observer(manager, lambda: policies, metrics, None, None)
    caller = Caller("ann", "declared")

    def call_metrics() -> None:
        metrics.call("a", "echo", "ann", "ok", 0.0001, 0.002)

    def watch() -> None:
        with observer.call(caller, "a", "echo", None) as w:
            w.resolved()
            w.downstream_s = 0.002
            w.is_error = False

    def front(meta: object) -> Callable[[], None]:
        def body() -> None:
            with front_span(meta, "1", "2025-11-25", "call_tool") as span:
                span.result(False)

        return body

    return {
        "metrics": per_call_us(call_metrics, calls),
        "watch": per_call_us(watch, calls),
        "front span, no traceparent": per_call_us(front(None), calls),
        "front span, traceparent": per_call_us(front(TRACEPARENT), calls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    api_only = rows(args.calls)

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    trace.set_tracer_provider(TracerProvider())  # no processor: spans made, then dropped
    recheck()
    with_sdk = rows(args.calls)
    print(f"{'per call (us)':<30}{'API only':>10}{'SDK':>10}")
    for name in api_only:
        print(f"{name:<30}{api_only[name]:>10.2f}{with_sdk[name]:>10.2f}")
    total_api = api_only["watch"] + api_only["front span, traceparent"]
    total_sdk = with_sdk["watch"] + with_sdk["front span, traceparent"]
    print(f"{'fast route total (watch+front)':<30}{total_api:>10.2f}{total_sdk:>10.2f}")


if __name__ == "__main__":
    main()
