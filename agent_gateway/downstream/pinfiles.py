"""Reading and writing ``.agent-gateway/pins.json`` and ``pending.json`` next to the config.

Writes are atomic (a temp file in the same folder, then a rename), and every
change is a read-modify-write of the file as it is on disk now, so a person
approving with the CLI and a gateway recording a first sight (or several
gateways sharing one config) only ever replace the entries they change.
The formats and their checks are pure (core/pins.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from agent_gateway.core.config import config_dir
from agent_gateway.core.pins import PendingFile, PinsFile, dump, parse_pending, parse_pins

FOLDER = ".agent-gateway"
PINS = "pins.json"
PENDING = "pending.json"

M = TypeVar("M", PinsFile, PendingFile)


def pins_path(config_path: str) -> Path:
    """``.agent-gateway/pins.json`` in the config file's folder."""
    return Path(config_dir(config_path)) / FOLDER / PINS


def pending_path(config_path: str) -> Path:
    return Path(config_dir(config_path)) / FOLDER / PENDING


def _read(path: Path, parse: Callable[[str], M]) -> M:
    """``parse`` of the file's text ("" when there is no file); ValueError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the file: {exc}") from exc
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def read_pins(path: Path) -> PinsFile:
    """The pins on disk (none when there is no file); ValueError naming the file."""
    return _read(path, parse_pins)


def read_pending(path: Path) -> PendingFile:
    """The held definitions on disk (none when there is no file)."""
    return _read(path, parse_pending)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _update(path: Path, read: Callable[[Path], M], change: Callable[[M], M]) -> M:
    current = read(path)
    new = change(current)
    if new != current:
        write_atomic(path, dump(new))
    return new


def update_pins(path: Path, change: Callable[[PinsFile], PinsFile]) -> PinsFile:
    """Read the pins on disk, apply ``change``, write the result if it differs; return it."""
    return _update(path, read_pins, change)


def update_pending(path: Path, change: Callable[[PendingFile], PendingFile]) -> PendingFile:
    """Like :func:`update_pins`; an unreadable pending file is started afresh (the
    gateway writes it again from what it holds)."""

    def tolerant(p: Path) -> PendingFile:
        try:
            return read_pending(p)
        except ValueError:
            return PendingFile()

    return _update(path, tolerant, change)


__all__ = [
    "FOLDER",
    "pending_path",
    "pins_path",
    "read_pending",
    "read_pins",
    "update_pending",
    "update_pins",
    "write_atomic",
]
