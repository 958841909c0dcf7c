"""Hot reload end to end: a real ``agent-gateway serve`` subprocess, files edited in tmp_path.

Every wait polls with a deadline (``await_until``); nothing sleeps a fixed time.
Downstream servers are ``tests/servers/echo_server.py``; its ``pid`` tool tells
which process answered, ``env`` which config it was started from, and
``progress`` proves a call is running downstream (a progress notification
arrives) before the file is edited.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import Gateway, alive, await_until, echo_server, start_gateway, wait_until

pytestmark = pytest.mark.anyio

LINE_COLUMN = re.compile(r"line \d+, column \d+")
ALLOW_ALL = 'description = "all"\n[allow]\nservers = ["*"]\n'


# ----- helpers --------------------------------------------------------------------------


def document(servers: Mapping[str, Any]) -> str:
    return json.dumps({"mcpServers": dict(servers)}, indent=2)


def save_atomic(path: Path, servers: Mapping[str, Any]) -> None:
    """Write a temp file in the same folder, then rename it over the config."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(document(servers))
    os.replace(tmp, path)


def save_in_place(path: Path, servers: Mapping[str, Any]) -> None:
    """Truncate and write the file itself (VS Code's default, ``echo > file``)."""
    with open(path, "w") as f:
        f.write(document(servers))


def save_jetbrains(path: Path, servers: Mapping[str, Any]) -> None:
    """JetBrains' safe write: write NAME___jb_tmp___, move NAME aside, rename, delete."""
    tmp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    tmp.write_text(document(servers))
    os.replace(path, old)
    os.replace(tmp, path)
    old.unlink()


def save_vim(path: Path, servers: Mapping[str, Any]) -> None:
    """vim with backupcopy=no: rename the original to NAME~, write a new file, delete NAME~."""
    backup = path.with_name(path.name + "~")
    os.replace(path, backup)
    with open(path, "w") as f:
        f.write(document(servers))
    backup.unlink()


def save_delete_recreate(path: Path, servers: Mapping[str, Any]) -> None:
    path.unlink()
    path.write_text(document(servers))


async def names(gw: Gateway, **kwargs: Any) -> list[str]:
    return sorted(s["name"] for s in (await gw.data("list_servers", **kwargs))["servers"])


def names_are(gw: Gateway, expected: list[str], **kwargs: Any) -> Callable[[], Any]:
    async def check() -> bool:
        return await names(gw, **kwargs) == sorted(expected)

    return check


async def pid_of(gw: Gateway, server: str) -> int:
    result = await gw.downstream(server, "pid")
    assert not result.is_error, result.content
    return int(result.content[0].text)


async def pids_of(gw: Gateway, servers: list[str]) -> dict[str, int]:
    """Call ``pid`` on every server concurrently (starts them in parallel)."""
    found: dict[str, int] = {}

    async def one(name: str) -> None:
        found[name] = await pid_of(gw, name)

    async with anyio.create_task_group() as tg:
        for name in servers:
            tg.start_soon(one, name)
    return found


async def reloads(gw: Gateway) -> list[dict[str, Any]]:
    return list((await gw.data("gateway_status"))["reloads"])


def a_reload(gw: Gateway, match: Callable[[dict[str, Any]], bool]) -> Callable[[], Any]:
    async def check() -> bool:
        return any(match(r) for r in await reloads(gw))

    return check


# ----- added, removed, changed, described -----------------------------------------------


