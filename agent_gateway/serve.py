"""Run the gateway until stdin closes or a signal arrives, then stop every downstream."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from starlette.middleware import Middleware

from agent_gateway.audit import AuditLog
from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.errors import GatewayError
from agent_gateway.core.policy import PolicySet
from agent_gateway.downstream.catalog import Catalog, default_folder
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.downstream.pinning import PinKeeper
from agent_gateway.front.frontio import run_stdio
from agent_gateway.front.gateway import Gateway
from agent_gateway.front.httpfront import GuardMiddleware, Readiness, is_loopback_bind
from agent_gateway.front.scrape import serve_metrics
from agent_gateway.front.searching import Searcher
from agent_gateway.front.server import build_server
from agent_gateway.logs import REDACTOR
from agent_gateway.watcher import Reloader

logger = logging.getLogger("agent_gateway.serve")

SHUTDOWN_GRACE = 5.0


async def serve(
    args: argparse.Namespace, config: GatewayConfig, policies: PolicySet, policies_path: str
) -> int:
    if args.transport == "http":
        check_port_free(args.host, args.port)
    _log_access(policies, args.agent)
    cache = default_folder()
    pins = PinKeeper(str(config.path))
    manager = ProxyManager(config, catalog=Catalog(cache), pins=pins)
    searcher = Searcher.for_mode(args.search, cache / "vectors")
    audit = _audit_log(args)
    gateway = Gateway(
        manager,
        policies,
        config_path=str(config.path),
        launch_agent=args.agent,
        audit=audit,
        http=args.transport == "http",
        searcher=searcher,
    )
    gateway.background.append(searcher.run)
    reloader = Reloader(gateway, str(config.path), policies_path)
    gateway.background.append(reloader.run)
    server = build_server(gateway, args.expose, args.list_wait)

    scrape = await _metrics_listener(args, gateway)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    _on_signals(loop, args, manager, reloader, stop)
    if args.transport == "stdio":
        server_task = asyncio.create_task(run_stdio(server))
    else:
        options = _http_options(args, gateway, lambda: readiness(gateway, reloader))
        server_task = asyncio.create_task(server.run_async(**options))
    stop_task = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({server_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_task.cancel()
        await _shut_down(args, manager, server_task)
        if scrape is not None:
            scrape.close()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        if audit is not None:
            audit.close()
    if server_task.done() and not server_task.cancelled() and server_task.exception():
        failure = server_task.exception()
        if isinstance(failure, SystemExit):  # uvicorn exits when it cannot bind or start
            raise GatewayError(
                f"the HTTP server could not start on {args.host}:{args.port} (see the log "
                "above). Pass --port N or --host H to change the address."
            )
        raise failure  # type: ignore[misc]
    logger.info("Gateway stopped.")
    if stop.is_set() and args.transport == "stdio" and not server_task.done():
        # A signal ended us while the threaded stdio front still blocks reading
        # stdin; every downstream is already stopped, so leave without waiting for it.
        _exit_now()
    return 0


def _audit_log(args: argparse.Namespace) -> AuditLog | None:
    if not args.audit_log:
        return None
    return AuditLog(args.audit_log, values=args.audit_args, redact=REDACTOR.redact_tree)


async def _metrics_listener(args: argparse.Namespace, gateway: Gateway) -> asyncio.Server | None:
    """``--metrics-port``: the Prometheus listener (the HTTP front has ``/metrics`` anyway)."""
    if args.metrics_port is None:
        return None
    return await serve_metrics(
        gateway.metrics.render, args.metrics_host, args.metrics_port, args.allowed_host or ()
    )


def check_port_free(host: str, port: int) -> None:
    """Fail in one line, before anything starts, when ``host:port`` cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise GatewayError(f"cannot resolve --host {host!r}: {exc.strerror}.") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise GatewayError(
                    f"port {port} on {host} is already in use (another agent-gateway?). "
                    "Pass --port N to use another port."
                ) from exc
            raise GatewayError(
                f"cannot listen on {host}:{port}: {exc.strerror}. Pass --port N or --host H."
            ) from exc


