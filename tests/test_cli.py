"""The command line, in-process: ``agent_gateway.cli.main([...])`` with captured output.

Every test runs in its own temp folder (the cwd) with the gateway's environment
variables cleared, so the default ``./.mcp.json`` and ``./policies`` are the
test's own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN, PY, echo_server

from agent_gateway.cli import main

COMMANDS = ["serve", "check", "tools", "call", "init", "token", "pins"]
_LOGGERS = ("", "fastmcp", "mcp", "httpx", "httpx2", "uvicorn", "docket", "watchfiles")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A clean cwd and environment; main()'s logging setup undone afterwards."""
    monkeypatch.chdir(tmp_path)
    for var in (
        "AGENT_GATEWAY_CONFIG",
        "AGENT_GATEWAY_POLICIES",
        "AGENT_GATEWAY_AGENT",
        "AGENT_GATEWAY_LOG_LEVEL",
        "NOPE",
    ):
        monkeypatch.delenv(var, raising=False)
    saved = {}
    for name in _LOGGERS:
        log = logging.getLogger(name)
        saved[name] = (list(log.handlers), log.level, log.propagate)
    try:
        yield
    finally:
        for name, (handlers, level, propagate) in saved.items():
            log = logging.getLogger(name)
            log.handlers[:] = handlers
            log.setLevel(level)
            log.propagate = propagate


def write_config(servers: dict[str, Any], path: str = ".mcp.json") -> Path:
    file = Path(path)
    file.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return file


