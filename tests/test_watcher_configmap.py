"""The real watch loop against a ConfigMap volume as the kubelet updates it (a ``..data`` swap).

Kubernetes never writes ``.mcp.json`` or a policy file in place: it renames a
new ``..data`` symlink over the old one and deletes the folder the old one
pointed at (see ``tests/configmap.py``). The watcher must apply that update
(config, policies, pins) within a couple of seconds, and again on the next
update, after the folders it watched through the old link are gone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from configmap import update_volume, write_volume
from conftest import await_until, echo_server

from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.pins import PinnedTool, PinsFile, ServerPins, dump
from agent_gateway.core.policy import PolicySet
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.downstream.pinning import PinKeeper
from agent_gateway.front.gateway import Gateway
from agent_gateway.watcher import Reloader

APPLIED_WITHIN = 3.0  # seconds from the swap to the change in force (a loaded 2-core machine)


def config_text(*names: str) -> str:
    return json.dumps({"mcpServers": {n: echo_server() for n in names}})


def allow(*globs: str) -> str:
    return f"[allow]\nservers = {json.dumps(list(globs))}\n"


def pins_text(*tools: str) -> str:
    server = ServerPins(tools={t: PinnedTool.of({"name": t}) for t in tools})
    return dump(PinsFile(servers={"a": server}))


class Watched:
    """A Gateway whose Reloader runs its real watch loop over ``config`` and ``policies``."""

    def __init__(self, config: Path, policies: Path) -> None:
        manager = ProxyManager(GatewayConfig.from_file(config), pins=PinKeeper(str(config)))
        policy_set = PolicySet.from_dir(str(policies), explicit=True)
        self.gateway = Gateway(manager, policy_set, config_path=str(config))
        self.reloader = Reloader(self.gateway, str(config), str(policies))
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def names(self) -> list[str]:
        return sorted(self.gateway.manager.names())

    def visible(self) -> list[str]:
        return self.gateway.policies.visible_servers(None, self.names())

    def pinned(self) -> list[str]:
        pins = self.gateway.manager.pins
        assert pins is not None
        server = pins.file.servers.get("a")
        return sorted(server.tools) if server else []

    async def start(self, rewrite: Callable[[], None]) -> None:
        """Run the loop; ``rewrite`` (an update that changes nothing) until one is seen."""
        self.task = asyncio.create_task(self.reloader.run(self.stop))

        def armed() -> bool:
            rewrite()
            return len(self.gateway.reloads) > 0

        await await_until(armed, timeout=10, what="the watcher to see a ..data swap")

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)
            assert self.task.exception() is None
        await self.gateway.manager.close()


@pytest.fixture
async def watched() -> AsyncIterator[list[Watched]]:
    made: list[Watched] = []
    yield made
    for w in made:
        await w.close()


async def applied(predicate: Callable[[], bool], what: str) -> float:
    """Seconds until ``predicate`` holds; fails past APPLIED_WITHIN."""
    start = time.monotonic()
    await await_until(predicate, timeout=APPLIED_WITHIN, what=what)
    return time.monotonic() - start


@pytest.mark.anyio
async def test_one_configmap_with_config_policies_and_pins_is_applied_on_every_swap(
    tmp_path: Path, watched: list[Watched]
) -> None:
    volume = tmp_path / "etc"
    files: dict[str, str] = {
        ".mcp.json": config_text("a", "b"),
        "policies/default.toml": allow("a"),
        ".agent-gateway/pins.json": pins_text("t1"),
    }
    write_volume(volume, files)
    w = Watched(volume / ".mcp.json", volume / "policies")
    watched.append(w)
    await w.start(lambda: update_volume(volume, files))
    assert (w.names(), w.visible(), w.pinned()) == (["a", "b"], ["a"], ["t1"])

    update_volume(volume, {**files, ".mcp.json": config_text("a", "b", "c")})
    await applied(lambda: w.names() == ["a", "b", "c"], "the swapped config")

    files[".mcp.json"] = config_text("a", "b", "c")
    update_volume(volume, {**files, "policies/default.toml": allow("b", "c")})
    await applied(lambda: w.visible() == ["b", "c"], "the swapped policies")

    files = {**files, ".mcp.json": config_text("a", "c"), "policies/default.toml": allow("*")}
    files[".agent-gateway/pins.json"] = pins_text("t1", "t2")
    update_volume(volume, files)
    await applied(
        lambda: (w.names(), w.visible(), w.pinned()) == (["a", "c"], ["a", "c"], ["t1", "t2"]),
        "config, policies and pins swapped at once",
    )


@pytest.mark.anyio
async def test_config_and_policies_in_two_configmaps_are_both_applied_on_their_swaps(
    tmp_path: Path, watched: list[Watched]
) -> None:
    conf, pol = tmp_path / "conf", tmp_path / "policies"
    config = {".mcp.json": config_text("a", "b")}
    write_volume(conf, config)
    write_volume(pol, {"default.toml": allow("a")})
    w = Watched(conf / ".mcp.json", pol)
    watched.append(w)
    await w.start(lambda: update_volume(conf, config))

    update_volume(pol, {"default.toml": allow("b"), "alice.toml": allow("*")})
    await applied(lambda: w.visible() == ["b"], "the swapped policies ConfigMap")
    assert "alice" in w.gateway.policies.agents

    update_volume(conf, {".mcp.json": config_text("b", "c")})
    await applied(lambda: w.names() == ["b", "c"], "the swapped config ConfigMap")

    update_volume(pol, {"default.toml": allow("c")})  # alice.toml goes, as its key did
    await applied(lambda: w.visible() == ["c"], "a second policies swap")
    assert "alice" not in w.gateway.policies.agents


def test_a_swap_of_the_config_folder_classifies_as_everything_that_lives_in_it(
    tmp_path: Path,
) -> None:
    volume = tmp_path / "etc"
    write_volume(volume, {".mcp.json": config_text("a"), "policies/default.toml": allow("a")})
    w = Watched(volume / ".mcp.json", volume / "policies")
    assert w.reloader._classify(str(volume / "..data")) == (True, True, True)
    assert w.reloader._classify(str(volume / "..data_tmp")) == (False, False, False)
    assert w.reloader._classify(str(volume / "policies" / "..data")) == (False, True, False)
    assert w.reloader._classify(str(tmp_path / "..data")) == (False, False, False)
