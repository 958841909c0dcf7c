"""envFile: a dotenv file next to the config gives a stdio server its variables (env wins)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_gateway.core.config import GatewayConfig, StdioEntry
from agent_gateway.core.envfile import parse_env_text

# (dotenv text, the variables it gives)
PARSE = [
    pytest.param("A=1\nB=two words\n", {"A": "1", "B": "two words"}, id="plain"),
    pytest.param("# comment\n\nA=1 # trailing\n", {"A": "1"}, id="comments-and-blank-lines"),
    pytest.param("export A=1\n", {"A": "1"}, id="export-prefix"),
    pytest.param("A=\"x y\"\nB='z'\n", {"A": "x y", "B": "z"}, id="quotes"),
    pytest.param("A=1\nB=${A}2\n", {"A": "1", "B": "12"}, id="expands-earlier-lines"),
    pytest.param("A\nB=1\n", {"B": "1"}, id="a-key-without-value-is-skipped"),
]


@pytest.mark.parametrize(("text", "expected"), PARSE)
def test_a_dotenv_text_parses_to_its_variables(text: str, expected: dict[str, str]) -> None:
    assert parse_env_text(text) == expected


def write(folder: Path, servers: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return path


def test_an_env_file_is_read_relative_to_the_configs_folder_and_env_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not the config's folder
    project = tmp_path / "proj"
    path = write(project, {"s": {"command": "c", "envFile": ".env", "env": {"B": "from-env"}}})
    (project / ".env").write_text("A=from-file\nB=from-file\n", encoding="utf-8")
    spec = GatewayConfig.from_file(path, environ={}).servers["s"]
    assert isinstance(spec.entry, StdioEntry)
    assert spec.error is None
    assert spec.entry.env == {"A": "from-file", "B": "from-env"}
    assert spec.entry.env_file == str(project / ".env")


def test_a_missing_env_file_fails_that_server_only_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, {"s": {"command": "c", "envFile": "nope.env"}, "t": {"command": "c"}})
    config = GatewayConfig.from_file(path, environ={})
    error = config.servers["s"].error
    assert error is not None
    assert str(tmp_path / "nope.env") in error and "'s'" in error and "envFile" in error
    assert config.servers["t"].error is None


def test_inherit_env_is_a_boolean_gateway_key(tmp_path: Path) -> None:
    path = write(tmp_path, {"s": {"command": "c", "inheritEnv": True}})
    entry = GatewayConfig.from_file(path, environ={}).servers["s"].entry
    assert isinstance(entry, StdioEntry) and entry.inherit_env is True
