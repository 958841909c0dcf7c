"""OAuth servers end to end: ``login``, a call with the stored token, refresh, revocation.

Real processes throughout: tests/servers/oauth_server.py (an MCP server with its
own authorization server: discovery, dynamic registration, PKCE, refresh
tokens), ``agent-gateway login`` as a subprocess driven through the URL it
prints, and a stdio gateway subprocess called by a fastmcp Client.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import await_until, start_gateway
from oauthkit import (
    assert_no_token_text,
    auth_server,
    free_port,
    login,
    login_here,
    set_stored_expiry,
    state_env,
    stored_tokens,
    token_file,
    write_oauth_config,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def test_login_registers_a_client_and_stores_the_tokens_in_a_private_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with auth_server(tmp_path / "as.log") as server:
        config = write_oauth_config(tmp_path, {"s": {"url": server.url, "auth": "oauth"}})
        done = login(config, "s", state)
        assert done.returncode == 0, done.stderr
        assert "Logged in to 's' (1 tool)" in done.stdout
        stats = server.stats()
    assert stats["registrations"] == 1 and stats["logins"] == 1
    path = token_file(state, "s")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not [p.name for p in path.parent.iterdir() if p != path]  # no temporary file left
    assert_no_token_text(state, "s", done.stdout, done.stderr, config.read_text())


def test_login_with_a_pre_registered_client_sends_its_id_and_secret(tmp_path: Path) -> None:
    state, port = tmp_path / "state", free_port()
    client = {
        "OAUTH_CLIENT_ID": "pre-registered",
        "OAUTH_CLIENT_SECRET": "s3cret-value-for-the-test-client",
        "OAUTH_REDIRECT": f"http://localhost:{port}/callback",
    }
    entry = {
        "auth": "oauth",
        "clientId": "pre-registered",
        "clientSecret": "${TEST_CLIENT_SECRET}",
        "callbackPort": port,
    }
    env = {"TEST_CLIENT_SECRET": client["OAUTH_CLIENT_SECRET"]}
    with auth_server(tmp_path / "as.log", **client) as server:
        config = write_oauth_config(tmp_path, {"s": {"url": server.url, **entry}})
        done = login(config, "s", state, env=env)
        assert done.returncode == 0, done.stderr
        assert server.stats()["registrations"] == 0
    assert f"localhost%3A{port}%2Fcallback" in done.stderr
    assert client["OAUTH_CLIENT_SECRET"] not in done.stdout + done.stderr
    assert_no_token_text(state, "s", done.stdout, done.stderr)


async def test_login_alone_lists_which_servers_need_a_login_and_logout_forgets_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent_gateway.cli.main import main

    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))

    def cli(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--config", str(config)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    with auth_server(tmp_path / "as.log") as server:
        servers = {"a": {"url": server.url, "auth": "oauth"}, "b": {"url": server.url}}
        config = write_oauth_config(tmp_path, servers)
        code, out, _ = cli("login")
        assert code == 0 and "a " in out and "needs login" in out
        assert "b " not in out and "agent-gateway login a" in out
        await login_here(config, "a", state)
        assert "logged in (access token valid" in cli("login")[1]
        code, out, _ = cli("logout", "a")
        assert code == 0 and "Logged out of 'a'" in out
    assert not token_file(state, "a").exists()
    assert "needs login" in cli("login")[1]
    assert cli("logout", "a")[1].startswith("No login was stored")
    assert cli("logout", "nope")[0] == 1
    code, _, err = cli("login", "b")
    assert code == 1 and "does not use OAuth" in err


async def test_a_gateway_calls_the_server_with_the_stored_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    with auth_server(tmp_path / "as.log") as server:
        servers = {"s": {"url": server.url, "auth": "oauth"}}
        config = write_oauth_config(tmp_path, servers)
        monkeypatch.setenv("XDG_STATE_HOME", str(state))
        await login_here(config, "s", state)
        async with start_gateway(tmp_path, servers, env=state_env(state)) as gw:
            result = await gw.downstream("s", "whoami")
            assert not result.is_error, text_of(result)
            assert text_of(result).startswith("client ")
            status = await gw.data("gateway_status")
            listed = await gw.data("list_servers")
            stderr = gw.stderr()
        assert server.stats()["registrations"] == 1  # the gateway registered nothing
    assert_no_token_text(state, "s", stderr, str(status), str(listed))


async def test_the_gateway_refreshes_an_expiring_token_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    with auth_server(tmp_path / "as.log", OAUTH_TOKEN_LIFETIME="2") as server:
        servers = {"s": {"url": server.url, "auth": "oauth"}}
        config = write_oauth_config(tmp_path, servers)
        monkeypatch.setenv("XDG_STATE_HOME", str(state))
        await login_here(config, "s", state)
        first = stored_tokens(state, "s")["access_token"]
        async with start_gateway(tmp_path, servers, env=state_env(state)) as gw:
            first_call = await gw.downstream("s", "whoami")
            assert not first_call.is_error, text_of(first_call)
            deadline = time.time() + 2.5
            await await_until(lambda: time.time() > deadline, 5, "the access token to expire")
            result = await gw.downstream("s", "whoami")
            assert not result.is_error, text_of(result)
            stderr = gw.stderr()
        assert server.stats()["refreshes"] >= 1
    assert stored_tokens(state, "s")["access_token"] != first  # the refreshed token was kept
    assert first not in stderr
    assert_no_token_text(state, "s", stderr)


async def test_a_gateway_started_close_to_the_tokens_expiry_refreshes_before_its_first_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new session's first request must not send a token inside the refresh margin: the
    server may already count it expired (clock skew, whole seconds), and this one then
    revokes the refresh token too."""
    state = tmp_path / "state"
    with auth_server(tmp_path / "as.log") as server:
        servers = {"s": {"url": server.url, "auth": "oauth"}}
        config = write_oauth_config(tmp_path, servers)
        monkeypatch.setenv("XDG_STATE_HOME", str(state))
        await login_here(config, "s", state)
        first = stored_tokens(state, "s")["access_token"]
        set_stored_expiry(state, "s", time.time() + 20)  # inside the 30 s margin
        server.expire_access_tokens()  # the server's clock is ahead by more than 20 s
        async with start_gateway(tmp_path, servers, env=state_env(state)) as gw:
            result = await gw.downstream("s", "whoami")
            assert not result.is_error, text_of(result)
            stderr = gw.stderr()
        assert server.stats()["refreshes"] == 1
    assert stored_tokens(state, "s")["access_token"] != first
    assert_no_token_text(state, "s", stderr)