async def test_added_removed_changed_and_described_servers(tmp_path: Path) -> None:
    # "steady" is unchanged while the others change, then gets a description-only edit.
    base = {
        "change": echo_server(),
        "drop": echo_server(),
        "steady": echo_server(description="old words"),
    }
    async with start_gateway(tmp_path, base) as gw:
        before = await pids_of(gw, list(base))
        seen = set(before.values())

        # add (atomic save): visible, still lazy (no process)
        servers = {**base, "added": echo_server(description="new one")}
        save_atomic(gw.config, servers)
        await await_until(names_are(gw, [*base, "added"]), what="'added' to be listed")
        listed = {s["name"]: s for s in (await gw.data("list_servers"))["servers"]}
        assert listed["added"]["state"] == "idle"
        assert listed["added"]["description"] == "new one"

        # remove: gone, and its process ends
        del servers["drop"]
        save_atomic(gw.config, servers)
        await await_until(names_are(gw, list(servers)), what="'drop' to be gone")
        wait_until(lambda: not alive(before["drop"]), what="the removed server's process to end")
        result = await gw.downstream("drop", "pid")
        assert result.is_error
        assert "Unknown server 'drop'" in result.content[0].text

        # change (a new env var): new process on the next call; the others keep theirs
        servers["change"] = echo_server(env={"FLAVOUR": "new"})
        save_atomic(gw.config, servers)
        await await_until(
            a_reload(gw, lambda r: r["changes"].get("changed") == ["change"]),
            what="the change to be applied",
        )
        wait_until(lambda: not alive(before["change"]), what="the replaced process to end")
        env = await gw.downstream("change", "env", name="FLAVOUR")
        assert env.content[0].text == "new"
        now = await pids_of(gw, ["change", "steady"])
        assert now["change"] != before["change"]
        assert now["steady"] == before["steady"]
        seen |= set(now.values())

        # description only: new text, same process
        servers["steady"] = echo_server(description="new words")
        save_atomic(gw.config, servers)

        async def described() -> bool:
            listed = (await gw.data("list_servers"))["servers"]
            return any(s["name"] == "steady" and s["description"] == "new words" for s in listed)

        await await_until(described, what="the new description")
        assert await pid_of(gw, "steady") == before["steady"]
        assert alive(before["steady"])
        last = (await reloads(gw))[-1]
        assert last["ok"] is True
        assert last["changes"] == {
            "added": [],
            "removed": [],
            "changed": [],
            "described": ["steady"],
        }
        assert (await gw.pids()) == {"change": now["change"], "steady": before["steady"]}
        gateway_pid = gw.pid
    wait_until(lambda: not alive(gateway_pid), what="the gateway to exit")
    wait_until(lambda: not any(alive(p) for p in seen), what="every downstream to exit")


# ----- calls in flight -----------------------------------------------------------------


async def test_a_call_in_flight_survives_a_change_and_a_removal_of_its_server(
    tmp_path: Path,
) -> None:
    steps = 400  # echo_server's progress tool: >= 10 ms per step, so >= 4 s in all
    servers = {"changing": echo_server(), "leaving": echo_server()}
    async with start_gateway(tmp_path, servers) as gw:
        before = await pids_of(gw, list(servers))
        progress: dict[str, list[float]] = {"changing": [], "leaving": []}
        results: dict[str, Any] = {}

        async def slow_call(server: str) -> None:
            async def on_progress(p: float, total: float | None, message: str | None) -> None:
                progress[server].append(p)

            results[server] = await gw.client.call_tool_mcp(
                "call_tool",
                {"server": server, "tool": "progress", "arguments": {"steps": steps}},
                progress_handler=on_progress,
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow_call, "changing")
            tg.start_soon(slow_call, "leaving")
            # Both calls are running downstream once a progress notification arrived.
            await await_until(lambda: all(progress.values()), what="both calls to report progress")
            save_atomic(gw.config, {"changing": echo_server(env={"V": "2"})})
            await await_until(names_are(gw, ["changing"]), what="'leaving' to be removed")
            await await_until(
                a_reload(gw, lambda r: r["changes"].get("changed") == ["changing"]),
                what="'changing' to be replaced",
            )
            assert results == {}, "the calls ended before the reload: nothing was tested"
            # The old processes drain: still alive while their call runs.
            assert alive(before["changing"]) and alive(before["leaving"])
            # A call made now goes to the new process while the old one still serves.
            env = await gw.downstream("changing", "env", name="V")
            assert env.content[0].text == "2"

        for server in ("changing", "leaving"):
            result = results[server]
            assert not result.is_error, (server, result.content)
            assert result.content[0].text == "done"
            assert len(progress[server]) == steps  # relayed in full across the reload
        wait_until(lambda: not alive(before["changing"]), what="the replaced process to end")
        wait_until(lambda: not alive(before["leaving"]), what="the removed process to end")