def write_policy(agent: str, text: str) -> None:
    folder = Path("policies")
    folder.mkdir(exist_ok=True)
    (folder / f"{agent}.toml").write_text(text)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----- help and usage -------------------------------------------------------------------------


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        (
            "serve",
            [
                "--config",
                "--policies",
                "--agent",
                "--transport",
                "--host",
                "--port",
                "--log-level",
                "--log-format",
            ],
        ),
        ("check", ["--config", "--policies", "--agent", "--server", "--tool"]),
        ("tools", ["--config", "--json"]),
        ("call", ["--config", "--args", "server", "tool"]),
        ("init", ["--config", "--policies"]),
        ("token", ["name"]),
    ],
)
def test_help_of_each_command_exits_0_and_names_its_flags(
    capsys: pytest.CaptureFixture[str], command: str, flags: list[str]
) -> None:
    code, out, err = run(capsys, command, "--help")
    assert code == 0
    assert err == ""
    assert out.startswith("usage:")
    for flag in flags:
        assert flag in out, flag


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["serve", "--transport", "carrier-pigeon"],
        ["call", "echo"],
        ["token"],
        ["check", "--log-level", "loud"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "usage:" in err


# ----- check ----------------------------------------------------------------------------------


def test_check_a_good_config_lists_its_servers(capsys: pytest.CaptureFixture[str]) -> None:
    write_config(
        {
            "echo": echo_server(),
            "remote": {"url": "https://example.com/mcp?key=secret", "type": "http"},
            "off": {"command": "no-such-binary-xyz", "disabled": True},
        }
    )
    code, out, err = run(capsys, "check")
    assert code == 0, err
    assert "error" not in err
    assert ".mcp.json" in out
    assert "3 servers" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "ok" in lines["echo"].split()
    assert "ok" in lines["remote"].split()
    assert "disabled" in lines["off"].split()
    assert "secret" not in out  # the URL is shown without its query
    assert "open mode" in out


def test_check_reads_the_config_named_by_flag_and_by_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config({"by-flag": echo_server()}, "flag.json")
    write_config({"by-env": echo_server()}, "env.json")
    code, out, _ = run(capsys, "check", "--config", "flag.json")
    assert code == 0
    assert "by-flag" in out
    monkeypatch.setenv("AGENT_GATEWAY_CONFIG", "env.json")
    code, out, _ = run(capsys, "check")
    assert code == 0
    assert "by-env" in out
    assert "by-flag" not in out


def test_check_broken_json_names_the_file_line_and_column(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A missing comma (trailing commas and comments are accepted: JSONC).
    Path(".mcp.json").write_text(
        '{\n  "mcpServers": {\n    "echo": {"command": "x" "a": 1}\n  }\n}\n'
    )
    code, out, err = run(capsys, "check")
    assert code == 1
    assert ".mcp.json" in err
    assert re.search(r"line 3, column \d+", err), err
    assert "Traceback" not in err
    assert "error" not in out


def test_check_missing_config_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check")
    assert code == 1
    assert ".mcp.json" in err
    assert "not found" in err


def test_check_unset_variable_exits_1_naming_server_and_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(
        {
            "good": echo_server(),
            "needs-key": {"command": PY, "args": ["-c", "pass"], "env": {"KEY": "${NOPE}"}},
        }
    )
    code, out, err = run(capsys, "check")
    assert code == 1
    assert "needs-key" in err
    assert "NOPE" in err
    assert "'good'" not in err
    assert "good" in out


def test_check_command_not_found_exits_1_naming_the_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config({"ghost": {"command": "no-such-binary-xyz"}, "good": echo_server()})
    code, out, err = run(capsys, "check")
    assert code == 1
    assert "ghost" in err
    assert "no-such-binary-xyz" in err
    assert "'good'" not in err
    assert "ghost" in out


def test_check_with_policies_prints_each_agents_visible_servers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(
        {
            "postgres": echo_server(),
            "web-search": echo_server(),
            "prod-db": echo_server(),
        }
    )
    write_policy("default", '[allow]\nservers = ["web-*"]\n')
    write_policy(
        "backend",
        '[allow]\nservers = ["*"]\n[allow.tools]\npostgres = ["query", "list_*"]\n'
        '[deny]\nservers = ["prod-*"]\n',
    )
    write_policy("nobody", "[allow]\nservers = []\n")
    code, out, err = run(capsys, "check")
    assert code == 0, err
    assert "open mode" not in out
    assert "3 agents" in out
    agents = {
        line.strip().split(":")[0]: line
        for line in out.splitlines()
        if line.startswith("  ") and "servers" in line
    }
    assert agents["backend"].split("servers", 1)[1].split() == ["postgres,", "web-search"]
    assert "web-search" in agents["default (no identity)"]
    assert "postgres" not in agents["default (no identity)"]
    assert "(none)" in agents["nobody"]
    assert "query" in out  # the narrowed tools of backend


def test_check_broken_policy_exits_1_naming_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server()})
    write_policy("broken", "[allow\nservers = 1\n")
    code, _, err = run(capsys, "check")
    assert code == 1
    assert "broken.toml" in err


def test_check_missing_explicit_policies_folder_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config({"echo": echo_server()})
    code, _, err = run(capsys, "check", "--policies", "nowhere")
    assert code == 1
    assert "nowhere" in err


@pytest.mark.parametrize(
    ("agent", "server", "tool", "rule", "exit_code"),
    [
        ("backend", "postgres", "query", "allowed: allow.tools['postgres'] 'query' matches", 0),
        ("backend", "postgres", "drop_table", "denied: deny.tools['*'] 'drop_*' matches", 3),
        ("backend", "postgres", "vacuum", "denied: allow.tools['postgres'] lists no glob", 3),
        ("backend", "prod-db", None, "denied: deny.servers 'prod-*' matches 'prod-db'", 3),
        ("backend", "web-search", None, "allowed: allow.servers '*' matches 'web-search'", 0),
        ("stranger", "postgres", None, "policies/stranger.toml", 3),
    ],
)
def test_check_explains_one_decision_and_exits_3_when_denied(
    capsys: pytest.CaptureFixture[str],
    agent: str,
    server: str,
    tool: str | None,
    rule: str,
    exit_code: int,
) -> None:
    write_config({"postgres": echo_server(), "web-search": echo_server(), "prod-db": echo_server()})
    write_policy(
        "backend",
        '[allow]\nservers = ["*"]\n[allow.tools]\npostgres = ["query", "list_*"]\n'
        '[deny]\nservers = ["prod-*"]\n[deny.tools]\n"*" = ["drop_*"]\n',
    )
    argv = ["check", "--agent", agent, "--server", server]
    if tool:
        argv += ["--tool", tool]
    code, out, err = run(capsys, *argv)
    assert code == exit_code, err
    assert rule in out.splitlines()[-1], out


