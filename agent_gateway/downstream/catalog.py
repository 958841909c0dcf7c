"""The tool catalog on disk: each server's last tool list, kept across launches.

Entries live in the user's cache folder (``$AGENT_GATEWAY_CACHE`` overrides
it), one file per server spec, named by the spec's hash (core/catalog.py).
Writes are atomic (a temp file, then a rename). An entry that cannot be
read or parsed is ignored with a warning: the server is then started and
asked, as without a catalog.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import mcp_types

from agent_gateway.core.catalog import decode, encode, entry_key
from agent_gateway.core.config import ServerSpec
from agent_gateway.downstream.session import State

if TYPE_CHECKING:
    from agent_gateway.downstream.pinning import Source, View

logger = logging.getLogger("agent_gateway.downstream.catalog")

CACHE_ENV = "AGENT_GATEWAY_CACHE"


def default_folder() -> Path:
    """``$AGENT_GATEWAY_CACHE``, else the user's cache folder for agent-gateway."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("agent-gateway")) / "catalog"


class Catalog:
    """Reads and writes catalog entries in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_of(self, spec: ServerSpec) -> Path:
        return self.folder / f"{entry_key(spec)}.json"

    def load(self, spec: ServerSpec) -> list[mcp_types.Tool] | None:
        """The saved tools of ``spec``, or None (no entry, or one that cannot be used)."""
        path = self.path_of(spec)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning("Ignoring unreadable catalog entry %s: %s", path, exc)
            return None
        try:
            name, tools = decode(text)
            if name != spec.name:
                raise ValueError(f"it is for server {name!r}")
            return [mcp_types.Tool.model_validate(t) for t in tools]
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            logger.warning("Ignoring corrupt catalog entry %s for %r: %s", path, spec.name, exc)
            return None

    def save(self, spec: ServerSpec, tools: list[mcp_types.Tool]) -> None:
        """Replace ``spec``'s entry atomically; a failure is logged, never raised."""
        path = self.path_of(spec)
        dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".entry-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(encode(spec.name, dumped))
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            logger.warning("Could not save the catalog entry of %r in %s: %s", spec.name, path, exc)


__all__ = ["CACHE_ENV", "Catalog", "default_folder"]


class CatalogStandIn:
    """The Backend's catalog entry standing in for its live list until its first start."""

    spec: ServerSpec
    starts: int
    _catalog: Catalog | None
    _saved: list[mcp_types.Tool] | None
    _tools: dict[str, mcp_types.Tool] | None

    if TYPE_CHECKING:  # provided by Backend and PinnedTools

        @property
        def state(self) -> State: ...

        def _view(self, source: Source, *, live: bool = True) -> View: ...

    def catalog_tools(self) -> list[mcp_types.Tool] | None:
        """The catalog's list (its approved tools), while it stands in for a live one:
        never started in this process (or starting the first time). None when there is
        no entry. Once started, listing is live as without a catalog (a crashed server
        is restarted to be asked)."""
        saved = self.catalog_tools_raw()
        return None if saved is None else list(self._view(saved, live=False).tools.values())

    def catalog_tools_raw(self) -> list[mcp_types.Tool] | None:
        """The catalog's whole list (the same object each time) when it stands in."""
        if self._saved is None or self._tools is not None or self.starts:
            return None
        if self.state not in (State.IDLE, State.CONNECTING):
            return None
        return self._saved

    def _remember(self, tools: list[mcp_types.Tool]) -> None:
        """A live list was installed: it becomes the catalog entry."""
        if self._catalog is not None:
            self._catalog.save(self.spec, tools)
