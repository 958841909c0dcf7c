"""Variables in a server entry: ``${VAR}``, ``${VAR:-default}`` and the IDE forms.

Pure: the environment, the workspace folder and the home folder are passed
in. The IDE forms are those VS Code and Cursor write:

- ``${env:VAR}``: the environment variable VAR (unset: the server fails, as
  for ``${VAR}``);
- ``${workspaceFolder}`` (and ``${workspaceFolderBasename}``): the folder of
  the config file, or its parent when that folder is ``.vscode`` or
  ``.cursor`` (where those IDEs keep their ``mcp.json``);
- ``${userHome}``: ``$HOME``; ``${pathSeparator}`` and ``${/}``: ``/``;
- ``${input:ID}`` (VS Code prompts the user for these; the gateway cannot):
  the environment variable :func:`input_variable` names,
  ``AGENT_GATEWAY_INPUT_<ID>`` with ID upper-cased and every character other
  than a letter or digit turned into ``_``.

Anything the gateway cannot resolve (an unset variable, an input without a
value, ``${command:...}``) is collected in :class:`Unresolved`, whose
message names the server and the next step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "INPUT_PREFIX",
    "Unresolved",
    "Variables",
    "input_variable",
    "substitute",
    "workspace_folder",
]

INPUT_PREFIX = "AGENT_GATEWAY_INPUT_"
_REF_RE = re.compile(r"\$\{([^{}]*)\}")
_PLAIN_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)
_PREFIXED_RE = re.compile(r"(env|input|config|command|workspaceFolder|extensionInstallFolder):(.*)")
_IDE_FOLDERS = (".vscode", ".cursor")


def input_variable(input_id: str) -> str:
    """The environment variable that provides ``${input:input_id}``."""
    return INPUT_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", input_id).upper()


def workspace_folder(config_dir: str) -> str:
    """``${workspaceFolder}`` for a config in ``config_dir`` (absolute)."""
    if os.path.basename(config_dir) in _IDE_FOLDERS:
        return os.path.dirname(config_dir)
    return config_dir


@dataclass
class Unresolved:
    """What one server's entry refers to and the gateway could not resolve."""

    variables: list[str] = field(default_factory=list)  # unset environment variables
    inputs: list[str] = field(default_factory=list)  # ${input:ID} without a value
    unsupported: list[str] = field(default_factory=list)  # e.g. "${command:pick}"

    def __bool__(self) -> bool:
        return bool(self.variables or self.inputs or self.unsupported)

    def message(self, server: str, descriptions: Mapping[str, str] | None = None) -> str:
        """One or more sentences naming ``server``, what is missing and how to provide it."""
        parts: list[str] = []
        if self.variables:
            names = ", ".join(f"${{{v}}}" for v in self.variables)
            parts.append(
                f"environment variable {names} used by server {server!r} is not set. "
                "Set it, or write ${VAR:-default} in the config."
            )
        for input_id in self.inputs:
            about = (descriptions or {}).get(input_id)
            label = f"{input_id!r} ({about})" if about else repr(input_id)
            parts.append(
                f"input {label} used by server {server!r} has no value: the gateway cannot "
                f"prompt for it. Set {input_variable(input_id)} in the gateway's environment "
                '(for example in the "env" of the gateway\'s IDE entry).'
            )
        if self.unsupported:
            names = ", ".join(self.unsupported)
            parts.append(
                f"{names} used by server {server!r} cannot be resolved by the gateway. "
                "Replace it with a value or an ${env:VAR} reference."
            )
        return " ".join(parts)


@dataclass(frozen=True)
class Variables:
    """Everything a ``${...}`` reference may resolve to."""

    environ: Mapping[str, str]
    workspace: str | None = None  # the workspace folder; None when there is no file
    home: str | None = None

    @classmethod
    def of(cls, environ: Mapping[str, str], config_dir: str | None = None) -> Variables:
        home = environ.get("HOME") or environ.get("USERPROFILE")
        workspace = workspace_folder(config_dir) if config_dir is not None else None
        return cls(environ=environ, workspace=workspace, home=home)

    def substitute(self, text: str, unresolved: Unresolved) -> str:
        """``text`` with every reference replaced; what is missing goes to ``unresolved``."""
        return _REF_RE.sub(lambda m: self._resolve(m.group(0), m.group(1), unresolved), text)

    def _resolve(self, whole: str, body: str, unresolved: Unresolved) -> str:
        named = self._named(body)
        if named is not None:
            return named
        if named is None and body in ("workspaceFolder", "workspaceFolderBasename", "userHome"):
            _add(unresolved.unsupported, whole)
            return ""
        plain = _PLAIN_RE.fullmatch(body)
        if plain is not None:
            return self._variable(plain.group(1), plain.group(2), unresolved)
        prefixed = _PREFIXED_RE.fullmatch(body)
        if prefixed is None:
            return whole  # not a reference we know of: left as written
        kind, rest = prefixed.groups()
        if kind == "env" and _PLAIN_RE.fullmatch(rest):
            return self._variable(rest, None, unresolved)
        if kind == "input" and rest:
            value = self.environ.get(input_variable(rest))
            if value is None:
                _add(unresolved.inputs, rest)
                return ""
            return value
        _add(unresolved.unsupported, whole)
        return ""

    def _named(self, body: str) -> str | None:
        if body == "workspaceFolder":
            return self.workspace
        if body == "workspaceFolderBasename":
            return None if self.workspace is None else os.path.basename(self.workspace)
        if body == "userHome":
            return self.home
        if body in ("pathSeparator", "/"):
            return "/"
        return None

    def _variable(self, name: str, default: str | None, unresolved: Unresolved) -> str:
        value = self.environ.get(name)
        if value is not None and (value != "" or default is None):
            return value
        if default is not None:
            return default
        _add(unresolved.variables, name)
        return ""


def _add(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)


def substitute(text: str, env: Mapping[str, str], missing: list[str]) -> str:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``${env:VAR}``; unset names go to ``missing``.

    The IDE folder forms need a config file: see :meth:`Variables.substitute`.
    """
    unresolved = Unresolved(variables=missing)
    return Variables(environ=env).substitute(text, unresolved)