# ----- init / token ---------------------------------------------------------------------------


def test_init_writes_starter_files_that_check_accepts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    code, out, _ = run(capsys, "init")
    assert code == 0
    config = Path(".mcp.json")
    policy = Path("policies/default.toml")
    assert config.is_file()
    assert policy.is_file()
    assert str(config) in out
    assert str(policy) in out
    assert "mcpServers" in json.loads(config.read_text())
    code, out, err = run(capsys, "check")
    assert code == 0, err
    assert "time" in out  # the starter server (mcp-server-time)
    assert "default (no identity): servers time" in out


def test_init_never_overwrites(capsys: pytest.CaptureFixture[str]) -> None:
    Path(".mcp.json").write_text("mine\n")
    Path("policies").mkdir()
    Path("policies/default.toml").write_text("# mine\n")
    code, out, err = run(capsys, "init")
    assert code == 0
    assert Path(".mcp.json").read_text() == "mine\n"
    assert Path("policies/default.toml").read_text() == "# mine\n"
    assert "exists" in err
    assert "wrote" not in out


def test_init_writes_the_missing_file_only(capsys: pytest.CaptureFixture[str]) -> None:
    Path(".mcp.json").write_text("mine\n")
    code, out, _ = run(capsys, "init")
    assert code == 0
    assert Path(".mcp.json").read_text() == "mine\n"
    assert Path("policies/default.toml").is_file()
    assert "default.toml" in out


def test_init_honours_config_and_policies_paths(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "init", "--config", "conf/gw.json", "--policies", "pol")
    assert code == 0
    assert Path("conf/gw.json").is_file()
    assert Path("pol/default.toml").is_file()
    assert not Path(".mcp.json").exists()


def test_token_prints_a_token_and_its_sha256_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "token", "backend")
    assert code == 0
    token_line = next(line for line in out.splitlines() if line.startswith("token:"))
    token = token_line.split(":", 1)[1].strip()
    assert len(token) >= 32
    match = re.search(r'^tokens_sha256 = \["([0-9a-f]{64})"\]$', out, re.MULTILINE)
    assert match, out
    assert match.group(1) == hashlib.sha256(token.encode()).hexdigest()
    assert "policies/backend.toml" in out
    assert "above the first [table]" in out  # below one, TOML reads it as part of that table

    # A fresh token every time.
    _, again, _ = run(capsys, "token", "backend")
    assert token not in again


def test_a_printed_token_line_makes_a_valid_policy(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "token", "ci")
    line = next(line for line in out.splitlines() if line.startswith("tokens_sha256"))
    write_config({"echo": echo_server()})
    write_policy("ci", f'{line}\n[allow]\nservers = ["echo"]\n')
    code, out, err = run(capsys, "check")
    assert code == 0, err
    assert "ci: servers echo" in out


# ----- tools / call (real servers, in-process) ------------------------------------------------


def test_tools_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, "tools")
    assert code == 0, err
    rows = [line.split(None, 2) for line in out.splitlines()]
    assert all(row[0] == "echo" for row in rows), out
    names = {row[1] for row in rows}
    assert {"echo", "add", "sleep", "image"} <= names
    add = next(row for row in rows if row[1] == "add")
    assert add[2] == "Add two integers."
    assert "echo" in err  # progress while starting goes to stderr


