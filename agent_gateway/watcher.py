"""Hot reload: watch the config file, the policies folder and the pins, apply what changed.

watchfiles watches the DIRECTORIES that hold ``.mcp.json`` and ``policies/``
(editors save by writing a temp file and renaming it, which a watch on the
file itself stops seeing), filtered by name, batching quick successive saves.
Every batch re-reads the files, so a burst of edits converges on the last
one. An invalid file keeps everything running as it was; the attempt is
recorded for ``gateway_status``. The pins (``.agent-gateway/pins.json`` next
to the config) are read again when they change: an approval made with
``agent-gateway pins approve`` applies without a restart.

A Kubernetes ConfigMap (or Secret) volume is updated without touching the
files a pod sees: they are symlinks through ``..data``, and the kubelet
renames a new ``..data`` symlink over the old one, then deletes the folder
the old one pointed at. So a change of ``..data`` in a watched folder counts
as a change of everything that lives under that folder, and restarts the
watch: folders watched through the old link (``policies/`` as a symlink,
``.agent-gateway/``) are gone.

A restarted watch (a folder appeared or went, or a swap) catches up once it is
armed: it re-reads the files whose content differs from what their last
reload read, and records a reload only if that changed something.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.errors import ConfigError, PolicyError
from agent_gateway.core.policy import PolicySet
from agent_gateway.front.gateway import Gateway
from agent_gateway.front.reloads import Reload, ReloadError
from agent_gateway.logs import remember_config

logger = logging.getLogger("agent_gateway.watcher")

STEP_MS = 20
DEBOUNCE_MS = 400
IDLE_MS = 1000  # an idle watch wakes this often (a re-armed one catches up on its first)
SWAP_LINK = "..data"  # the symlink a ConfigMap volume update renames into place


class Reloader:
    """Validates and applies config and policy changes for one Gateway."""

    def __init__(self, gateway: Gateway, config_path: str, policies_path: str) -> None:
        self.gateway = gateway
        self.config_path = Path(os.path.abspath(config_path))
        self.policies_path = Path(os.path.abspath(policies_path))
        pins = gateway.manager.pins
        self.pins_path = None if pins is None else Path(os.path.abspath(pins.path))
        self._lock = asyncio.Lock()
        self._seen: dict[str, object] = {}  # what the last reload of each file read
        self.watching = False  # the watch loop runs: file changes will be seen (readiness)

    # ----- apply -----------------------------------------------------------------------

    def reload_config(self, *, quiet: bool = False) -> Reload | None:
        """Read the config again and apply the diff. ``quiet``: record nothing if nothing
        changed (a catch-up that found the file as it was)."""
        manager = self.gateway.manager
        self._seen["config"] = _config_print(self.config_path)
        try:
            new = GatewayConfig.from_file(self.config_path)
        except ConfigError as exc:
            logger.error("Config reload rejected, keeping the running config: %s", exc)
            return self._record(str(self.config_path), False, {}, [ReloadError.of_config(exc)])
        remember_config(new)  # its new secrets are redacted before anything mentions them
        change = manager.apply(new)
        if quiet and change.empty:
            return None
        for warning in new.warnings:
            logger.warning("%s: %s", self.config_path, warning)
        summary = {k: list(v) for k, v in change.summary().items()}
        if not change.empty:
            logger.info("Config reloaded: %s", _describe(summary))
        return self._record(str(self.config_path), True, summary, [])

    def reload_policies(self, *, quiet: bool = False) -> Reload | None:
        current = self.gateway.policies
        self._seen["policies"] = _policies_print(self.policies_path)
        if not self.policies_path.is_dir() and (current.open_mode or current.absent):
            return None  # still no folder: open mode (or, with --agent, nothing) goes on
        folder = str(self.policies_path)
        new, problems = None, []
        if not self.policies_path.is_dir():
            msg = (
                "the policies folder was deleted; keeping the last policies. "
                "Recreate it to change access."
            )
            problems = [PolicyError(msg, path=folder)]
        else:
            new, problems = PolicySet.check_dir(folder, explicit=True)
        if problems or new is None:
            for exc in problems:
                logger.error("Policy reload rejected, keeping the running policies: %s", exc)
            errors = [ReloadError.of_policy(exc, self.policies_path) for exc in problems]
            return self._record(folder, False, {}, errors)
        changed = _changed_agents(current, new)
        self.gateway.policies = new
        if quiet and not changed and not current.open_mode:
            return None
        if current.open_mode:
            logger.info("A policies folder appeared at %s: open mode ends.", self.policies_path)
        elif changed:
            logger.info("Policies reloaded: agents changed: %s", ", ".join(changed))
        return self._record(folder, True, {"agents": changed}, [])

    def reload_pins(self) -> Reload | None:
        pins = self.gateway.manager.pins
        if pins is None:
            return None
        try:
            changed = pins.reload()
        except ValueError as exc:
            logger.error("Pins reload rejected, keeping the running pins: %s", exc)
            # Its text may name any server (a JSON path): shown to who sees them all.
            error = ReloadError(str(exc), servers=tuple(sorted(self.gateway.manager.names())))
            return self._record(str(pins.path), False, {}, [error])
        if not changed:
            return None  # e.g. the gateway's own first-sight record
        logger.info("Pins reloaded: servers changed: %s", ", ".join(changed))
        return self._record(str(pins.path), True, {"pinned": changed}, [])

    def _record(
        self, file: str, ok: bool, changes: dict[str, list[str]], errors: list[ReloadError]
    ) -> Reload:
        record = Reload(time.time(), file, ok, changes, errors)
        self.gateway.reloads.append(record)
        kind = {str(self.config_path): "config", str(self.policies_path): "policies"}
        self.gateway.metrics.reloaded(kind.get(file, "pins"), ok)
        return record

    async def reload(
        self, *, config: bool = True, policies: bool = True, pins: bool = True
    ) -> None:
        async with self._lock:
            # Policies first: a new server must not appear under the old rules.
            if policies:
                self.reload_policies()
            if pins:
                self.reload_pins()
            if config:
                self.reload_config()
            self.gateway.notify_changed()

    async def catch_up(self) -> None:
        """Re-read whatever may have changed while the watch was re-armed, unseen: a file
        read as it was at its last reload is skipped, and an unchanged one records nothing."""
        async with self._lock:
            if self._seen.get("policies", _UNREAD) != _policies_print(self.policies_path):
                self.reload_policies(quiet=True)
            self.reload_pins()  # a pure diff already: quiet when nothing changed
            if self._seen.get("config", _UNREAD) != _config_print(self.config_path):
                self.reload_config(quiet=True)
            self.gateway.notify_changed()

    # ----- watch -----------------------------------------------------------------------

    def _watch_paths(self) -> list[str]:
        paths = {self.config_path.parent, self.policies_path.parent}
        if self.policies_path.is_dir():
            paths.add(self.policies_path)
        if self.pins_path is not None:
            paths.add(self.pins_path.parent)  # .agent-gateway/, once it exists
        return sorted(str(p) for p in paths if p.is_dir())

    def _classify(self, path: str) -> tuple[bool, bool, bool]:
        p = Path(path)
        if p.name == SWAP_LINK:
            return self._swapped(p.parent)
        is_config = p == self.config_path
        is_policy = p == self.policies_path or (
            p.parent == self.policies_path
            and p.suffix in (".toml", ".json")
            and not p.name.startswith(".")
        )
        is_pins = self.pins_path is not None and p in (self.pins_path, self.pins_path.parent)
        return is_config, is_policy, is_pins

    def _swapped(self, folder: Path) -> tuple[bool, bool, bool]:
        """What lives under ``folder``, whose ``..data`` link was swapped (a ConfigMap update)."""
        is_config = self.config_path.parent == folder
        is_policy = folder in (self.policies_path, self.policies_path.parent)
        is_pins = self.pins_path is not None and folder in (
            self.pins_path.parent,
            self.pins_path.parent.parent,
        )
        return is_config, is_policy, is_pins

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop`` is set. Restarts the watch when a watched folder appears
        (``policies/``, ``.agent-gateway/``) or goes."""
        try:
            await self._watch(stop)
        finally:
            self.watching = False

    async def _watch(self, stop: asyncio.Event) -> None:
        from watchfiles import awatch

        catch_up = False  # a re-armed watch reads what changed while it was not watching
        while not stop.is_set():
            paths = self._watch_paths()
            logger.debug("Watching %s", ", ".join(paths))
            # awatch sets up its watches in its first step, before it waits for a change.
            self.watching = True
            try:
                async for batch in awatch(
                    *paths,
                    watch_filter=lambda _c, p: any(self._classify(p)),
                    step=STEP_MS,
                    debounce=DEBOUNCE_MS,
                    stop_event=stop,
                    rust_timeout=IDLE_MS,
                    yield_on_timeout=True,  # an empty batch: the (new) watch is armed
                    recursive=False,
                    ignore_permission_denied=True,
                ):
                    kinds = [self._classify(p) for _, p in batch]
                    if kinds:
                        await self.reload(
                            config=any(k[0] for k in kinds),
                            policies=any(k[1] for k in kinds),
                            pins=any(k[2] for k in kinds),
                        )
                    if catch_up:  # armed now, so nothing saved from here on is missed
                        catch_up = False
                        await self.catch_up()
                    swapped = any(Path(p).name == SWAP_LINK for _, p in batch)
                    if swapped or (kinds and self._watch_paths() != paths):
                        # Watch the new folders (the ones behind the new ..data too),
                        # then catch up on edits made in the gap (config, policies, pins).
                        catch_up = True
                        break
            except Exception:  # the watcher must survive anything; log and go on
                logger.exception("The file watcher failed; restarting it")
                await asyncio.sleep(0.5)


_UNREAD = object()  # no reload read this file yet


def _config_print(path: Path) -> object:
    """What the config file holds now (None: unreadable), to tell whether it changed."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _policies_print(folder: Path) -> object:
    """The policy files' names and contents now (None: no folder)."""
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix in (".toml", ".json"))
        return tuple((p.name, p.read_bytes()) for p in files if not p.name.startswith("."))
    except OSError:
        return None


def _changed_agents(old: PolicySet, new: PolicySet) -> list[str]:
    names = set(old.agents) | set(new.agents)
    return sorted(n for n in names if old.agents.get(n) != new.agents.get(n))


def _describe(summary: dict[str, list[str]]) -> str:
    return "; ".join(f"{k} {', '.join(v)}" for k, v in summary.items() if v) or "no changes"
