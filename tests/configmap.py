"""A ConfigMap volume as the kubelet writes it, for tests that need one without a cluster.

The kubelet's atomic writer keeps the payload in a timestamped folder and
points a ``..data`` symlink at it; every top-level entry the pod sees is a
symlink through it (``.mcp.json -> ..data/.mcp.json``,
``policies -> ..data/policies``). An update writes a new timestamped folder,
points a new ``..data_tmp`` symlink at it, renames that over ``..data`` (the
one atomic step), adds the top-level links of new entries, removes the old
folder and the links of entries that went. No file the pod sees is written
in place: only ``..data`` changes.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

DATA = "..data"
_serial = itertools.count()


def _payload_dir(volume: Path, files: Mapping[str, str]) -> str:
    name = f"..2026_12_02_10_00_00.{os.getpid()}{next(_serial):06d}"
    for rel, text in files.items():
        path = volume / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return name


def _top_level(files: Mapping[str, str]) -> set[str]:
    return {Path(rel).parts[0] for rel in files}


def write_volume(volume: Path, files: Mapping[str, str]) -> None:
    """Lay out ``volume`` (created if missing) holding ``files`` (relative path -> text)."""
    volume.mkdir(parents=True, exist_ok=True)
    name = _payload_dir(volume, files)
    os.symlink(name, volume / DATA)
    for top in _top_level(files):
        os.symlink(f"{DATA}/{top}", volume / top)


def update_volume(volume: Path, files: Mapping[str, str]) -> None:
    """Replace the whole payload of ``volume`` with ``files``, the way the kubelet does."""
    old = os.readlink(volume / DATA)
    old_top = {
        entry.name
        for entry in volume.iterdir()
        if entry.is_symlink() and os.readlink(entry).startswith(f"{DATA}/")
    }
    name = _payload_dir(volume, files)
    os.symlink(name, volume / f"{DATA}_tmp")
    os.rename(volume / f"{DATA}_tmp", volume / DATA)
    new_top = _top_level(files)
    for top in new_top - old_top:
        os.symlink(f"{DATA}/{top}", volume / top)
    shutil.rmtree(volume / old)
    for top in old_top - new_top:
        (volume / top).unlink()