# ----- invalid files keep the old state -------------------------------------------------


async def test_invalid_config_and_invalid_policy_keep_the_running_state(tmp_path: Path) -> None:
    async with start_gateway(
        tmp_path, {"a": echo_server(), "b": echo_server()}, policies={"default": ALLOW_ALL}
    ) as gw:
        pid = await pid_of(gw, "a")

        gw.config.write_text('{"mcpServers": {\n  "a": {"command": "x"},,\n}}\n')
        await await_until(
            a_reload(gw, lambda r: r["ok"] is False and r["file"] == str(gw.config)),
            what="the failed config reload",
        )
        failed = [r for r in await reloads(gw) if not r["ok"]][-1]
        assert failed["changes"] == {}
        assert LINE_COLUMN.search(failed["errors"][0]), failed
        assert "line 2, column" in failed["errors"][0]
        assert await pid_of(gw, "a") == pid
        assert await names(gw) == ["a", "b"]

        # A policy with an unknown key would hide b; it is rejected, b stays visible.
        policy_file = tmp_path / "policies" / "default.toml"
        policy_file.write_text('[allow]\nservers = ["a"]\nservres = ["b"]\n')
        await await_until(
            a_reload(gw, lambda r: r["ok"] is False and r["file"] == str(policy_file.parent)),
            what="the failed policy reload",
        )
        failed = [r for r in await reloads(gw) if not r["ok"]][-1]
        assert str(policy_file) in failed["errors"][0]
        assert "unknown key 'servres'" in failed["errors"][0]
        assert await names(gw) == ["a", "b"]
        assert await pid_of(gw, "a") == pid

        # Fixing both files applies them: the reload machinery is not stuck.
        policy_file.write_text('[allow]\nservers = ["a", "c"]\n')
        save_atomic(gw.config, {"a": echo_server(), "c": echo_server()})
        await await_until(names_are(gw, ["a", "c"]), what="the fixed files to apply")
        assert await pid_of(gw, "a") == pid
        status = await gw.data("gateway_status")
        assert status["open_mode"] is False
        assert status["reloads"][-1]["ok"] is True


# ----- how editors save ----------------------------------------------------------------


SAVE_STYLES: dict[str, Callable[[Path, Mapping[str, Any]], None]] = {
    "write in place": save_in_place,
    "temp and rename": save_atomic,
    "jetbrains": save_jetbrains,
    "vim": save_vim,
    "delete and recreate": save_delete_recreate,
}


async def test_every_save_style_is_picked_up(tmp_path: Path) -> None:
    async with start_gateway(tmp_path, {"s0": echo_server()}) as gw:
        servers: dict[str, Any] = {"s0": echo_server()}
        for i, (style, save) in enumerate(SAVE_STYLES.items(), start=1):
            servers[f"s{i}"] = echo_server(description=style)
            save(gw.config, servers)
            await await_until(names_are(gw, list(servers)), timeout=10, what=f"the {style!r} save")
            # Also a second save of the same style (the file now exists in its new form).
            servers[f"s{i}"] = echo_server(description=f"{style} again")

            async def described(name: str = f"s{i}", text: str = f"{style} again") -> bool:
                listed = (await gw.data("list_servers"))["servers"]
                return any(s["name"] == name and s["description"] == text for s in listed)

            save(gw.config, servers)
            await await_until(described, what=f"the second {style!r} save")
        await await_until(
            lambda: _last_ok(gw), what="the last reload to have read the complete file"
        )
        leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != ".mcp.json")
        assert leftovers == [], leftovers


async def _last_ok(gw: Gateway) -> bool:
    return bool((await reloads(gw))[-1]["ok"])


