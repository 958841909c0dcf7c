"""A stdio server's environment, certificate hints and how a dead process is described."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import PY

from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.errors import BackendStartError
from agent_gateway.core.hints import certificate_hint
from agent_gateway.downstream.backend import Backend
from agent_gateway.downstream.childenv import child_environment
from agent_gateway.downstream.procgroup import describe_exit

pytestmark = pytest.mark.anyio

GATEWAY_ENV = {
    "HOME": "/home/ann",
    "PATH": "/usr/bin",
    "USER": "ann",
    "SSL_CERT_FILE": "/etc/ca.pem",
    "SSL_CERT_DIR": "/etc/certs",
    "REQUESTS_CA_BUNDLE": "/etc/ca.pem",
    "NODE_EXTRA_CA_CERTS": "/etc/ca.pem",
    "HTTPS_PROXY": "http://proxy:3128",
    "https_proxy": "http://proxy:3128",
    "HTTP_PROXY": "http://proxy:3128",
    "no_proxy": "localhost",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TMPDIR": "/tmp/ann",
    "XDG_CACHE_HOME": "/home/ann/.cache",
    "AWS_SECRET_ACCESS_KEY": "s3cr3t",
    "GITHUB_TOKEN": "ghp_x",
    "BASH_FUNC_x%%": "() { evil; }",
    "SHELL": "() { evil; }",
}

# (variable, passed without inheritEnv)
PASSED = [
    ("HOME", True),
    ("PATH", True),
    ("USER", True),
    ("SSL_CERT_FILE", True),
    ("SSL_CERT_DIR", True),
    ("REQUESTS_CA_BUNDLE", True),
    ("NODE_EXTRA_CA_CERTS", True),
    ("HTTPS_PROXY", True),
    ("https_proxy", True),
    ("HTTP_PROXY", True),
    ("no_proxy", True),
    ("LANG", True),
    ("LC_ALL", True),
    ("TMPDIR", True),
    ("XDG_CACHE_HOME", True),
    ("AWS_SECRET_ACCESS_KEY", False),
    ("GITHUB_TOKEN", False),
    ("BASH_FUNC_x%%", False),
    ("SHELL", False),  # a shell function value is never passed by default (the SDK's rule)
]


@pytest.mark.parametrize(("name", "passed"), PASSED)
def test_only_the_safe_network_and_locale_variables_are_passed_by_default(
    name: str, passed: bool
) -> None:
    env = child_environment(GATEWAY_ENV, inherit=False, configured={})
    assert (name in env) is passed
    if passed:
        assert env[name] == GATEWAY_ENV[name]


def test_inherit_env_passes_the_whole_environment_and_configured_values_win() -> None:
    env = child_environment(GATEWAY_ENV, inherit=True, configured={"GITHUB_TOKEN": "mine"})
    assert env == {**GATEWAY_ENV, "GITHUB_TOKEN": "mine"}


def test_configured_values_come_last() -> None:
    env = child_environment(GATEWAY_ENV, inherit=False, configured={"LANG": "de_DE.UTF-8"})
    assert env["LANG"] == "de_DE.UTF-8"


# (stderr or error text, a hint is given)
CERT_TEXTS = [
    ("error: invalid peer certificate: UnknownIssuer", True),
    ("ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify", True),
    ("Error: self signed certificate in certificate chain", True),
    ("Error: self-signed certificate in certificate chain", True),
    ("unable to get local issuer certificate", True),
    ("fatal: missing API key", False),
]


@pytest.mark.parametrize(("text", "hinted"), CERT_TEXTS)
def test_a_certificate_failure_names_the_variables_to_pass(text: str, hinted: bool) -> None:
    hint = certificate_hint(text)
    assert (hint is not None) is hinted
    if hint is not None:
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "inheritEnv"):
            assert name in hint


@pytest.mark.parametrize(
    ("code", "described"),
    [
        (0, "exited with code 0"),
        (3, "exited with code 3"),
        (-signal.SIGKILL, "was killed by SIGKILL"),
        (-signal.SIGTERM, "was killed by SIGTERM"),
        (None, "exited"),
    ],
)
def test_an_exit_is_described_by_its_code_or_its_signal(code: int | None, described: str) -> None:
    assert describe_exit(code) == described


def script_server(tmp_path: Path, body: str, **extra: Any) -> Backend:
    script = tmp_path / "server.py"
    script.write_text(body)
    data = {"mcpServers": {"s": {"command": PY, "args": [str(script)], **extra}}}
    path = tmp_path / ".mcp.json"
    path.write_text(json.dumps(data))
    return Backend(GatewayConfig.from_file(path).servers["s"])


async def start_error(backend: Backend) -> str:
    try:
        with pytest.raises(BackendStartError) as info:
            await backend.list_tools()
    finally:
        await backend.close()
    return str(info.value)


DUMP_ENV = "import json, os, sys\njson.dump(dict(os.environ), open(sys.argv[1], 'w'))\n"


async def test_a_stdio_server_gets_the_safe_set_then_the_env_file_then_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/corp-ca.pem")
    monkeypatch.setenv("LC_TIME", "C")
    monkeypatch.setenv("SECRET_OF_THE_GATEWAY", "nope")
    (tmp_path / ".env").write_text("FROM_FILE=1\nBOTH=file\n")
    out = tmp_path / "env.json"
    body = f"import sys\nsys.argv.append({str(out)!r})\n{DUMP_ENV}"
    backend = script_server(tmp_path, body, envFile=".env", env={"BOTH": "env"})
    await start_error(backend)
    seen = json.loads(out.read_text())
    assert seen["SSL_CERT_FILE"] == "/etc/corp-ca.pem" and seen["LC_TIME"] == "C"
    assert seen["FROM_FILE"] == "1" and seen["BOTH"] == "env"
    assert "SECRET_OF_THE_GATEWAY" not in seen


async def test_inherit_env_gives_a_stdio_server_the_whole_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_OF_THE_GATEWAY", "yes")
    out = tmp_path / "env.json"
    body = f"import sys\nsys.argv.append({str(out)!r})\n{DUMP_ENV}"
    await start_error(script_server(tmp_path, body, inheritEnv=True))
    assert json.loads(out.read_text())["SECRET_OF_THE_GATEWAY"] == "yes"


async def test_a_start_failing_on_a_certificate_says_which_variables_to_pass(
    tmp_path: Path,
) -> None:
    body = (
        "import sys\nsys.stderr.write('error: invalid peer certificate: UnknownIssuer\\n')\n"
        "sys.exit(1)\n"
    )
    message = await start_error(script_server(tmp_path, body))
    assert "exited with code 1" in message
    assert "SSL_CERT_FILE" in message and "inheritEnv" in message


async def test_a_server_killed_by_a_signal_is_described_by_the_signal(tmp_path: Path) -> None:
    body = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    message = await start_error(script_server(tmp_path, body))
    assert "killed by SIGKILL" in message and "code -9" not in message
