"""In-process tests of the hot-reload logic (watcher.Reloader), no gateway subprocess.

A real ``Gateway`` (manager, policies, reload log) is built over files in
``tmp_path``; the tests edit the files and call ``reload_config()`` /
``reload_policies()`` directly, or run the watch loop itself. The servers in
these configs are never started (backends are lazy), so nothing is spawned.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import await_until, echo_server, write_config, write_policies

from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.pins import PinnedTool, PinsFile, ServerPins, dump
from agent_gateway.core.policy import PolicySet
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.downstream.pinning import PinKeeper
from agent_gateway.front.gateway import RELOADS_KEPT, Gateway
from agent_gateway.watcher import Reloader

ALLOW_ALL = 'description = "all"\n[allow]\nservers = ["*"]\n'
ALLOW_PUBLIC = 'description = "public only"\n[allow]\nservers = ["public*"]\n'
LINE_COLUMN = re.compile(r"line \d+, column \d+")


class Setup:
    """A Gateway over ``folder/.mcp.json`` and ``folder/policies`` plus its Reloader."""

    def __init__(self, folder: Path, gateway: Gateway, reloader: Reloader) -> None:
        self.folder = folder
        self.gateway = gateway
        self.reloader = reloader

    @property
    def config(self) -> Path:
        return self.folder / ".mcp.json"

    @property
    def policies_dir(self) -> Path:
        return self.folder / "policies"

    def names(self) -> list[str]:
        return sorted(self.gateway.manager.names())

    def status(self, agent: str | None = None) -> dict[str, Any]:
        return self.gateway.gateway_status(agent)

    def last(self, agent: str | None = None) -> dict[str, Any]:
        reloads = self.status(agent)["reloads"]
        assert reloads, "no reload was recorded"
        return reloads[-1]


def make(
    folder: Path,
    servers: Mapping[str, Any],
    policies: Mapping[str, str] | None = None,
) -> Setup:
    """Write the files and build the Gateway the way serve.py does (open mode if no policies)."""
    config = write_config(folder, servers)
    pol = folder / "policies"
    if policies is None:
        policy_set = PolicySet.open(str(pol))
    else:
        write_policies(folder, policies)
        policy_set = PolicySet.from_dir(str(pol), explicit=True)
    manager = ProxyManager(GatewayConfig.from_file(config), pins=PinKeeper(str(config)))
    gateway = Gateway(manager, policy_set, config_path=str(config))
    return Setup(folder, gateway, Reloader(gateway, str(config), str(pol)))


@pytest.fixture
async def closing() -> AsyncIterator[list[Setup]]:
    """Close every Setup's manager at the end (drains retiring backends)."""
    made: list[Setup] = []
    yield made
    for setup in made:
        await setup.gateway.manager.close()


def servers(*names: str, **extra: Any) -> dict[str, Any]:
    return {name: echo_server(**extra) for name in names}


# ----- config ---------------------------------------------------------------------------


def test_invalid_json_keeps_the_running_config_and_records_line_and_column(
    tmp_path: Path,
) -> None:
    s = make(tmp_path, servers("a", "b"))
    before = dict(s.gateway.manager.backends)
    s.config.write_text('{\n  "mcpServers": {\n    "a": {"command": "x" "args": []}\n  }\n}\n')

    record = s.reloader.reload_config()

    assert record.ok is False
    assert s.names() == ["a", "b"]
    assert s.gateway.manager.backends == before  # the very same Backend objects
    assert s.gateway.manager.config.servers["a"].entry.command == echo_server()["command"]
    shown = s.last()
    assert shown["ok"] is False
    assert shown["file"] == str(s.config)
    assert shown["changes"] == {}
    assert len(shown["errors"]) == 1
    assert "line 3, column" in shown["errors"][0], shown["errors"]


def test_schema_error_keeps_the_running_config(tmp_path: Path) -> None:
    s = make(tmp_path, servers("a"))
    write_config(tmp_path, {"a": echo_server(), "b": {"args": ["no command"]}})

    record = s.reloader.reload_config()

    assert record.ok is False
    assert "mcpServers.b" in record.errors[0].text
    assert s.names() == ["a"]


def test_a_deleted_config_file_keeps_the_running_config(tmp_path: Path) -> None:
    s = make(tmp_path, servers("a"))
    s.config.unlink()

    record = s.reloader.reload_config()

    assert record.ok is False
    assert "not found" in record.errors[0].text
    assert s.names() == ["a"]