async def test_a_burst_of_edits_converges_on_the_last_one(tmp_path: Path) -> None:
    start = {"gone": echo_server(), "edited": echo_server(), "steady": echo_server()}
    async with start_gateway(tmp_path, start) as gw:
        before = await pids_of(gw, list(start))
        final: dict[str, Any] = {}
        for i in range(40):
            final = {
                "edited": echo_server(env={"EDIT": str(i)}, description=f"edit {i}"),
                "steady": echo_server(),
                f"extra{i}": echo_server(description=f"edit {i}"),
            }
            save_atomic(gw.config, final)
        await await_until(names_are(gw, list(final)), what="the final server set")
        wait_until(lambda: not alive(before["gone"]), what="the removed server to exit")
        wait_until(lambda: not alive(before["edited"]), what="the edited server to exit")
        listed = {s["name"]: s for s in (await gw.data("list_servers"))["servers"]}
        assert listed["edited"]["description"] == "edit 39"  # the last edit's entry, not one before
        assert listed["extra39"]["description"] == "edit 39"
        assert await pid_of(gw, "steady") == before["steady"]  # identical in every edit
        # Only the final servers' processes run: steady's, and none for the edited or new ones.
        assert await gw.pids() == {"steady": before["steady"]}
        assert (await reloads(gw))[-1]["ok"] is True
        gateway_pid = gw.pid
    wait_until(lambda: not alive(gateway_pid), what="the gateway to exit")
    wait_until(lambda: not alive(before["steady"]), what="the last server to exit")


# ----- policies folder, SIGHUP ---------------------------------------------------------


async def test_a_policies_folder_created_after_start_ends_open_mode(tmp_path: Path) -> None:
    async with start_gateway(tmp_path, {"public": echo_server(), "secret": echo_server()}) as gw:
        status = await gw.data("gateway_status")
        assert status["open_mode"] is True
        assert await names(gw) == ["public", "secret"]

        folder = tmp_path / "policies"  # ./policies: the gateway's cwd is tmp_path
        folder.mkdir()
        (folder / "default.toml").write_text('[allow]\nservers = ["public"]\n')
        await await_until(names_are(gw, ["public"]), what="visibility to narrow")
        status = await gw.data("gateway_status")
        assert status["open_mode"] is False
        assert status["policies"] == str(folder)
        assert [s["name"] for s in status["servers"]] == ["public"]
        denied = await gw.downstream("secret", "echo", text="hi")
        assert denied.is_error
        assert "Unknown server 'secret'" in denied.content[0].text

        # The folder is watched now: an edit inside it applies.
        (folder / "default.toml").write_text('[allow]\nservers = ["secret"]\n')
        await await_until(names_are(gw, ["secret"]), what="the edit in the new folder")

        # Deleting it does not bring open mode back; the error is recorded.
        (folder / "default.toml").unlink()
        folder.rmdir()
        await await_until(
            a_reload(gw, lambda r: r["ok"] is False and "deleted" in " ".join(r["errors"])),
            what="the deleted folder to be recorded",
        )
        status = await gw.data("gateway_status")
        assert status["open_mode"] is False
        assert await names(gw) == ["secret"]


async def test_sighup_reloads(tmp_path: Path) -> None:
    # The config is a symlink into a folder the watcher does not watch: only SIGHUP sees
    # an edit of its target (a dotfiles-repo setup).
    real = tmp_path / "dotfiles"
    real.mkdir()
    target = real / "mcp.json"
    target.write_text(document({"a": echo_server()}))
    link = tmp_path / "linked.json"
    link.symlink_to(target)
    async with start_gateway(tmp_path, {}, args=["--config", str(link)]) as gw:
        assert await names(gw) == ["a"]
        assert await reloads(gw) == []

        os.kill(gw.pid, signal.SIGHUP)
        await await_until(lambda: _reload_count(gw, 1), what="a reload record after SIGHUP")
        record = (await reloads(gw))[0]
        assert record["ok"] is True
        assert record["file"] == str(link)
        assert record["changes"] == {"added": [], "removed": [], "changed": []}

        target.write_text(document({"a": echo_server(), "b": echo_server()}))
        os.kill(gw.pid, signal.SIGHUP)
        await await_until(names_are(gw, ["a", "b"]), what="SIGHUP to apply the edit")
        assert (await reloads(gw))[-1]["changes"]["added"] == ["b"]


async def _reload_count(gw: Gateway, n: int) -> bool:
    return len(await reloads(gw)) >= n