def test_tools_json_is_valid_and_a_broken_server_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config({"echo": echo_server(), "ghost": {"command": "no-such-binary-xyz"}})
    code, out, err = run(capsys, "tools", "--json")
    assert code == 1
    data = json.loads(out)
    by_server = {row["server"]: row for row in data["servers"]}
    assert set(by_server) == {"echo", "ghost"}
    assert {t["name"] for t in by_server["echo"]["tools"]} >= {"echo", "add"}
    add = next(t for t in by_server["echo"]["tools"] if t["name"] == "add")
    assert add["description"] == "Add two integers."
    assert by_server["ghost"]["tools"] == []
    assert "no-such-binary-xyz" in by_server["ghost"]["error"]
    assert "ghost" in err


def test_call_prints_the_result_json_and_nothing_else(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(
        capsys, "call", "--log-level", "debug", "echo", "add", "--args", '{"a": 1, "b": 2}'
    )
    assert code == 0, err
    assert "echo" in err  # progress and debug logs go to stderr
    result = json.loads(out)  # stdout is the result JSON only
    assert result["content"][0] == {"type": "text", "text": "3"}
    assert result["structuredContent"] == {"result": 3}
    assert result.get("isError", False) is False


def test_call_a_failing_tool_prints_the_error_result_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config({"echo": echo_server()})
    code, out, _ = run(capsys, "call", "echo", "fail", "--args", '{"message": "nope"}')
    assert code == 1
    result = json.loads(out)
    assert result["isError"] is True
    assert result["content"][0]["text"] == "nope"


@pytest.mark.parametrize("args", ['{"a": 1,', "not json", "[1, 2]", '"text"'])
def test_call_with_bad_json_args_exits_2(capsys: pytest.CaptureFixture[str], args: str) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, "call", "echo", "add", "--args", args)
    assert code == 2
    assert out == ""
    assert "--args" in err


def test_call_an_unknown_server_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, "call", "nope", "add")
    assert code == 1
    assert out == ""
    assert "Unknown server 'nope'" in err


def test_call_an_unknown_tool_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, "call", "echo", "nope")
    assert code == 1
    assert out == ""
    assert "Unknown tool 'nope'" in err


def test_call_a_server_that_cannot_start_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"ghost": {"command": "no-such-binary-xyz"}})
    code, out, err = run(capsys, "call", "ghost", "anything")
    assert code == 1
    assert out == ""
    assert "ghost" in err
    assert "no-such-binary-xyz" in err
    assert "Traceback" not in err


# ----- policies in tools / call (--agent), paths next to the config ---------------------------

NARROW = '[allow]\nservers = ["echo"]\n[allow.tools]\necho = ["add"]\n'


# (id, server, tool, the missing counterpart (server, tool), its message fragment)
DENIED_CALLS = [
    ("denied-server", "hidden", "echo", ("nosuch", "echo"), "Unknown server '{}'"),
    ("denied-tool", "echo", "env", ("echo", "nosuchtool"), "Unknown tool '{}' on server 'echo'"),
]


@pytest.mark.parametrize(
    ("server", "tool", "missing", "message"),
    [c[1:] for c in DENIED_CALLS],
    ids=[c[0] for c in DENIED_CALLS],
)
def test_call_with_agent_treats_a_denied_server_or_tool_as_missing(
    capsys: pytest.CaptureFixture[str],
    server: str,
    tool: str,
    missing: tuple[str, str],
    message: str,
) -> None:
    write_config({"echo": echo_server(), "hidden": echo_server()})
    write_policy("alice", NARROW)
    denied_name = server if server == "hidden" else tool
    missing_name = missing[0] if server == "hidden" else missing[1]
    code, out, err = run(capsys, "call", "--agent", "alice", server, tool)
    assert (code, out) == (1, "")
    assert message.format(denied_name) in err
    code, _, err_missing = run(capsys, "call", "--agent", "alice", *missing)
    assert code == 1
    assert err == err_missing.replace(repr(missing_name), repr(denied_name))


