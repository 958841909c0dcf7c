"""The configs IDEs write work as they are: ``check``, ``init --from`` and ``serve`` take them.

Each file in tests/data/ide is copied to where its IDE keeps it (VS Code's
into ``.vscode/``, Cursor's into ``.cursor/``) in a project folder that also
holds a ``.env``; the test's cwd is somewhere else, as an IDE's would be.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PY, SERVERS, passed_env
from fastmcp import Client

from agent_gateway.cli import main
from agent_gateway.downstream.stdio import StdioProcessTransport

DATA = Path(__file__).parent / "data" / "ide"

# (data file, where the IDE keeps it in the project, the IDE's servers key)
IDES = [
    pytest.param("claude_desktop_config.json", "claude_desktop_config.json", id="claude-desktop"),
    pytest.param("claude_code.mcp.json", ".mcp.json", id="claude-code"),
    pytest.param("cursor.mcp.json", ".cursor/mcp.json", id="cursor"),
    pytest.param("windsurf_mcp_config.json", "mcp_config.json", id="windsurf"),
    pytest.param("vscode.mcp.json", ".vscode/mcp.json", id="vscode"),
]
IDE_ENV = {
    "CURSOR_GREETING": "hello from cursor",
    "AGENT_GATEWAY_INPUT_ECHO_KEY": "k-123",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project folder with a .env; the cwd and the gateway's variables are elsewhere."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / ".env").write_text("FROM_ENV_FILE=dotenv-value\n", encoding="utf-8")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for var in ("AGENT_GATEWAY_CONFIG", "AGENT_GATEWAY_POLICIES", "AGENT_GATEWAY_AGENT"):
        monkeypatch.delenv(var, raising=False)
    for name, value in IDE_ENV.items():
        monkeypatch.setenv(name, value)
    yield folder


def place(project: Path, data_file: str, where: str) -> Path:
    text = (DATA / data_file).read_text(encoding="utf-8")
    path = project / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace("@PY@", PY).replace("@SERVERS@", str(SERVERS)), "utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----- check ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("data_file", "where"), IDES)
def test_check_accepts_each_ides_config_as_written(
    project: Path, capsys: pytest.CaptureFixture[str], data_file: str, where: str
) -> None:
    path = place(project, data_file, where)
    code, out, err = run(capsys, "check", "--config", str(path))
    assert code == 0, err
    assert "echo" in out and " ok " in out, out


def test_check_reports_an_input_without_value_naming_it_and_its_variable(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENT_GATEWAY_INPUT_ECHO_KEY")
    path = place(project, "vscode.mcp.json", ".vscode/mcp.json")
    code, out, err = run(capsys, "check", "--config", str(path))
    assert code == 1
    assert "echo" in out and "error" in out
    assert "'echo-key' (Echo API key)" in err and "AGENT_GATEWAY_INPUT_ECHO_KEY" in err, err


def test_check_warns_once_per_ide_only_key_and_still_passes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = place(project, "vscode.mcp.json", ".vscode/mcp.json")
    code, _, err = run(capsys, "check", "--config", str(path))
    assert code == 0, err
    assert "'autoApprove' is an IDE setting" in err and "'dev' is an IDE setting" in err


# ----- init --from ---------------------------------------------------------------------------


@pytest.mark.parametrize(("data_file", "where"), IDES)
def test_init_from_each_ide_writes_a_config_check_accepts_and_an_absolute_entry(
    project: Path, capsys: pytest.CaptureFixture[str], data_file: str, where: str
) -> None:
    source = place(project, data_file, where)
    config, policies = project / "gw" / ".mcp.json", project / "gw" / "policies"
    code, out, err = run(
        capsys, "init", "--from", str(source), "--config", str(config), "--policies", str(policies)
    )
    assert code == 0, err
    printed = json.loads(out[out.index("{") :])
    (entry,) = printed.get("servers", printed.get("mcpServers")).values()
    command = Path(entry["command"])
    assert command.is_absolute() and os.access(command, os.X_OK), entry
    assert entry["args"][entry["args"].index("--config") + 1] == str(config)
    written = json.loads(config.read_text())
    assert "gateway" not in written["mcpServers"]  # the gateway does not front itself
    for server in written["mcpServers"].values():
        assert not {"autoApprove", "alwaysAllow", "dev"} & set(server)
    code, out, err = run(capsys, "check", "--config", str(config), "--policies", str(policies))
    assert code == 0, err


def test_init_from_notes_the_dropped_ide_keys_once_and_keeps_descriptions(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = place(project, "vscode.mcp.json", ".vscode/mcp.json")
    data = (project / ".vscode" / "mcp.json").read_text()
    source.write_text(data.replace('"type": "stdio",', '"type": "stdio", "description": "Echo!",'))
    code, _, err = run(capsys, "init", "--from", str(source), "--config", "gw.json")
    assert code == 0, err
    notes = [line for line in err.splitlines() if "autoApprove" in line]
    assert len(notes) == 1 and "dev" in notes[0], err
    written = json.loads(Path("gw.json").read_text())
    assert written["mcpServers"]["echo"]["description"] == "Echo!"
    assert written["inputs"][0]["id"] == "echo-key"


def test_init_from_vscode_prints_an_entry_that_passes_its_inputs_to_the_gateway(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = place(project, "vscode.mcp.json", ".vscode/mcp.json")
    code, out, err = run(capsys, "init", "--from", str(source), "--config", "gw.json")
    assert code == 0, err
    printed = json.loads(out[out.index("{") :])
    assert printed["inputs"][0]["id"] == "echo-key"
    entry = printed["servers"]["gateway"]
    assert entry["type"] == "stdio"
    assert entry["env"] == {"AGENT_GATEWAY_INPUT_ECHO_KEY": "${input:echo-key}"}


# ----- serve ---------------------------------------------------------------------------------


async def serve_and_read_env(path: Path, *names: str) -> dict[str, str]:
    """Serve ``path`` as an IDE would (cwd elsewhere) and read variables the server sees."""
    env = {**passed_env(), **{k: os.environ[k] for k in IDE_ENV}, "PYTHONUNBUFFERED": "1"}
    argv = ["-m", "agent_gateway", "serve", "--config", str(path)]
    transport = StdioProcessTransport("gateway", PY, argv, env, os.getcwd())
    seen: dict[str, str] = {}
    async with Client(transport, timeout=60) as client:
        for name in names:
            args: dict[str, Any] = {"server": "echo", "tool": "env", "arguments": {"name": name}}
            result = await client.call_tool_mcp("call_tool", args)
            assert not result.is_error, result
            seen[name] = result.content[0].text  # type: ignore[union-attr]
    return seen


@pytest.mark.anyio
@pytest.mark.parametrize(("data_file", "where"), IDES)
async def test_serve_runs_each_ides_config_with_its_variables_resolved(
    project: Path, data_file: str, where: str
) -> None:
    path = place(project, data_file, where)
    seen = await serve_and_read_env(path, "GREETING")
    assert seen["GREETING"].startswith("hello from "), seen


@pytest.mark.anyio
async def test_serve_gives_a_vscode_server_its_input_env_file_and_folders(project: Path) -> None:
    path = place(project, "vscode.mcp.json", ".vscode/mcp.json")
    seen = await serve_and_read_env(path, "API_KEY", "FROM_ENV_FILE", "HOME_SEEN")
    assert seen["API_KEY"] == "k-123"
    assert seen["FROM_ENV_FILE"] == "dotenv-value"
    assert seen["HOME_SEEN"] == os.environ["HOME"]


@pytest.mark.anyio
async def test_serve_gives_a_cursor_server_its_env_and_workspace(project: Path) -> None:
    path = place(project, "cursor.mcp.json", ".cursor/mcp.json")
    seen = await serve_and_read_env(path, "GREETING", "WORKSPACE", "FROM_ENV_FILE")
    assert seen == {
        "GREETING": "hello from cursor",
        "WORKSPACE": str(project),
        "FROM_ENV_FILE": "dotenv-value",
    }