@pytest.mark.anyio
async def test_valid_config_applies_the_diff_and_keeps_unchanged_backends(
    tmp_path: Path, closing: list[Setup]
) -> None:
    s = make(tmp_path, servers("keep", "describe", "change", "drop"))
    closing.append(s)
    old = dict(s.gateway.manager.backends)
    write_config(
        tmp_path,
        {
            "keep": echo_server(),
            "describe": echo_server(description="new words"),
            "change": echo_server(env={"X": "1"}),
            "add": echo_server(),
        },
    )

    record = s.reloader.reload_config()

    assert record.ok is True
    assert record.changes == {
        "added": ["add"],
        "removed": ["drop"],
        "changed": ["change"],
        "described": ["describe"],
    }
    backends = s.gateway.manager.backends
    assert sorted(backends) == ["add", "change", "describe", "keep"]
    assert backends["keep"] is old["keep"]
    assert backends["describe"] is old["describe"]
    assert backends["describe"].spec.description == "new words"
    assert backends["change"] is not old["change"]
    assert s.last()["ok"] is True


def test_an_identical_config_records_an_ok_reload_with_no_changes(tmp_path: Path) -> None:
    s = make(tmp_path, servers("a"))
    before = dict(s.gateway.manager.backends)

    record = s.reloader.reload_config()

    assert record.ok is True
    assert record.changes == {"added": [], "removed": [], "changed": []}
    assert s.gateway.manager.backends == before


# ----- policies -------------------------------------------------------------------------


def test_invalid_policy_keeps_the_previous_policies_and_names_the_file(tmp_path: Path) -> None:
    s = make(tmp_path, servers("public", "secret"), {"default": ALLOW_ALL, "alice": ALLOW_PUBLIC})
    before = s.gateway.policies
    bad = s.policies_dir / "alice.toml"
    bad.write_text(ALLOW_PUBLIC + "colour = 'red'\n")

    record = s.reloader.reload_policies()

    assert record is not None
    assert record.ok is False
    assert s.gateway.policies is before
    assert s.gateway.policies.visible_servers("alice", s.names()) == ["public"]
    shown = s.last("alice")  # alice's own file: shown to alice
    assert shown["ok"] is False
    assert shown["file"] == str(s.policies_dir)
    assert str(bad) in shown["errors"][0]
    assert "unknown key 'colour'" in shown["errors"][0]


def test_invalid_toml_in_a_policy_names_line_and_column(tmp_path: Path) -> None:
    s = make(tmp_path, servers("a"), {"default": ALLOW_ALL})
    before = s.gateway.policies
    (s.policies_dir / "bob.toml").write_text('[allow]\nservers = ["a"\n')

    record = s.reloader.reload_policies()

    assert record is not None and record.ok is False
    assert s.gateway.policies is before
    assert LINE_COLUMN.search(record.errors[0].text), record.errors


def test_a_json_policy_with_a_duplicated_key_keeps_the_previous_policies(tmp_path: Path) -> None:
    s = make(tmp_path, servers("public", "secret"), {"default": ALLOW_ALL})
    (s.policies_dir / "bob.json").write_text(
        '{"allow": {"servers": ["*"]}, "deny": {"servers": ["secret"]}}'
    )
    assert s.reloader.reload_policies() is not None
    before = s.gateway.policies
    assert before.visible_servers("bob", s.names()) == ["public"]
    # The second "deny" would silently drop the first: bob would see "secret".
    (s.policies_dir / "bob.json").write_text(
        '{"allow": {"servers": ["*"]}, "deny": {"servers": ["secret"]}, "deny": {}}'
    )

    record = s.reloader.reload_policies()

    assert record is not None and record.ok is False
    assert s.gateway.policies is before
    assert s.gateway.policies.visible_servers("bob", s.names()) == ["public"]
    assert "'deny' appears twice" in record.errors[0].text
    assert str(s.policies_dir / "bob.json") in record.errors[0].text


def test_valid_policy_change_swaps_atomically_and_lists_changed_agents(tmp_path: Path) -> None:
    s = make(tmp_path, servers("public", "secret"), {"default": ALLOW_ALL, "alice": ALLOW_ALL})
    old_backends = dict(s.gateway.manager.backends)
    (s.policies_dir / "alice.toml").write_text(ALLOW_PUBLIC)
    (s.policies_dir / "carol.toml").write_text(ALLOW_ALL)

    record = s.reloader.reload_policies()

    assert record is not None and record.ok is True
    assert record.changes == {"agents": ["alice", "carol"]}
    assert s.gateway.policies.visible_servers("alice", s.names()) == ["public"]
    assert s.gateway.manager.backends == old_backends  # a policy edit never touches backends


