"""IDE variables in server entries: ${env:VAR}, ${workspaceFolder}, ${userHome}, ${input:ID}."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_gateway.core.config import GatewayConfig, RemoteEntry, StdioEntry
from agent_gateway.core.variables import Unresolved, Variables, input_variable, workspace_folder

ENV = {"HOME": "/home/ann", "TOKEN": "t0k", "AGENT_GATEWAY_INPUT_API_KEY": "k3y", "EMPTY": ""}
CONTEXT = Variables(environ=ENV, workspace="/proj", home="/home/ann")

# (text, expected, unset variables, inputs without value, unsupported references)
TABLE = [
    pytest.param("${env:TOKEN}", "t0k", [], [], [], id="env-prefix"),
    pytest.param("${env:NOPE}", "", ["NOPE"], [], [], id="env-prefix-unset"),
    pytest.param("${env:EMPTY}", "", [], [], [], id="env-prefix-set-but-empty"),
    pytest.param("${workspaceFolder}/data", "/proj/data", [], [], [], id="workspace-folder"),
    pytest.param("${workspaceFolderBasename}", "proj", [], [], [], id="workspace-basename"),
    pytest.param("${userHome}/.cache", "/home/ann/.cache", [], [], [], id="user-home"),
    pytest.param("a${/}b${pathSeparator}c", "a/b/c", [], [], [], id="path-separators"),
    pytest.param("Bearer ${input:api-key}", "Bearer k3y", [], [], [], id="input-from-env"),
    pytest.param("${input:token}", "", [], ["token"], [], id="input-without-value"),
    pytest.param("${command:pick}", "", [], [], ["${command:pick}"], id="command-unsupported"),
    pytest.param("${config:a.b}", "", [], [], ["${config:a.b}"], id="config-unsupported"),
    pytest.param("${TOKEN}-${X:-d}", "t0k-d", [], [], [], id="plain-forms-still-work"),
    pytest.param("${not a ref}", "${not a ref}", [], [], [], id="unknown-text-left-as-written"),
]


@pytest.mark.parametrize(("text", "expected", "unset", "inputs", "unsupported"), TABLE)
def test_a_reference_resolves_or_is_reported(
    text: str, expected: str, unset: list[str], inputs: list[str], unsupported: list[str]
) -> None:
    unresolved = Unresolved()
    assert CONTEXT.substitute(text, unresolved) == expected
    assert (unresolved.variables, unresolved.inputs, unresolved.unsupported) == (
        unset,
        inputs,
        unsupported,
    )


@pytest.mark.parametrize(
    ("input_id", "variable"),
    [
        ("api-key", "AGENT_GATEWAY_INPUT_API_KEY"),
        ("githubToken", "AGENT_GATEWAY_INPUT_GITHUBTOKEN"),
        ("db.password", "AGENT_GATEWAY_INPUT_DB_PASSWORD"),
    ],
)
def test_an_input_is_provided_by_one_named_environment_variable(
    input_id: str, variable: str
) -> None:
    assert input_variable(input_id) == variable


@pytest.mark.parametrize(
    ("folder", "workspace"),
    [("/p", "/p"), ("/p/.vscode", "/p"), ("/p/.cursor", "/p"), ("/p/tools", "/p/tools")],
)
def test_the_workspace_folder_is_the_configs_folder_or_the_project_above_an_ide_folder(
    folder: str, workspace: str
) -> None:
    assert workspace_folder(folder) == workspace


def test_the_folder_forms_without_a_config_file_are_reported_not_left_literal() -> None:
    unresolved = Unresolved()
    assert Variables(environ={}).substitute("${workspaceFolder}", unresolved) == ""
    assert unresolved.unsupported == ["${workspaceFolder}"]


def server(entry: dict[str, Any], environ: dict[str, str], **top: Any) -> Any:
    data = {"servers": {"s": entry}, **top}
    return GatewayConfig.from_dict(data, environ=environ, base_dir="/proj").servers["s"]


def test_ide_variables_are_substituted_in_every_field_of_an_entry() -> None:
    spec = server(
        {
            "command": "${workspaceFolder}/bin/s",
            "args": ["--home", "${userHome}"],
            "env": {"T": "${env:TOKEN}", "K": "${input:api-key}"},
            "cwd": "${workspaceFolder}/sub",
            "envFile": "${workspaceFolder}/.env",
        },
        ENV,
    )
    entry = spec.entry
    assert isinstance(entry, StdioEntry)
    assert spec.error is None
    assert entry.command == "/proj/bin/s"
    assert entry.args == ["--home", "/home/ann"]
    assert entry.env == {"T": "t0k", "K": "k3y"}
    assert entry.cwd == "/proj/sub" and entry.env_file == "/proj/.env"
    remote = server({"url": "https://h/${env:TOKEN}", "headers": {"A": "${input:api-key}"}}, ENV)
    assert isinstance(remote.entry, RemoteEntry)
    assert (remote.entry.url, remote.entry.headers) == ("https://h/t0k", {"A": "k3y"})


def test_an_input_without_value_fails_that_server_naming_the_input_and_its_variable() -> None:
    config = GatewayConfig.from_dict(
        {
            "inputs": [{"type": "promptString", "id": "gh-token", "description": "GitHub PAT"}],
            "servers": {
                "github": {"command": "gh-mcp", "env": {"T": "${input:gh-token}"}},
                "time": {"command": "mcp-server-time"},
            },
        },
        environ={},
    )
    error = config.servers["github"].error
    assert error is not None
    assert "'gh-token' (GitHub PAT)" in error and "'github'" in error
    assert "AGENT_GATEWAY_INPUT_GH_TOKEN" in error
    assert config.servers["time"].error is None
    assert not any("inputs" in w for w in config.warnings)


def test_an_unsupported_ide_variable_fails_that_server_naming_it() -> None:
    error = server({"command": "c", "args": ["${command:pickFile}"]}, {}).error
    assert error is not None and "${command:pickFile}" in error and "'s'" in error


def test_a_windsurf_server_url_is_read_as_the_url() -> None:
    spec = server({"serverUrl": "https://h/mcp"}, {})
    assert isinstance(spec.entry, RemoteEntry) and spec.entry.url == "https://h/mcp"


def test_the_workspace_of_a_vscode_config_is_the_project_folder(tmp_path: Path) -> None:
    folder = tmp_path / ".vscode"
    folder.mkdir()
    path = folder / "mcp.json"
    path.write_text('{"servers": {"s": {"command": "c", "args": ["${workspaceFolder}"]}}}')
    entry = GatewayConfig.from_file(path, environ={}).servers["s"].entry
    assert isinstance(entry, StdioEntry) and entry.args == [str(tmp_path)]
