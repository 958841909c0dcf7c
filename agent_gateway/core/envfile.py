"""A server's ``envFile`` (VS Code, Cursor): a dotenv file read with python-dotenv.

``parse_env_text`` is the parsing (``KEY=value`` lines, ``export``, quotes,
comments, ``${VAR}`` expansion from earlier lines and the environment);
``read_env_file`` reads the file and turns every failure into a sentence that
names the file and the next step. Keys without a value are skipped.
"""

from __future__ import annotations

import io
from pathlib import Path

from dotenv import dotenv_values

__all__ = ["EnvFileError", "parse_env_text", "read_env_file"]


class EnvFileError(ValueError):
    """The env file cannot be used; the message says why and what to do."""


def parse_env_text(text: str) -> dict[str, str]:
    values = dotenv_values(stream=io.StringIO(text))
    return {k: v for k, v in values.items() if v is not None}


def read_env_file(path: str, server: str) -> dict[str, str]:
    """The variables of ``path``, the ``envFile`` of ``server``."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise EnvFileError(
            f"envFile {path!r} of server {server!r} was not found. Create it, or fix "
            "'envFile' (a relative path starts at the config file's folder)."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"envFile {path!r} of server {server!r} cannot be read: {exc}.") from exc
    return parse_env_text(text)