def test_a_deleted_policies_folder_keeps_the_last_policies(tmp_path: Path) -> None:
    s = make(tmp_path, servers("public", "secret"), {"default": ALLOW_PUBLIC})
    before = s.gateway.policies
    for file in s.policies_dir.iterdir():
        file.unlink()
    s.policies_dir.rmdir()

    record = s.reloader.reload_policies()

    assert record is not None and record.ok is False
    assert "deleted" in record.errors[0].text
    assert s.gateway.policies is before
    status = s.status()
    assert status["open_mode"] is False
    assert [srv["name"] for srv in status["servers"]] == ["public"]
    assert s.last()["ok"] is False


def test_a_policies_folder_appearing_ends_open_mode(tmp_path: Path) -> None:
    s = make(tmp_path, servers("public", "secret"))
    assert s.status()["open_mode"] is True

    # Still no folder: nothing to do, nothing recorded, open mode goes on.
    assert s.reloader.reload_policies() is None
    assert len(s.gateway.reloads) == 0
    assert s.gateway.policies.open_mode is True

    write_policies(tmp_path, {"default": ALLOW_PUBLIC})
    record = s.reloader.reload_policies()

    assert record is not None and record.ok is True
    status = s.status()
    assert status["open_mode"] is False
    assert status["policies"] == str(s.policies_dir)
    assert [srv["name"] for srv in status["servers"]] == ["public"]
    assert s.status("nobody")["servers"] == []  # fail closed for an agent without a file


def test_a_bound_agent_without_a_folder_sees_nothing_until_its_policy_appears(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, servers("public", "secret"))
    pol = tmp_path / "policies"
    absent = PolicySet.from_dir(str(pol), explicit=False, agent_bound=True)
    gateway = Gateway(
        ProxyManager(GatewayConfig.from_file(config)),
        absent,
        config_path=str(config),
        launch_agent="alice",
    )
    reloader = Reloader(gateway, str(config), str(pol))
    assert gateway.gateway_status(None)["open_mode"] is False
    assert gateway.gateway_status(None)["servers"] == []

    assert reloader.reload_policies() is None  # still no folder: no error, still nothing
    assert gateway.policies is absent and list(gateway.reloads) == []

    write_policies(tmp_path, {"alice": ALLOW_PUBLIC})
    record = reloader.reload_policies()

    assert record is not None and record.ok is True
    assert gateway.policies.open_mode is False
    assert [s["name"] for s in gateway.gateway_status(None)["servers"]] == ["public"]


def test_open_mode_never_comes_back_once_it_ended(tmp_path: Path) -> None:
    s = make(tmp_path, servers("public", "secret"))
    write_policies(tmp_path, {"default": ALLOW_PUBLIC})
    s.reloader.reload_policies()
    assert s.gateway.policies.open_mode is False
    narrowed = s.gateway.policies

    (s.policies_dir / "default.toml").unlink()
    s.policies_dir.rmdir()
    record = s.reloader.reload_policies()

    assert record is not None and record.ok is False
    assert s.gateway.policies is narrowed
    assert s.status()["open_mode"] is False
    # And again: still closed, every attempt recorded.
    s.reloader.reload_policies()
    assert s.gateway.policies is narrowed
    assert [r["ok"] for r in s.status()["reloads"]] == [True, False, False]


def test_a_policy_folder_that_is_not_a_folder_in_open_mode_does_not_end_open_mode(
    tmp_path: Path,
) -> None:
    s = make(tmp_path, servers("a"))
    (tmp_path / "policies").write_text("not a folder")

    assert s.reloader.reload_policies() is None
    assert s.gateway.policies.open_mode is True


# ----- the reload log -------------------------------------------------------------------