def _log_access(policies: PolicySet, agent: str | None) -> None:
    if policies.open_mode:
        logger.warning(
            "Open mode: no policies folder at %r, so every caller sees every server. "
            "Create it (agent-gateway init) to restrict access.",
            policies.path,
        )
    elif policies.absent and agent is not None:
        logger.warning("Agent %r sees nothing. %s", agent, policies.hint_for(agent))


def readiness(gateway: Gateway, reloader: Reloader) -> Readiness:
    """Ready once the config and policies are loaded (they are, before the front starts)
    and the watcher follows their files; counts and flags only, no names or paths."""
    config, policies = gateway.manager.config, gateway.policies
    last = gateway.reloads[-1] if gateway.reloads else None
    detail = {
        "config_loaded": True,
        "servers": len(config.servers),
        "policies_loaded": True,
        "agents": len(policies.agents),
        "open_mode": policies.open_mode,
        "watching": reloader.watching,
        "last_reload_ok": None if last is None else last.ok,
    }
    return Readiness(reloader.watching, detail)


def _http_options(
    args: argparse.Namespace, gateway: Gateway, ready: Callable[[], Readiness]
) -> dict[str, Any]:
    """``run_async`` keyword arguments for the HTTP front, with its guard."""
    if not is_loopback_bind(args.host):
        logger.warning(
            "Binding %s: the gateway is reachable from other machines. Give every agent a "
            "bearer token (agent-gateway token NAME) and keep default.toml narrow.",
            args.host,
        )
    guard = Middleware(
        GuardMiddleware,
        policies=lambda: gateway.policies,
        allowed_hosts=args.allowed_host or (),
        readiness=ready,
        metrics=gateway.metrics.render,
    )
    logger.info("Serving MCP over HTTP at http://%s:%d/mcp", args.host, args.port)
    return {
        "show_banner": False,
        "transport": "http",
        "host": args.host,
        "port": args.port,
        "path": "/mcp",
        "middleware": [guard],
        # log_config None: uvicorn keeps its hands off logging, so its lines go
        # through our handler (JSON with --log-format json) like everything else.
        "uvicorn_config": {"access_log": False, "log_config": None},
    }


def _on_signals(
    loop: asyncio.AbstractEventLoop,
    args: argparse.Namespace,
    manager: ProxyManager,
    reloader: Reloader,
    stop: asyncio.Event,
) -> None:
    """SIGTERM/SIGINT stop (a second one while stopping stdio kills now); SIGHUP reloads."""

    def on_stop_signal() -> None:
        if args.transport == "stdio" and manager.closing:
            # The client is done waiting for us (the MCP stdio rules: close stdin,
            # wait, SIGTERM, wait, SIGKILL): nothing may outlive the gateway.
            logger.warning("Signalled while stopping: killing every downstream server now.")
            manager.kill()
            _exit_now()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop_signal)
    hup_tasks: set[asyncio.Task[None]] = set()

    def on_hup() -> None:
        logger.info("SIGHUP: reloading the config and policies.")
        task = loop.create_task(reloader.reload())
        hup_tasks.add(task)
        task.add_done_callback(hup_tasks.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)


async def _shut_down(
    args: argparse.Namespace, manager: ProxyManager, server_task: asyncio.Task[Any]
) -> None:
    if args.transport == "http" and not server_task.done():
        # uvicorn saw the same signal and shuts down gracefully (calls in
        # flight finish); cancelling it mid-way would log a traceback.
        await asyncio.wait({server_task}, timeout=SHUTDOWN_GRACE)
    # Downstream processes first: a stuck front must not keep them alive.
    await asyncio.shield(manager.close())
    if not server_task.done():
        server_task.cancel()
        # Not wait_for: the SDK's threaded stdin (the fallback front) never
        # acknowledges a cancellation, so over stdio barely wait at all.
        grace = 1.0 if args.transport == "stdio" else SHUTDOWN_GRACE
        await asyncio.wait({server_task}, timeout=grace)


def _exit_now() -> NoReturn:
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)
