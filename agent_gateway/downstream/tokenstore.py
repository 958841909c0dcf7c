"""Where OAuth logins live: one file per server in the user's state folder.

``<state>/oauth/<server>.json`` (platformdirs' user state folder, so
``$XDG_STATE_HOME/agent-gateway/oauth`` on Linux), mode 0600 in a 0700
folder, always written whole (a temporary file, then a rename), so a reader
(the running gateway) never sees half a file. The file records the server's
URL: a login for another URL (the config changed) counts as no login.

``FileKeyValue`` presents one such file as the key-value store fastmcp's
``OAuth`` client keeps its tokens and client registration in. Every token and
client secret it reads or writes is added to the process's redactor, so none
reaches a log line, an error or a status.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, SupportsFloat

from agent_gateway.logs import REDACTOR

SECRET_FIELDS = ("access_token", "refresh_token", "client_secret", "id_token")
TOKENS = "mcp-oauth-token"  # fastmcp's collection names (TokenStorageAdapter)
CLIENT = "mcp-oauth-client-info"
EXPIRY = "mcp-oauth-token-expiry"

Stamp = tuple[int, int, int]


def state_dir() -> Path:
    """The folder of the login files."""
    from platformdirs import user_state_dir

    return Path(user_state_dir("agent-gateway")) / "oauth"


class TokenFile:
    """One server's login file (``path=None``: kept in memory, for a login in progress)."""

    def __init__(self, server: str, url: str, path: Path | None) -> None:
        self.server = server
        self.url = url
        self.path = path
        self._memory: dict[str, Any] = {}
        self.seen: Stamp | None = None  # the stamp of what this object last read or wrote

    @classmethod
    def of(cls, server: str, url: str) -> TokenFile:
        """The login file of ``server`` in the state folder."""
        return cls(server, url, state_dir() / f"{server}.json")

    def read(self) -> dict[str, Any]:
        """The stored collections (``{collection: {key: {"value", "expires_at"}}}``)."""
        if self.path is None:
            return self._memory
        self.seen = self.stamp()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("url") != self.url:
            return {}
        entries = data.get("entries")
        if not isinstance(entries, dict):
            return {}
        REDACTOR.add(_secret_values(entries))
        return entries

    def write(self, entries: dict[str, Any]) -> None:
        """Replace the stored collections, atomically, readable only by the user."""
        REDACTOR.add(_secret_values(entries))
        if self.path is None:
            self._memory = entries
            return
        write_private(self.path, {"server": self.server, "url": self.url, "entries": entries})
        self.seen = self.stamp()

    def delete(self) -> bool:
        """Forget the login; True when there was a file."""
        if self.path is None:
            had, self._memory = bool(self._memory), {}
            return had
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def stamp(self) -> Stamp | None:
        """Changes whenever the file is written (None: no file)."""
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def changed(self) -> bool:
        """Written by someone else (a new ``login``) since this object last read or wrote it?"""
        return self.path is not None and self.stamp() != self.seen

    def tokens(self) -> dict[str, Any] | None:
        """The stored token response, if any."""
        return _value(self.read(), TOKENS)

    def client(self) -> dict[str, Any] | None:
        """The stored client registration, if any."""
        return _value(self.read(), CLIENT)

    def expires_at(self) -> float | None:
        found = _value(self.read(), EXPIRY)
        value = found.get("expires_at") if found else None
        return float(value) if isinstance(value, int | float) else None


def write_private(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a temporary file and a rename; mode 0600, folder 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _value(entries: Mapping[str, Any], collection: str) -> dict[str, Any] | None:
    items = entries.get(collection)
    if not isinstance(items, dict):
        return None
    for item in items.values():
        if isinstance(item, dict) and isinstance(item.get("value"), dict):
            return dict(item["value"])
    return None


def _secret_values(entries: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for items in entries.values():
        for item in items.values() if isinstance(items, dict) else ():
            value = item.get("value") if isinstance(item, dict) else None
            for name in SECRET_FIELDS:
                secret = value.get(name) if isinstance(value, dict) else None
                if isinstance(secret, str) and secret:
                    found.add(secret)
    return found


class FileKeyValue:
    """fastmcp's ``AsyncKeyValue`` over one ``TokenFile``.

    ``keep_client``: writes of the client registration are ignored (the serving
    gateway never registers a client; only ``agent-gateway login`` does).
    """

    def __init__(self, file: TokenFile, *, keep_client: bool = False) -> None:
        self.file = file
        self._keep_client = keep_client

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        return (await self.ttl(key, collection=collection))[0]

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        item = self.file.read().get(collection or "", {}).get(key)
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            return None, None
        expires_at = item.get("expires_at")
        if isinstance(expires_at, int | float):
            left = expires_at - time.time()
            return (dict(item["value"]), left) if left > 0 else (None, None)
        return dict(item["value"]), None

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        if self._keep_client and collection == CLIENT:
            return
        entries = dict(self.file.read())
        items = dict(entries.get(collection or "", {}))
        expires_at = None if ttl is None else time.time() + float(ttl)
        items[key] = {"value": dict(value), "expires_at": expires_at}
        entries[collection or ""] = items
        self.file.write(entries)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        if self._keep_client and collection == CLIENT:
            return False
        entries = dict(self.file.read())
        items = dict(entries.get(collection or "", {}))
        if items.pop(key, None) is None:
            return False
        entries[collection or ""] = items
        self.file.write(entries)
        return True

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        return [await self.get(k, collection=collection) for k in keys]

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        return [await self.ttl(k, collection=collection) for k in keys]

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        for key, value in zip(keys, values, strict=True):
            await self.put(key, value, collection=collection, ttl=ttl)

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        return sum([await self.delete(k, collection=collection) for k in keys])


__all__ = ["FileKeyValue", "TokenFile", "state_dir", "write_private"]