def test_only_the_last_20_reloads_are_kept_newest_last(tmp_path: Path) -> None:
    s = make(tmp_path, servers("a"))
    total = RELOADS_KEPT + 7
    for i in range(total):
        if i == total - 1:
            s.config.write_text("{")  # the newest one fails, so it is recognisable
        s.reloader.reload_config()

    reloads = s.status()["reloads"]
    assert RELOADS_KEPT == 20
    assert len(reloads) == 20
    assert [r["ok"] for r in reloads] == [True] * 19 + [False]
    assert [r["time"] for r in reloads] == sorted(r["time"] for r in reloads)
    assert set(reloads[0]) == {"time", "file", "ok", "changes", "errors"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", reloads[0]["time"])


def test_a_hidden_servers_reload_error_is_not_shown_to_agents_that_may_not_see_it(
    tmp_path: Path,
) -> None:
    s = make(
        tmp_path,
        servers("public", "secret-db"),
        {"default": ALLOW_ALL, "alice": ALLOW_PUBLIC, "admin": ALLOW_ALL},
    )
    # secret-db loses its command: the file is rejected with an error naming it.
    write_config(tmp_path, {"public": echo_server(), "secret-db": {"args": []}})
    record = s.reloader.reload_config()
    assert record.ok is False
    assert "secret-db" in record.errors[0].text

    alice = s.last("alice")
    assert alice["ok"] is False
    assert alice["errors"] == []  # left out whole, not rewritten
    assert "secret-db" not in json.dumps(alice)
    admin = s.last("admin")
    assert "mcpServers.secret-db" in admin["errors"][0]


def test_a_general_config_error_reads_the_same_for_every_caller_whatever_the_server_names(
    tmp_path: Path,
) -> None:
    """A hidden server named ``a`` must not turn "invalid JSON" into "inv<hidden>lid JSON"."""
    s = make(tmp_path, servers("public", "a"), {"alice": ALLOW_PUBLIC, "admin": ALLOW_ALL})
    s.config.write_text('{\n  "mcpServers": {\n    "a": {"command": "x" "args": []}\n  }\n}\n')
    s.reloader.reload_config()

    alice, admin = s.last("alice"), s.last("admin")
    assert alice["errors"] == admin["errors"]
    assert len(alice["errors"]) == 1
    assert "invalid JSON at line 3, column" in alice["errors"][0], alice


@pytest.mark.anyio
async def test_a_hidden_servers_change_is_not_listed_for_agents_that_may_not_see_it(
    tmp_path: Path, closing: list[Setup]
) -> None:
    s = make(
        tmp_path,
        servers("public", "secret-db"),
        {"alice": ALLOW_PUBLIC, "admin": ALLOW_ALL},
    )
    closing.append(s)
    write_config(
        tmp_path,
        {"public": echo_server(env={"A": "1"}), "secret-db": echo_server(env={"A": "1"})},
    )
    s.reloader.reload_config()

    assert s.last("alice")["changes"]["changed"] == ["public"]
    assert s.last("admin")["changes"]["changed"] == ["public", "secret-db"]


def test_a_policy_files_error_is_shown_only_to_its_own_agent(tmp_path: Path) -> None:
    s = make(tmp_path, servers("public"), {"alice": ALLOW_PUBLIC, "bob": ALLOW_PUBLIC})
    (s.policies_dir / "bob.toml").write_text("[allow\n")
    record = s.reloader.reload_policies()
    assert record is not None and record.ok is False

    alice = s.last("alice")
    assert alice["ok"] is False
    assert alice["errors"] == []
    assert "bob" not in json.dumps(alice), alice
    bob = s.last("bob")
    assert len(bob["errors"]) == 1 and "bob.toml" in bob["errors"][0], bob
    assert "bob" not in json.dumps(s.last(None))  # the anonymous caller (default.toml)


def test_policy_changes_list_only_the_callers_own_agent_name(tmp_path: Path) -> None:
    s = make(tmp_path, servers("public"), {"alice": ALLOW_PUBLIC, "bob": ALLOW_PUBLIC})
    (s.policies_dir / "bob.toml").write_text(ALLOW_ALL)
    (s.policies_dir / "carol.toml").write_text(ALLOW_ALL)
    s.reloader.reload_policies()

    assert s.last("alice")["changes"] == {"agents": []}
    assert s.last("bob")["changes"] == {"agents": ["bob"]}
    assert s.last("carol")["changes"] == {"agents": ["carol"]}


def test_a_token_clash_between_two_agents_is_shown_to_neither(tmp_path: Path) -> None:
    digest = "a" * 64
    token = f'tokens_sha256 = ["{digest}"]\n'
    s = make(tmp_path, servers("public"), {"alice": ALLOW_PUBLIC, "bob": ALLOW_PUBLIC})
    (s.policies_dir / "alice.toml").write_text(token + ALLOW_PUBLIC)
    (s.policies_dir / "bob.toml").write_text(token + ALLOW_PUBLIC)
    record = s.reloader.reload_policies()
    assert record is not None and record.ok is False

    assert "bob" not in json.dumps(s.last("alice"))
    assert "alice" not in json.dumps(s.last("bob"))


def test_a_new_servers_name_in_a_reload_error_is_hidden_from_agents_that_may_not_see_it(
    tmp_path: Path,
) -> None:
    s = make(tmp_path, servers("public"), {"alice": ALLOW_PUBLIC, "admin": ALLOW_ALL})
    write_config(tmp_path, {"public": echo_server(), "secret-db": {"args": []}})
    record = s.reloader.reload_config()
    assert record.ok is False

    alice = s.last("alice")
    assert "secret-db" not in json.dumps(alice), alice


@pytest.mark.anyio
@pytest.mark.parametrize("agent", [None, "admin"], ids=["open-mode", "allowed-agent"])
async def test_a_removed_servers_name_stays_readable_for_callers_allowed_to_see_it(
    tmp_path: Path, closing: list[Setup], agent: str | None
) -> None:
    policies = None if agent is None else {"admin": ALLOW_ALL, "alice": ALLOW_PUBLIC}
    s = make(tmp_path, servers("public", "old"), policies)
    closing.append(s)
    write_config(tmp_path, servers("public"))
    s.reloader.reload_config()

    assert s.last(agent)["changes"]["removed"] == ["old"]


# ----- reload() and the watch loop -----------------------------------------------------


@pytest.mark.anyio
async def test_reload_applies_policies_before_the_config_and_notifies(
    tmp_path: Path, closing: list[Setup]
) -> None:
    s = make(tmp_path, servers("public"), {"alice": ALLOW_PUBLIC})
    closing.append(s)
    seen: list[list[str]] = []
    s.gateway.on_changed(
        lambda: seen.append(s.gateway.policies.visible_servers("alice", s.names()))
    )
    write_config(tmp_path, {"public": echo_server(), "secret": echo_server()})
    (s.policies_dir / "alice.toml").write_text(ALLOW_ALL)

    await s.reloader.reload()

    assert [r.file for r in s.gateway.reloads] == [str(s.policies_dir), str(s.config)]
    # Every notification (per server and at the end) already sees the new rules.
    assert seen
    assert all(v == ["public", "secret"] for v in seen), seen


@pytest.mark.parametrize(
    ("name", "config", "policy"),
    [
        (".mcp.json", True, False),
        (".mcp.json~", False, False),
        (".mcp.tmp", False, False),
        (".mcp.json.swp", False, False),
        ("other.json", False, False),
        ("policies", False, True),
        ("policies/alice.toml", False, True),
        ("policies/alice.json", False, True),
        ("policies/.alice.toml.swp", False, False),
        ("policies/.alice.toml", False, False),
        ("policies/alice.toml~", False, False),
        ("policies/notes.txt", False, False),
        ("policies/sub/alice.toml", False, False),
    ],
)
def test_classify_filters_by_name(tmp_path: Path, name: str, config: bool, policy: bool) -> None:
    s = make(tmp_path, {})
    assert s.reloader._classify(str(tmp_path / name)) == (config, policy, False)


@pytest.mark.parametrize(
    ("name", "pins"),
    [
        (".agent-gateway", True),
        (".agent-gateway/pins.json", True),
        (".agent-gateway/.pins.json.x.tmp", False),
        (".agent-gateway/pending.json", False),
        ("pins.json", False),
    ],
)
def test_classify_knows_the_pins_file_and_its_folder(tmp_path: Path, name: str, pins: bool) -> None:
    s = make(tmp_path, {})
    assert s.reloader._classify(str(tmp_path / name)) == (False, False, pins)


async def _run_watch(s: Setup) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(s.reloader.run(stop))
    # A save made before the watch is armed is never seen: save the same file until one is.
    same = dict(s.gateway.manager.config.servers)

    def armed() -> bool:
        write_config(
            s.folder, {n: spec.entry.model_dump(by_alias=True) for n, spec in same.items()}
        )
        return len(s.gateway.reloads) > 0

    await await_until(armed, timeout=10, what="the watcher to see the config file")
    return stop, task


@pytest.mark.anyio
async def test_the_watch_loop_follows_saves_and_a_new_policies_folder(
    tmp_path: Path, closing: list[Setup]
) -> None:
    s = make(tmp_path, servers("a"))
    closing.append(s)
    stop, task = await _run_watch(s)
    try:
        write_config(tmp_path, servers("a", "b"))  # atomic save: shows up as "added"
        await await_until(lambda: s.names() == ["a", "b"], what="b to be added")

        write_policies(tmp_path, {"default": '[allow]\nservers = ["a"]\n'})
        await await_until(lambda: not s.gateway.policies.open_mode, what="open mode to end")
        await await_until(
            lambda: "default" in s.gateway.policies.agents, what="default.toml to be read"
        )
        # The restarted watch covers the new folder: an edit inside it is seen.
        (s.policies_dir / "default.toml").write_text('[allow]\nservers = ["b"]\n')
        await await_until(
            lambda: s.gateway.policies.visible_servers(None, s.names()) == ["b"],
            what="the edit inside the new policies folder",
        )
        # And the config is still watched after the restart.
        write_config(tmp_path, servers("b"))
        await await_until(lambda: s.names() == ["b"], what="a to be removed")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert task.done() and task.exception() is None


@pytest.mark.anyio
@pytest.mark.parametrize("when", ["noticed", "rearming"])
async def test_a_config_save_made_while_the_watch_is_rearmed_is_applied_without_another_save(
    tmp_path: Path, closing: list[Setup], when: str
) -> None:
    s = make(tmp_path, servers("a"))
    closing.append(s)
    pins = s.gateway.manager.pins
    assert pins is not None
    stop, task = await _run_watch(s)
    # The save lands once the watcher has noticed .agent-gateway/ (its folder list changed:
    # "noticed"), or as it lists the folders to re-arm over ("rearming"): either way before
    # the new watch is armed, after the old one stopped looking.
    watch_paths = s.reloader._watch_paths
    calls: list[bool] = []
    saved: list[bool] = []

    def save_during_the_gap() -> list[str]:
        if pins.path.parent.is_dir():
            calls.append(True)
            if len(calls) == {"noticed": 1, "rearming": 2}[when]:
                saved.append(True)
                write_config(tmp_path, servers("a", "b"))
        return watch_paths()

    s.reloader._watch_paths = save_during_the_gap  # type: ignore[method-assign]
    try:
        reloads = len(s.gateway.reloads)
        pins.path.parent.mkdir()
        await await_until(lambda: s.names() == ["a", "b"], what="the save made in the gap")
        assert saved == [True]
        # Recorded: the config change (and the arming saves' no-change reloads), no more.
        records = s.status()["reloads"][reloads:]
        assert {r["file"] for r in records} == {str(s.config)}, records
        assert [r["changes"]["added"] for r in records if r["changes"]["added"]] == [["b"]]
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert task.done() and task.exception() is None


@pytest.mark.anyio
async def test_a_catch_up_over_unchanged_files_records_nothing_and_one_over_a_save_applies_it(
    tmp_path: Path, closing: list[Setup]
) -> None:
    s = make(tmp_path, servers("a"), {"default": ALLOW_ALL})
    closing.append(s)

    await s.reloader.catch_up()
    await s.reloader.catch_up()
    assert s.status()["reloads"] == []

    write_config(tmp_path, servers("a", "b"))
    (s.policies_dir / "default.toml").write_text(ALLOW_PUBLIC)
    await s.reloader.catch_up()
    assert s.names() == ["a", "b"]
    assert s.gateway.policies.visible_servers(None, ["a", "public1"]) == ["public1"]
    files = [r["file"] for r in s.status()["reloads"]]
    assert files == [str(s.policies_dir), str(s.config)]

    await s.reloader.catch_up()  # read as they are now: skipped
    assert len(s.status()["reloads"]) == 2


def test_a_pins_edit_is_read_again_and_a_broken_one_keeps_the_running_pins(
    tmp_path: Path,
) -> None:
    s = make(tmp_path, servers("public", "secret"), {"default": ALLOW_PUBLIC, "all": ALLOW_ALL})
    pins = s.gateway.manager.pins
    assert pins is not None
    pinned = PinsFile(servers={"public": ServerPins(tools={"t": PinnedTool.of({"name": "t"})})})
    pins.path.parent.mkdir()
    pins.path.write_text(dump(pinned))
    s.reloader.reload_pins()
    assert s.last()["changes"] == {"pinned": ["public"]} and s.last()["ok"]
    assert pins.file == pinned

    pins.path.write_text('{"servers": {"secret": {"tool": 1}}}')
    s.reloader.reload_pins()
    assert pins.file == pinned
    assert "servers.secret.tool" in s.last("all")["errors"][0]
    assert s.last()["errors"] == []  # default cannot see 'secret': its name is not shown
