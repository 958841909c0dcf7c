""".mcp.json parsing: shapes, gateway keys, ${VAR} substitution, warnings, errors, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_gateway.core.config import (
    DEFAULT_STARTUP_TIMEOUT,
    DEFAULT_TIMEOUT,
    GatewayConfig,
    RemoteEntry,
    ServerSpec,
    StdioEntry,
    oauth_entry,
    substitute,
)
from agent_gateway.core.errors import ConfigError, GatewayError


def one(entry: Any, environ: dict[str, str] | None = None, name: str = "x") -> ServerSpec:
    """Parse a config holding the single server ``name`` and return its spec."""
    config = GatewayConfig.from_dict({"mcpServers": {name: entry}}, environ=environ or {})
    return config.servers[name]


# --- accepted shapes -------------------------------------------------------------------

# (whole config, expected entry class, expected entry attributes of server "x")
SHAPES = [
    pytest.param(
        {"mcpServers": {"x": {"command": "npx", "args": ["-y", "pkg"]}}},
        StdioEntry,
        {"type": "stdio", "command": "npx", "args": ["-y", "pkg"], "env": {}, "cwd": None},
        id="mcpServers-stdio-without-type",
    ),
    pytest.param(
        {"mcpServers": {"x": {"type": "stdio", "command": "uvx", "env": {"A": "1"}, "cwd": "/"}}},
        StdioEntry,
        {"type": "stdio", "command": "uvx", "args": [], "env": {"A": "1"}, "cwd": "/"},
        id="mcpServers-stdio-with-type-env-cwd",
    ),
    pytest.param(
        {"servers": {"x": {"type": "stdio", "command": "node", "args": ["s.js"]}}},
        StdioEntry,
        {"type": "stdio", "command": "node", "args": ["s.js"]},
        id="vscode-servers-stdio",
    ),
    pytest.param(
        {"mcpServers": {"x": {"url": "https://h/mcp"}}},
        RemoteEntry,
        {"type": "http", "url": "https://h/mcp", "headers": {}},
        id="remote-without-type-defaults-to-http",
    ),
    pytest.param(
        {"mcpServers": {"x": {"type": "http", "url": "https://h/mcp", "headers": {"A": "b"}}}},
        RemoteEntry,
        {"type": "http", "url": "https://h/mcp", "headers": {"A": "b"}},
        id="remote-http-with-headers",
    ),
    pytest.param(
        {"mcpServers": {"x": {"type": "streamable-http", "url": "https://h/mcp"}}},
        RemoteEntry,
        {"type": "streamable-http"},
        id="remote-streamable-http",
    ),
    pytest.param(
        {"servers": {"x": {"type": "sse", "url": "https://h/sse"}}},
        RemoteEntry,
        {"type": "sse", "url": "https://h/sse"},
        id="vscode-servers-remote-sse",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c"}}},
        StdioEntry,
        {
            "description": "",
            "disabled": False,
            "timeout": DEFAULT_TIMEOUT,
            "startup_timeout": DEFAULT_STARTUP_TIMEOUT,
            "idle_timeout": None,
        },
        id="gateway-keys-default-to-60s-timeouts-enabled-never-idle",
    ),
    pytest.param(
        {
            "mcpServers": {
                "x": {
                    "command": "c",
                    "description": "Query the DB",
                    "disabled": True,
                    "timeout": 5,
                    "startupTimeout": 120.5,
                    "idleTimeout": 300,
                }
            }
        },
        StdioEntry,
        {
            "description": "Query the DB",
            "disabled": True,
            "timeout": 5.0,
            "startup_timeout": 120.5,
            "idle_timeout": 300.0,
        },
        id="gateway-keys-on-stdio",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c"}}},
        StdioEntry,
        {"max_concurrency": 16, "max_queue": 64, "breaker_failures": 5, "breaker_cooldown": 30.0},
        id="load-limits-default-to-16-running-64-waiting-5-failures-30s",
    ),
    pytest.param(
        {
            "mcpServers": {
                "x": {
                    "url": "u",
                    "maxConcurrency": 2,
                    "maxQueue": 0,
                    "breakerFailures": 0,
                    "breakerCooldown": 0.5,
                }
            }
        },
        RemoteEntry,
        {"max_concurrency": 2, "max_queue": 0, "breaker_failures": 0, "breaker_cooldown": 0.5},
        id="load-limits-on-remote",
    ),
    pytest.param(
        {"mcpServers": {"x": {"url": "u", "description": "d", "disabled": True, "timeout": 1}}},
        RemoteEntry,
        {"description": "d", "disabled": True, "timeout": 1.0},
        id="gateway-keys-on-remote",
    ),
]


@pytest.mark.parametrize(("data", "cls", "attrs"), SHAPES)
def test_accepted_entries_parse_into_the_expected_model(
    data: dict[str, Any], cls: type, attrs: dict[str, Any]
) -> None:
    spec = GatewayConfig.from_dict(data).servers["x"]
    assert type(spec.entry) is cls
    assert {k: getattr(spec.entry, k) for k in attrs} == attrs
    assert spec.name == "x"
    assert spec.error is None


def test_servers_keep_the_order_of_the_file() -> None:
    names = ["zeta", "alpha", "mid"]
    config = GatewayConfig.from_dict({"mcpServers": {n: {"command": "c"} for n in names}})
    assert list(config.servers) == names


def test_an_empty_server_object_is_a_valid_config_with_no_servers() -> None:
    config = GatewayConfig.from_dict({"mcpServers": {}})
    assert config.servers == {}
    assert config.warnings == ()


def test_spec_description_and_disabled_mirror_the_entry() -> None:
    spec = one({"command": "c", "description": "hello", "disabled": True})
    assert (spec.description, spec.disabled) == ("hello", True)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("a", id="one-letter"),
        pytest.param("Web-Search_2.0", id="letters-digits-dash-underscore-dot"),
        pytest.param("x_y", id="single-underscore"),
        pytest.param("a" * 64, id="64-chars"),
        pytest.param("9", id="digit-only"),
    ],
)
def test_valid_server_names_are_accepted(name: str) -> None:
    assert one({"command": "c"}, name=name).name == name


# --- substitution ----------------------------------------------------------------------

ENV = {"HOME_DIR": "/home/u", "TOKEN": "s3cret", "EMPTY": ""}

# (entry, attribute of the substituted entry, expected value)
SUBSTITUTIONS = [
    pytest.param({"command": "${HOME_DIR}/bin/srv"}, "command", "/home/u/bin/srv", id="command"),
    pytest.param({"command": "${NOPE:-npx}"}, "command", "npx", id="command-default"),
    pytest.param(
        {"command": "c", "args": ["--token=${TOKEN}", "${NOPE:-fallback}", "plain"]},
        "args",
        ["--token=s3cret", "fallback", "plain"],
        id="args",
    ),
    pytest.param(
        {"command": "c", "env": {"T": "${TOKEN}", "D": "${NOPE:-d}"}},
        "env",
        {"T": "s3cret", "D": "d"},
        id="env",
    ),
    pytest.param({"command": "c", "cwd": "${HOME_DIR}/proj"}, "cwd", "/home/u/proj", id="cwd"),
    pytest.param({"command": "c", "cwd": "${NOPE:-/tmp}"}, "cwd", "/tmp", id="cwd-default"),
    pytest.param(
        {"url": "https://h/mcp?key=${TOKEN}"}, "url", "https://h/mcp?key=s3cret", id="url"
    ),
    pytest.param(
        {"url": "${NOPE:-http://localhost:3000}/mcp"},
        "url",
        "http://localhost:3000/mcp",
        id="url-default",
    ),
    pytest.param(
        {"url": "u", "headers": {"Authorization": "Bearer ${TOKEN}", "X": "${NOPE:-y}"}},
        "headers",
        {"Authorization": "Bearer s3cret", "X": "y"},
        id="headers",
    ),
    pytest.param(
        {"command": "c", "args": ["${EMPTY:-used}"]},
        "args",
        ["used"],
        id="set-but-empty-uses-default",
    ),
    pytest.param(
        {"command": "c", "args": ["a${EMPTY}b"]}, "args", ["ab"], id="set-but-empty-without-default"
    ),
    pytest.param(
        {"command": "c", "description": "${TOKEN}"},
        "description",
        "${TOKEN}",
        id="description-is-not-substituted",
    ),
    pytest.param(
        {"command": "c", "env": {"${TOKEN}": "v"}},
        "env",
        {"${TOKEN}": "v"},
        id="env-keys-are-not-substituted",
    ),
]


@pytest.mark.parametrize(("entry", "attr", "expected"), SUBSTITUTIONS)
def test_variables_are_substituted_in_connection_fields(
    entry: dict[str, Any], attr: str, expected: Any
) -> None:
    spec = one(entry, ENV)
    assert getattr(spec.entry, attr) == expected
    assert spec.error is None


# (text, environ, expected result, expected missing names)
SUBSTITUTE_TABLE = [
    pytest.param("plain text", {}, "plain text", [], id="no-variables"),
    pytest.param("${A}", {"A": "1"}, "1", [], id="set"),
    pytest.param("x-${A}-${B}-y", {"A": "1", "B": "2"}, "x-1-2-y", [], id="two-in-one-string"),
    pytest.param("${A:-dflt}", {}, "dflt", [], id="unset-with-default"),
    pytest.param("${A:-dflt}", {"A": "1"}, "1", [], id="set-ignores-default"),
    pytest.param("${A:-dflt}", {"A": ""}, "dflt", [], id="set-but-empty-uses-default"),
    pytest.param("${A:-}", {}, "", [], id="empty-default-is-not-missing"),
    pytest.param("${A:-a b/c=d}", {}, "a b/c=d", [], id="default-with-spaces-and-symbols"),
    pytest.param("<${A}>", {"A": ""}, "<>", [], id="set-but-empty-without-default"),
    pytest.param("<${A}>", {}, "<>", ["A"], id="unset-is-missing"),
    pytest.param("${A}${B}${A}", {}, "", ["A", "B"], id="each-missing-name-once-in-order"),
    pytest.param(
        "$A and $$ and ${}", {"A": "1"}, "$A and $$ and ${}", [], id="no-braces-untouched"
    ),
    pytest.param("${1A}", {"1A": "x"}, "${1A}", [], id="invalid-name-untouched"),
    pytest.param("${A}", {"A": "${B}", "B": "no"}, "${B}", [], id="values-are-not-re-expanded"),
    pytest.param("${a_B9}", {"a_B9": "ok"}, "ok", [], id="lowercase-digits-underscore-name"),
]


@pytest.mark.parametrize(("text", "environ", "expected", "missing"), SUBSTITUTE_TABLE)
def test_substitute_replaces_variables_and_reports_the_unset_ones(
    text: str, environ: dict[str, str], expected: str, missing: list[str]
) -> None:
    found: list[str] = []
    assert substitute(text, environ, found) == expected
    assert found == missing


def test_substitute_appends_to_an_existing_missing_list_without_duplicates() -> None:
    found = ["A"]
    substitute("${A}${B}", {}, found)
    assert found == ["A", "B"]


@pytest.mark.parametrize(
    ("entry", "variable"),
    [
        pytest.param({"command": "${BIN}"}, "BIN", id="command"),
        pytest.param({"command": "c", "args": ["${ARG}"]}, "ARG", id="args"),
        pytest.param({"command": "c", "env": {"K": "${API_KEY}"}}, "API_KEY", id="env"),
        pytest.param({"command": "c", "cwd": "${DIR}"}, "DIR", id="cwd"),
        pytest.param({"url": "https://${HOST}/mcp"}, "HOST", id="url"),
        pytest.param({"url": "u", "headers": {"A": "${AUTH}"}}, "AUTH", id="headers"),
    ],
)
def test_an_unset_variable_errors_only_its_server_naming_server_and_variable(
    entry: dict[str, Any], variable: str
) -> None:
    config = GatewayConfig.from_dict(
        {"mcpServers": {"broken": entry, "fine": {"command": "c", "args": ["${SET}"]}}},
        environ={"SET": "1"},
    )
    error = config.servers["broken"].error
    assert error is not None
    assert "'broken'" in error
    assert "${" + variable + "}" in error
    assert config.servers["fine"].error is None
    assert config.servers["fine"].entry.args == ["1"]  # type: ignore[union-attr]


def test_an_error_names_every_unset_variable_of_the_server() -> None:
    error = one({"command": "${A}", "env": {"K": "${B}"}}).error
    assert error is not None
    assert "${A}" in error
    assert "${B}" in error


def test_from_dict_without_environ_treats_every_variable_as_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AG_TEST_SET_IN_PROCESS", "1")
    config = GatewayConfig.from_dict(
        {"mcpServers": {"x": {"command": "${AG_TEST_SET_IN_PROCESS}"}}}
    )
    assert config.servers["x"].error is not None


# --- warnings --------------------------------------------------------------------------

# (whole config, fragments that must all appear in one warning)
WARNINGS = [
    pytest.param(
        {"mcpServers": {"fs": {"command": "c", "autoApprove": ["read"]}}},
        ["fs", "autoApprove"],
        id="unknown-entry-key-names-server-and-key",
    ),
    pytest.param(
        {"servers": {"fs": {"url": "u", "alwaysAllow": []}}},
        ["servers.fs", "alwaysAllow"],
        id="unknown-entry-key-in-vscode-shape",
    ),
    pytest.param(
        {"mcpServers": {"fs": {"command": "c", "headers": {"A": "b"}}}},
        ["fs", "headers"],
        id="remote-key-on-a-stdio-entry",
    ),
    pytest.param(
        {"mcpServers": {"web": {"url": "u", "args": ["x"]}}},
        ["web", "args"],
        id="stdio-key-on-a-remote-entry",
    ),
    pytest.param(
        {"mcpServers": {}, "globalShortcut": "Ctrl+Space"},
        ["globalShortcut"],
        id="unknown-top-level-key",
    ),
]


@pytest.mark.parametrize(("data", "fragments"), WARNINGS)
def test_unknown_keys_are_warnings_not_errors(data: dict[str, Any], fragments: list[str]) -> None:
    config = GatewayConfig.from_dict(data)
    assert any(all(f in w for f in fragments) for w in config.warnings), config.warnings


def test_an_entry_with_unknown_keys_still_runs_with_the_known_ones() -> None:
    spec = one({"command": "c", "args": ["a"], "autoApprove": ["t"], "alwaysAllow": []})
    assert spec.error is None
    assert spec.entry.args == ["a"]  # type: ignore[union-attr]
    assert "autoApprove" not in spec.entry.model_dump()


def test_a_clean_config_has_no_warnings() -> None:
    config = GatewayConfig.from_dict(
        {"mcpServers": {"a": {"command": "c", "type": "stdio"}, "b": {"url": "u"}}}
    )
    assert config.warnings == ()


# --- errors ----------------------------------------------------------------------------

# (whole config, fragments that must all appear in the error message)
ERRORS = [
    pytest.param([], ["top level", "object"], id="top-level-array"),
    pytest.param("mcpServers", ["top level", "object"], id="top-level-string"),
    pytest.param(None, ["top level", "object"], id="top-level-null"),
    pytest.param({}, ["mcpServers"], id="no-mcpServers-key"),
    pytest.param({"mcp_servers": {}}, ["mcpServers"], id="misspelled-mcpServers-key"),
    pytest.param({"mcpServers": []}, ["mcpServers", "object"], id="mcpServers-is-an-array"),
    pytest.param({"servers": None}, ["servers", "object"], id="vscode-servers-is-null"),
    pytest.param({"mcpServers": {"x": "npx"}}, ["mcpServers.x", "a string"], id="entry-string"),
    pytest.param({"mcpServers": {"x": {}}}, ["mcpServers.x", "command", "url"], id="no-cmd-url"),
    pytest.param(
        {"mcpServers": {"x": {"description": "only"}}},
        ["mcpServers.x", "command", "url"],
        id="gateway-keys-only",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "url": "u"}}},
        ["mcpServers.x", "both", "command", "url"],
        id="both-command-and-url",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "args": "--flag"}}},
        ["mcpServers.x.args", "list"],
        id="args-not-a-list",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "args": ["a", 2]}}},
        ["mcpServers.x.args[1]", "string"],
        id="args-item-not-a-string",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": ["npx", "pkg"]}}},
        ["mcpServers.x.command", "string"],
        id="command-not-a-string",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": ""}}}, ["mcpServers.x.command"], id="command-empty"
    ),
    pytest.param({"mcpServers": {"x": {"command": None}}}, ["mcpServers.x.command"], id="cmd-null"),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "env": ["A=1"]}}},
        ["mcpServers.x.env", "dictionary"],
        id="env-not-an-object",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "env": {"PORT": 8080}}}},
        ["mcpServers.x.env.PORT", "string"],
        id="env-value-not-a-string",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "cwd": 1}}}, ["mcpServers.x.cwd"], id="cwd-number"
    ),
    pytest.param({"mcpServers": {"x": {"url": 42}}}, ["mcpServers.x.url"], id="url-number"),
    pytest.param({"mcpServers": {"x": {"url": ""}}}, ["mcpServers.x.url"], id="url-empty"),
    pytest.param(
        {"servers": {"x": {"url": "u", "headers": "Authorization: x"}}},
        ["servers.x.headers"],
        id="headers-not-an-object-vscode-path",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "description": 3}}},
        ["mcpServers.x.description"],
        id="description-number",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "disabled": "maybe"}}},
        ["mcpServers.x.disabled"],
        id="disabled-not-a-boolean",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "timeout": 0}}},
        ["mcpServers.x.timeout", "greater than 0"],
        id="timeout-zero",
    ),
    pytest.param(
        {"mcpServers": {"x": {"url": "u", "timeout": -5}}},
        ["mcpServers.x.timeout", "greater than 0"],
        id="timeout-negative",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "timeout": "soon"}}},
        ["mcpServers.x.timeout"],
        id="timeout-not-a-number",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "startupTimeout": 0}}},
        ["mcpServers.x.startupTimeout", "greater than 0"],
        id="startup-timeout-zero",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "idleTimeout": -1}}},
        ["mcpServers.x.idleTimeout", "greater than 0"],
        id="idle-timeout-negative",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "maxConcurrency": 0}}},
        ["mcpServers.x.maxConcurrency", "greater than or equal to 1"],
        id="max-concurrency-zero",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "maxQueue": -1}}},
        ["mcpServers.x.maxQueue", "greater than or equal to 0"],
        id="max-queue-negative",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "breakerCooldown": 0}}},
        ["mcpServers.x.breakerCooldown", "greater than 0"],
        id="breaker-cooldown-zero",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "type": "sse"}}},
        ["mcpServers.x.type", "sse", "stdio"],
        id="sse-type-with-command",
    ),
    pytest.param(
        {"mcpServers": {"x": {"command": "c", "type": "http"}}},
        ["mcpServers.x.type", "http"],
        id="http-type-with-command",
    ),
    pytest.param(
        {"mcpServers": {"x": {"url": "u", "type": "stdio"}}},
        ["mcpServers.x.type"],
        id="stdio-type-with-url",
    ),
    pytest.param(
        {"mcpServers": {"x": {"url": "u", "type": "websocket"}}},
        ["mcpServers.x.type"],
        id="unknown-remote-type",
    ),
    pytest.param({"mcpServers": {"a b": {"command": "c"}}}, ["'a b'"], id="name-with-space"),
    pytest.param(
        {"mcpServers": {"x__y": {"command": "c"}}}, ["'x__y'", "__"], id="name-with-dunder"
    ),
    pytest.param(
        {"mcpServers": {"a" * 65: {"command": "c"}}}, ["a" * 65, "64"], id="name-65-chars"
    ),
    pytest.param({"mcpServers": {"": {"command": "c"}}}, ["invalid server name"], id="empty-name"),
    pytest.param({"mcpServers": {"a/b": {"command": "c"}}}, ["'a/b'"], id="name-with-slash"),
    pytest.param({"mcpServers": {"café": {"command": "c"}}}, ["'café'"], id="name-non-ascii"),
    pytest.param(
        {"mcpServers": {"a\n": {"command": "c"}}},
        ["invalid server name"],
        id="name-with-trailing-newline",
    ),
]


@pytest.mark.parametrize(("data", "fragments"), ERRORS)
def test_invalid_configs_raise_a_config_error_with_the_json_path(
    data: Any, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        GatewayConfig.from_dict(data)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message


WRONG_SCALAR_TYPES = [
    pytest.param({"timeout": True}, "timeout", id="timeout-boolean"),
    pytest.param({"timeout": "30"}, "timeout", id="timeout-string"),
    pytest.param({"startupTimeout": "120"}, "startupTimeout", id="startup-timeout-string"),
    pytest.param({"maxConcurrency": 2.5}, "maxConcurrency", id="max-concurrency-fraction"),
    pytest.param({"maxQueue": "8"}, "maxQueue", id="max-queue-string"),
    pytest.param({"disabled": "yes"}, "disabled", id="disabled-string"),
    pytest.param({"disabled": 1}, "disabled", id="disabled-number"),
]


@pytest.mark.parametrize(("extra", "key"), WRONG_SCALAR_TYPES)
def test_a_scalar_of_the_wrong_json_type_is_an_error_not_coerced(
    extra: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError, match=rf"mcpServers\.x\.{key}"):
        one({"command": "c", **extra})


def test_the_first_invalid_server_fails_the_whole_config() -> None:
    with pytest.raises(ConfigError, match=r"mcpServers\.bad\.args"):
        GatewayConfig.from_dict(
            {"mcpServers": {"good": {"command": "c"}, "bad": {"command": "c", "args": 1}}}
        )


def test_config_errors_are_gateway_errors() -> None:
    with pytest.raises(GatewayError):
        GatewayConfig.from_dict({})


def test_from_dict_prefixes_errors_with_the_given_path() -> None:
    with pytest.raises(ConfigError) as info:
        GatewayConfig.from_dict({}, path="/etc/gw/.mcp.json")
    assert info.value.path == "/etc/gw/.mcp.json"
    assert str(info.value).startswith("/etc/gw/.mcp.json: ")


# --- from_file -------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = ".mcp.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_from_file_reads_the_config_and_records_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"mcpServers": {"x": {"command": "${BIN:-npx}"}}}))
    config = GatewayConfig.from_file(path, environ={"BIN": "uvx"})
    assert config.path == str(path)
    assert config.servers["x"].entry.command == "uvx"  # type: ignore[union-attr]


def test_from_file_substitutes_from_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AG_TEST_CONFIG_BIN", "/opt/bin/srv")
    path = write(tmp_path, json.dumps({"mcpServers": {"x": {"command": "${AG_TEST_CONFIG_BIN}"}}}))
    spec = GatewayConfig.from_file(path).servers["x"]
    assert spec.entry.command == "/opt/bin/srv"  # type: ignore[union-attr]
    assert spec.error is None


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        pytest.param('{"mcpServers": {,}}', 1, 17, id="stray-comma"),
        pytest.param(
            '{\n  // servers\n  "mcpServers": {\n    "x": {"command": "c" "args": []}\n  }\n}',
            4,
            26,
            id="missing-comma-after-a-comment",
        ),
        pytest.param('{\n  "mcpServers": {}\n', 3, 1, id="unclosed-object"),
        pytest.param("{'mcpServers': {}}", 1, 2, id="single-quotes"),
    ],
)
def test_a_syntax_error_names_the_file_line_and_column(
    tmp_path: Path, text: str, line: int, column: int
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        GatewayConfig.from_file(path, environ={})
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}, column {column}" in message
    assert info.value.path == str(path)


def test_from_file_accepts_comments_and_trailing_commas_as_vs_code_writes(
    tmp_path: Path,
) -> None:
    text = (
        "// servers for this repo\n"
        '{\n  "servers": {\n    /* local */\n'
        '    "x": {"type": "stdio", "command": "c", "args": ["a", "https://h//p",],},\n  },\n}\n'
    )
    config = GatewayConfig.from_file(write(tmp_path, text), environ={})
    entry = config.servers["x"].entry
    assert isinstance(entry, StdioEntry)
    assert entry.args == ["a", "https://h//p"]


def test_a_missing_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / ".mcp.json"
    with pytest.raises(ConfigError, match="not found") as info:
        GatewayConfig.from_file(path, environ={})
    assert str(path) in str(info.value)


@pytest.mark.parametrize("text", ["", "  \n\t\n"], ids=["empty", "whitespace-only"])
def test_an_empty_file_is_an_error_naming_the_file(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="empty") as info:
        GatewayConfig.from_file(path, environ={})
    assert str(path) in str(info.value)


def test_a_directory_instead_of_a_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read") as info:
        GatewayConfig.from_file(tmp_path, environ={})
    assert str(tmp_path) in str(info.value)


def test_a_non_utf8_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    path.write_bytes(b'{"mcpServers": {"x": {"command": "\xff"}}}')
    with pytest.raises(ConfigError, match="cannot read") as info:
        GatewayConfig.from_file(path, environ={})
    assert str(path) in str(info.value)


def test_a_schema_error_in_a_file_names_the_file_and_the_json_path(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"mcpServers": {"x": {"command": "c", "args": "a"}}}))
    with pytest.raises(ConfigError) as info:
        GatewayConfig.from_file(path, environ={})
    assert str(info.value).startswith(f"{path}: mcpServers.x.args")


def test_a_file_holding_json_null_is_reported_as_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "null")
    with pytest.raises(ConfigError, match="top level"):
        GatewayConfig.from_file(path, environ={})


# --- target() --------------------------------------------------------------------------

SECRET = "s3cr3t-value"

# (entry, environ, expected target)
TARGETS = [
    pytest.param(
        {"command": "npx", "args": ["-y", "pkg"]}, {}, "npx -y pkg", id="command-and-args"
    ),
    pytest.param({"command": "srv"}, {}, "srv", id="command-without-args"),
    pytest.param(
        {"command": "srv", "env": {"API_KEY": SECRET}}, {}, "srv", id="stdio-env-value-left-out"
    ),
    pytest.param(
        {"command": "srv", "env": {"API_KEY": "${KEY}"}},
        {"KEY": SECRET},
        "srv",
        id="stdio-substituted-env-value-left-out",
    ),
    pytest.param({"url": "https://h.example/mcp"}, {}, "https://h.example/mcp", id="plain-url"),
    pytest.param(
        {"url": f"https://h.example/mcp?api_key={SECRET}&x=1"},
        {},
        "https://h.example/mcp",
        id="url-query-stripped",
    ),
    pytest.param(
        {"url": "https://h.example/mcp?key=${KEY}"},
        {"KEY": SECRET},
        "https://h.example/mcp",
        id="substituted-url-query-stripped",
    ),
    pytest.param(
        {"url": "https://h.example/mcp", "headers": {"Authorization": f"Bearer {SECRET}"}},
        {},
        "https://h.example/mcp",
        id="header-value-left-out",
    ),
    pytest.param(
        {"url": f"https://user:{SECRET}@h.example/mcp"},
        {},
        "https://h.example/mcp",
        id="url-userinfo-stripped",
    ),
]


@pytest.mark.parametrize(("entry", "environ", "expected"), TARGETS)
def test_target_describes_the_server_without_secrets(
    entry: dict[str, Any], environ: dict[str, str], expected: str
) -> None:
    target = one(entry, environ).target()
    assert target == expected
    assert SECRET not in target


# ----------------------------------------------------------- paths: the config's folder

BASE = "/ide/proj"

# (id, entry, expected command, expected cwd)
PATH_CASES = [
    ("bare-command-is-a-path-lookup", {"command": "npx"}, "npx", BASE),
    ("dot-slash-command", {"command": "./server.sh"}, f"{BASE}/server.sh", BASE),
    ("subfolder-command", {"command": "bin/x"}, f"{BASE}/bin/x", BASE),
    ("parent-command", {"command": "../tools/x"}, "/ide/tools/x", BASE),
    ("absolute-command-kept", {"command": "/usr/bin/x"}, "/usr/bin/x", BASE),
    ("relative-cwd", {"command": "npx", "cwd": "sub"}, "npx", f"{BASE}/sub"),
    ("dot-cwd", {"command": "npx", "cwd": "."}, "npx", BASE),
    ("absolute-cwd-kept", {"command": "npx", "cwd": "/tmp"}, "npx", "/tmp"),
    ("command-from-variable", {"command": "${TOOLS}/x"}, "/opt/tools/x", BASE),
    ("relative-variable-command", {"command": "${REL}/x"}, f"{BASE}/rel/x", BASE),
    ("cwd-from-variable", {"command": "npx", "cwd": "${TOOLS}"}, "npx", "/opt/tools"),
]


@pytest.mark.parametrize(
    ("entry", "command", "cwd"), [c[1:] for c in PATH_CASES], ids=[c[0] for c in PATH_CASES]
)
def test_relative_paths_resolve_against_the_config_folder(
    entry: dict[str, Any], command: str, cwd: str
) -> None:
    env = {"TOOLS": "/opt/tools", "REL": "rel"}
    config = GatewayConfig.from_dict({"mcpServers": {"x": entry}}, environ=env, base_dir=BASE)
    got = config.servers["x"].entry
    assert isinstance(got, StdioEntry)
    assert (got.command, got.cwd) == (command, cwd)


def test_from_file_resolves_against_the_files_folder_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    path = write(proj, json.dumps({"mcpServers": {"x": {"command": "./srv.sh", "cwd": "data"}}}))
    monkeypatch.chdir(tmp_path)
    entry = GatewayConfig.from_file(path.relative_to(tmp_path)).servers["x"].entry
    assert isinstance(entry, StdioEntry)
    assert (entry.command, entry.cwd) == (str(proj / "srv.sh"), str(proj / "data"))
    bare = write(proj, json.dumps({"mcpServers": {"x": {"command": "npx"}}}))
    entry = GatewayConfig.from_file(bare).servers["x"].entry
    assert isinstance(entry, StdioEntry)
    assert (entry.command, entry.cwd) == ("npx", str(proj))  # default cwd: the config's folder


def test_remote_entries_are_untouched_by_path_resolution() -> None:
    data = {"mcpServers": {"r": {"url": "http://h/mcp"}}}
    config = GatewayConfig.from_dict(data, base_dir=BASE)
    assert config.servers["r"].entry == GatewayConfig.from_dict(data).servers["r"].entry


# --- OAuth keys (remote servers) --------------------------------------------------------


def test_a_remote_entry_may_ask_for_oauth_with_a_pre_registered_client() -> None:
    entry = {
        "url": "https://mcp.example.com/mcp",
        "auth": "oauth",
        "clientId": "${CLIENT_ID}",
        "clientSecret": "${CLIENT_SECRET}",
        "scopes": ["read", "write"],
        "callbackPort": 33418,
    }
    spec = one(entry, {"CLIENT_ID": "gateway-app", "CLIENT_SECRET": "s3cr3t-value"})
    assert isinstance(spec.entry, RemoteEntry) and spec.error is None
    assert spec.entry.auth == "oauth" and spec.entry.client_id == "gateway-app"
    assert spec.entry.client_secret == "s3cr3t-value" and spec.entry.scopes == ["read", "write"]
    assert spec.entry.callback_port == 33418
    assert oauth_entry(spec) is spec.entry


def test_an_unset_client_secret_variable_marks_only_that_server_failed() -> None:
    spec = one({"url": "https://m.example.com/mcp", "auth": "oauth", "clientSecret": "${NOPE}"})
    assert spec.error is not None and "NOPE" in spec.error


@pytest.mark.parametrize(
    "extra",
    [
        {"auth": "basic"},
        {"auth": "oauth", "callbackPort": 70000},
        {"auth": "oauth", "clientId": ""},
    ],
    ids=["unknown-auth", "port-out-of-range", "empty-client-id"],
)
def test_bad_oauth_keys_are_errors_with_the_json_path(extra: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"mcpServers\.x\."):
        one({"url": "https://m.example.com/mcp", **extra})


def test_oauth_keys_do_not_go_with_a_command() -> None:
    config = GatewayConfig.from_dict({"mcpServers": {"x": {"command": "npx", "auth": "oauth"}}})
    assert any("'auth'" in w for w in config.warnings)
    assert oauth_entry(config.servers["x"]) is None