def test_call_with_agent_runs_an_allowed_tool(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server(), "hidden": echo_server()})
    write_policy("alice", NARROW)
    code, out, err = run(
        capsys, "call", "--agent", "alice", "echo", "add", "--args", '{"a": 2, "b": 3}'
    )
    assert code == 0, err
    assert json.loads(out)["structuredContent"] == {"result": 5}


def test_tools_with_agent_lists_only_what_the_agent_may_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config({"echo": echo_server(), "hidden": {"command": "no-such-binary-xyz"}})
    write_policy("alice", NARROW)
    code, out, err = run(capsys, "tools", "--agent", "alice", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [row["server"] for row in data["servers"]] == ["echo"]
    assert [t["name"] for t in data["servers"][0]["tools"]] == ["add"]
    assert "hidden" not in err and "no-such-binary" not in err


def test_tools_with_an_agent_without_policy_lists_nothing_and_names_the_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, "tools", "--agent", "ghost", "--json")
    assert code == 0, err
    assert json.loads(out) == {"servers": []}
    assert str(Path("policies/ghost.toml").resolve()) in err


@pytest.mark.parametrize("command", [["tools"], ["call", "echo", "add"]], ids=["tools", "call"])
def test_tools_and_call_refuse_a_policies_path_that_does_not_exist(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, *command, "--policies", "no-such-folder")
    assert (code, out) == (1, "")
    assert "no-such-folder" in err and "not found" in err


def test_check_finds_the_policies_folder_next_to_the_config_not_in_the_cwd(
    capsys: pytest.CaptureFixture[str],
) -> None:
    proj = Path("proj")
    proj.mkdir()
    write_config({"echo": echo_server()}, path="proj/.mcp.json")
    (proj / "policies").mkdir()
    (proj / "policies" / "alice.toml").write_text('[allow]\nservers = ["echo"]\n')
    write_policy("bob", '[allow]\nservers = ["*"]\n')  # ./policies: not the one
    code, out, err = run(capsys, "check", "--config", "proj/.mcp.json")
    assert code == 0, err
    assert "alice: servers echo" in out and "bob" not in out
    assert str((proj / "policies").resolve()) in out


def test_check_with_an_agent_and_no_policies_folder_is_not_open_mode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, "check", "--agent", "alice", "--server", "echo")
    assert code == 3, err  # denied
    assert "open mode" not in out
    assert out.splitlines()[-1].startswith("denied:") and "policies/alice.toml" in out


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            '[allow]\nservers = ["*"]\n[deny.tools]\n"*" = ["x"]\ntokens_sha256 = ["'
            + "a" * 64
            + '"]\n',
            "tokens_sha256",
        ),
        ('[allow]\nservers = ["*"]\n[allow.tools]\npostgress = ["query"]\n', "postgress"),
    ],
    ids=["token-line-below-deny-tools", "typo-in-allow-tools-key"],
)
def test_check_warns_when_a_tools_key_names_no_configured_server(
    capsys: pytest.CaptureFixture[str], text: str, key: str
) -> None:
    write_config({"echo": echo_server(), "postgres": echo_server()})
    write_policy("alice", text)
    code, _, err = run(capsys, "check")
    assert code == 0, err
    warning = next(line for line in err.splitlines() if key in line)
    assert warning.startswith("warning: ") and "alice.toml" in warning
    assert "matches no server" in warning


def test_check_does_not_warn_about_tools_keys_that_match_a_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config({"echo": echo_server(), "web-a": echo_server()})
    write_policy(
        "alice",
        '[allow]\nservers = ["*"]\n[allow.tools]\n"web-*" = ["x"]\n[deny.tools]\n"*" = ["y"]\n',
    )
    code, _, err = run(capsys, "check")
    assert code == 0, err
    assert "warning" not in err


# ----- answers that leave no guessing ---------------------------------------------------------