def test_the_refresh_margin_is_30s_a_quarter_of_a_short_lifetime_and_at_least_a_second() -> None:
    from agent_gateway.downstream.oauth import refresh_margin

    assert refresh_margin(3600) == 30
    assert refresh_margin(60) == 15
    assert refresh_margin(2) == 1  # the server may keep 2 s as 1.x s (whole seconds)
    assert refresh_margin(1) == 0.5  # never more than half the lifetime


async def test_a_revoked_access_token_is_refreshed_not_answered_with_needs_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    with auth_server(tmp_path / "as.log") as server:
        servers = {"s": {"url": server.url, "auth": "oauth"}}
        config = write_oauth_config(tmp_path, servers)
        monkeypatch.setenv("XDG_STATE_HOME", str(state))
        await login_here(config, "s", state)
        async with start_gateway(tmp_path, servers, env=state_env(state)) as gw:
            assert not (await gw.downstream("s", "whoami")).is_error
            server.revoke_access_tokens()  # the token still looks valid to the gateway: 401
            result = await gw.downstream("s", "whoami")
            assert not result.is_error, text_of(result)
            stderr = gw.stderr()
        assert server.stats()["refreshes"] == 1
    assert_no_token_text(state, "s", stderr)


async def test_a_refused_refresh_means_needs_login_until_a_new_login_without_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    with auth_server(tmp_path / "as.log", OAUTH_TOKEN_LIFETIME="2") as server:
        servers = {"s": {"url": server.url, "auth": "oauth"}}
        config = write_oauth_config(tmp_path, servers)
        monkeypatch.setenv("XDG_STATE_HOME", str(state))
        await login_here(config, "s", state)
        async with start_gateway(tmp_path, servers, env=state_env(state)) as gw:
            assert not (await gw.downstream("s", "whoami")).is_error
            old = stored_tokens(state, "s")
            server.revoke_refresh_tokens()
            deadline = time.time() + 2.5
            await await_until(lambda: time.time() > deadline, 5, "the access token to expire")
            refused = await gw.downstream("s", "whoami")
            assert refused.is_error and "agent-gateway login s" in text_of(refused)
            again = await gw.downstream("s", "whoami")  # fails fast, still names the command
            assert again.is_error and "agent-gateway login s" in text_of(again)
            (row,) = (await gw.data("list_servers"))["servers"]
            assert row["state"] == "error" and row["error"].startswith("needs login")
            (status,) = (await gw.data("gateway_status"))["servers"]
            assert status["last_error"].startswith("needs login")
            await login_here(config, "s", state)  # the same code as `agent-gateway login s`
            result = await gw.downstream("s", "whoami")
            assert not result.is_error, text_of(result)
            stderr = gw.stderr()
        assert server.stats()["refresh_failures"] >= 1
    assert "Traceback" not in stderr  # a wanted login is one warning line, not a crash
    assert old["access_token"] not in stderr and old["refresh_token"] not in stderr
    assert_no_token_text(state, "s", stderr)


