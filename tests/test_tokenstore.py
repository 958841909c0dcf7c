"""Login files: one per server, 0600 in a 0700 folder, written whole, bound to the URL."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agent_gateway.downstream.tokenstore import (
    CLIENT,
    EXPIRY,
    TOKENS,
    FileKeyValue,
    TokenFile,
    state_dir,
)
from agent_gateway.logs import redact

pytestmark = pytest.mark.anyio

URL = "https://mcp.example.com/mcp"
TOKEN = {"access_token": "at-0123456789abcdef", "refresh_token": "rt-0123456789abcdef"}


def test_the_login_files_live_in_the_user_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "agent-gateway" / "oauth"
    assert TokenFile.of("github", URL).path == tmp_path / "agent-gateway" / "oauth" / "github.json"


async def test_a_stored_token_is_private_and_read_back(tmp_path: Path) -> None:
    file = TokenFile("s", URL, tmp_path / "oauth" / "s.json")
    store = FileKeyValue(file)
    await store.put(f"{URL}/tokens", TOKEN, collection=TOKENS, ttl=3600)
    await store.put(f"{URL}/token_expiry", {"expires_at": 123.0}, collection=EXPIRY)
    assert file.path is not None
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.path.parent.stat().st_mode) == 0o700
    assert [p.name for p in file.path.parent.iterdir()] == ["s.json"]  # no temporary file left
    assert await store.get(f"{URL}/tokens", collection=TOKENS) == TOKEN
    assert file.tokens() == TOKEN and file.expires_at() == 123.0


async def test_stored_tokens_are_redacted_from_every_output_from_then_on(tmp_path: Path) -> None:
    store = FileKeyValue(TokenFile("s", URL, tmp_path / "s.json"))
    await store.put("k", TOKEN, collection=TOKENS)
    assert TOKEN["access_token"] not in redact(f"sent Bearer {TOKEN['access_token']}")
    assert TOKEN["refresh_token"] not in redact(f"refresh={TOKEN['refresh_token']}")


async def test_a_login_for_another_url_counts_as_none(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    await FileKeyValue(TokenFile("s", URL, path)).put("k", TOKEN, collection=TOKENS)
    assert TokenFile("s", "https://elsewhere.example.com/mcp", path).tokens() is None
    assert TokenFile("s", URL, path).tokens() == TOKEN


async def test_an_unreadable_or_foreign_file_is_no_login(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{not json")
    assert TokenFile("s", URL, path).tokens() is None
    path.write_text('["a list"]')
    assert TokenFile("s", URL, path).tokens() is None


async def test_the_serving_gateway_never_stores_a_client_registration(tmp_path: Path) -> None:
    file = TokenFile("s", URL, tmp_path / "s.json")
    await FileKeyValue(file).put("c", {"client_id": "from-login"}, collection=CLIENT)
    serving = FileKeyValue(file, keep_client=True)
    await serving.put("c", {"client_id": "registered-while-serving"}, collection=CLIENT)
    assert not await serving.delete("c", collection=CLIENT)
    assert await serving.get("c", collection=CLIENT) == {"client_id": "from-login"}


async def test_an_expired_entry_reads_as_missing(tmp_path: Path) -> None:
    store = FileKeyValue(TokenFile("s", URL, tmp_path / "s.json"))
    await store.put("c", {"client_id": "x"}, collection=CLIENT, ttl=-1)
    assert await store.get("c", collection=CLIENT) is None
    await store.put_many(["a", "b"], [{"n": 1}, {"n": 2}], collection=CLIENT)
    assert await store.get_many(["a", "b", "z"], collection=CLIENT) == [{"n": 1}, {"n": 2}, None]
    assert await store.delete_many(["a", "z"], collection=CLIENT) == 1


async def test_the_stamp_changes_with_every_write_and_a_logout_deletes(tmp_path: Path) -> None:
    file = TokenFile("s", URL, tmp_path / "s.json")
    assert file.stamp() is None and not file.delete()
    file.write({TOKENS: {"k": {"value": TOKEN, "expires_at": None}}})
    first = file.stamp()
    file.write({TOKENS: {"k": {"value": {**TOKEN, "access_token": "at-2"}, "expires_at": None}}})
    assert first is not None and file.stamp() != first
    assert file.delete() and file.stamp() is None and file.tokens() is None


def test_a_login_in_progress_stays_in_memory() -> None:
    file = TokenFile("s", URL, None)
    file.write({TOKENS: {"k": {"value": TOKEN, "expires_at": None}}})
    assert file.tokens() == TOKEN and file.stamp() is None
    assert file.delete() and file.tokens() is None