def test_tools_json_includes_each_tools_input_schema(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, "tools", "--json")
    assert code == 0, err
    (row,) = json.loads(out)["servers"]
    add = next(t for t in row["tools"] if t["name"] == "add")
    assert add["inputSchema"]["type"] == "object"
    assert set(add["inputSchema"]["properties"]) == {"a", "b"}
    assert add["inputSchema"]["required"] == ["a", "b"]


def test_counts_of_one_are_singular(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server()})
    write_policy("solo", '[allow]\nservers = ["echo"]\n[allow.tools]\necho = ["add"]\n')
    code, out, err = run(capsys, "check")
    assert code == 0, err
    assert "(1 server)" in out and "(1 agent)" in out, out
    code, _, err = run(capsys, "tools", "--agent", "solo")
    assert code == 0, err
    assert "Starting 1 server..." in err and "ready, 1 tool" in err, err
    assert "1 servers" not in err and "1 tools" not in err


def test_check_an_unknown_server_says_so_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server()})
    write_policy("bob", '[allow]\nservers = ["*"]\n')
    code, _, err = run(capsys, "check", "--agent", "bob", "--server", "ech0")
    assert code == 1
    assert "unknown server 'ech0'" in err and "echo" in err, err


def test_check_tool_without_server_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, "check", "--agent", "bob", "--tool", "add")
    assert code == 2 and out == ""
    assert "usage:" in err and "--tool needs --server" in err, err


@pytest.mark.parametrize("level", ["DEBUG", "Warning", "info"])
def test_log_level_accepts_any_case(capsys: pytest.CaptureFixture[str], level: str) -> None:
    write_config({"echo": echo_server()})
    code, _, err = run(capsys, "check", "--log-level", level)
    assert code == 0, err


def test_serve_on_a_port_in_use_prints_one_line_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    write_config({"echo": echo_server()})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(capsys, "serve", "--transport", "http", "--port", str(port))
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use (another agent-gateway?). "
        "Pass --port N to use another port."
    ]


def test_an_interrupted_command_exits_1_not_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_gateway.cli import commands

    def interrupted(_args: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "cmd_check", interrupted)
    code, _, err = run(capsys, "check")
    assert code == 1 and "Interrupted." in err


# ----- serving a team: beyond loopback, stdout ----------------------------------------------


def _serve_on_taken_port(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    """``serve --transport http --host 0.0.0.0`` on a port in use: exit 1 (port) means the
    command got past every refusal; nothing is served either way."""
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        return run(
            capsys, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", port, *flags
        )


@pytest.mark.parametrize("policies", [False, True], ids=["open-mode", "no-token"])
def test_serve_beyond_loopback_without_any_token_refuses_to_start_with_exit_2(
    capsys: pytest.CaptureFixture[str], policies: bool
) -> None:
    write_config({"echo": echo_server()})
    if policies:
        write_policy("default", '[allow]\nservers = ["*"]\n')
    code, out, err = _serve_on_taken_port(capsys)
    assert code == 2 and out == ""
    assert "--insecure-no-auth" in err and "agent-gateway token AGENT" in err
    assert "already in use" not in err  # refused before anything else


def test_serve_beyond_loopback_starts_with_a_token_or_insecure_no_auth(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config({"echo": echo_server()})
    code, _, err = _serve_on_taken_port(capsys, "--insecure-no-auth")
    assert code == 1 and "already in use" in err, err
    write_policy("alice", f'tokens_sha256 = ["{"a" * 64}"]\n[allow]\nservers = ["*"]\n')
    code, _, err = _serve_on_taken_port(capsys)
    assert code == 1 and "already in use" in err, err


@pytest.mark.parametrize(
    "flags",
    [["--audit-log", "-"], ["--log-output", "stdout"], ["--log-output", "STDOUT"]],
)
def test_stdio_serve_refuses_to_write_logs_or_audit_to_stdout(
    capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    write_config({"echo": echo_server()})
    code, out, err = run(capsys, "serve", *flags)
    assert code == 2 and out == ""
    assert "stdout" in err and "MCP protocol in stdio mode" in err and "--transport http" in err