async def test_a_server_never_logged_in_needs_login_and_the_gateway_registers_nothing(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with auth_server(tmp_path / "as.log") as server:
        servers = {"s": {"url": server.url, "auth": "oauth"}}
        async with start_gateway(tmp_path, servers, env=state_env(state)) as gw:
            result = await gw.downstream("s", "whoami")
            assert result.is_error
            assert "needs login: it has no login yet" in text_of(result)
            assert "agent-gateway login s" in text_of(result)
        assert server.stats() == {
            "registrations": 0,
            "logins": 0,
            "refreshes": 0,
            "refresh_failures": 0,
        }
    assert not token_file(state, "s").exists()


async def test_in_direct_mode_a_new_login_brings_the_servers_tools_without_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    with auth_server(tmp_path / "as.log") as server:
        servers = {"s": {"url": server.url, "auth": "oauth"}}
        args = ["--expose", "direct", "--list-wait", "0"]
        async with start_gateway(tmp_path, servers, args=args, env=state_env(state)) as gw:
            assert [t.name for t in await gw.client.list_tools()] == []
            await login_here(gw.config, "s", state)

            async def listed() -> bool:
                return [t.name for t in await gw.client.list_tools()] == ["s__whoami"]

            await await_until(listed, 15, "the logged-in server's tools")
            result = await gw.client.call_tool_mcp("s__whoami", {})
            assert not result.is_error, text_of(result)


async def test_a_new_login_replaces_the_one_a_running_session_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    with auth_server(tmp_path / "as.log") as server:
        servers = {"s": {"url": server.url, "auth": "oauth"}}
        config = write_oauth_config(tmp_path, servers)
        await login_here(config, "s", state)
        async with start_gateway(tmp_path, servers, env=state_env(state)) as gw:
            first = text_of(await gw.downstream("s", "whoami"))
            await login_here(config, "s", state)  # registers a new client
            second = text_of(await gw.downstream("s", "whoami"))
            (status,) = (await gw.data("gateway_status"))["servers"]
            stderr = gw.stderr()
    assert first.startswith("client ") and second.startswith("client ") and first != second
    assert status["restarts"] == 0 and status["state"] == "ready"  # the same session
    assert_no_token_text(state, "s", stderr)
