"""Pure: a ``call_tool``'s arguments, read and checked against the tool's input schema.

:func:`parse_arguments` takes the object, or the object as a JSON string (models
often send that). :func:`check_arguments` validates them with ``jsonschema``
before the call; a schema it cannot apply checks nothing (the downstream still
has its own say). Both raise :class:`InvalidArgumentsError` whose text names
the failing fields and shows the tool's signature and input schema, so the
caller can retry at once. :func:`argument_help` is that help alone, for a
downstream's own argument error.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent_gateway.core.errors import InvalidArgumentsError
from agent_gateway.core.signature import signature

PROBLEMS_SHOWN = 5
PROBLEM_MAX = 200
SCHEMA_SHOWN_MAX = 1500
# A downstream's isError text that is about the arguments (pydantic, the SDKs, jsonschema).
_ABOUT_ARGUMENTS = re.compile(
    r"validation error|invalid (?:arguments|params|input)|input validation"
    r"|missing required|required (?:argument|property|parameter)|unexpected keyword argument",
    re.IGNORECASE,
)


def parse_arguments(arguments: dict[str, Any] | str | None) -> dict[str, Any]:
    """The arguments as an object: ``None`` is ``{}``; a string must hold a JSON object."""
    if arguments is None:
        return {}
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = json.loads(arguments)
    except ValueError as exc:
        raise InvalidArgumentsError(_not_an_object(f"not valid JSON ({exc})")) from exc
    if not isinstance(parsed, dict):
        raise InvalidArgumentsError(_not_an_object(f"JSON {type(parsed).__name__}, not an object"))
    return parsed


def _not_an_object(what: str) -> str:
    return (
        f"arguments is a string that is {what}. Pass an object, or a JSON object as a "
        'string, e.g. {"text": "hi"}.'
    )


def problems(schema: Any, arguments: dict[str, Any]) -> list[str]:
    """What is wrong with ``arguments`` under ``schema``, by field; [] if nothing or unknown."""
    if not isinstance(schema, dict) or not schema:
        return []
    import jsonschema  # here: its import takes a while, and only calls need it

    try:
        validator = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
        errors = sorted(
            validator(schema).iter_errors(arguments), key=lambda e: [str(p) for p in e.path]
        )
    except Exception:  # noqa: BLE001 - a schema that cannot be applied checks nothing
        return []
    found = []
    for error in errors[:PROBLEMS_SHOWN]:
        message = " ".join(str(error.message).split())
        if len(message) > PROBLEM_MAX:
            message = message[: PROBLEM_MAX - 1] + "…"
        where = "/".join(str(p) for p in error.path)
        found.append(f"at {where!r}: {message}" if where else message)
    return found


def check_arguments(server: str, tool: str, schema: Any, arguments: dict[str, Any]) -> None:
    """Raise :class:`InvalidArgumentsError` if ``arguments`` fail the tool's input ``schema``."""
    found = problems(schema, arguments)
    if found:
        raise InvalidArgumentsError(
            f"Invalid arguments for tool {tool!r} on server {server!r}: "
            + "; ".join(found)
            + ".\n"
            + argument_help(server, tool, schema)
        )


def argument_help(server: str, tool: str, schema: Any) -> str:
    """The tool's signature and input schema (or where to get a big one), and the next step."""
    lines = [f"Parameters: {signature(schema) or '(none)'}"]
    shown = json.dumps(schema, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(shown) <= SCHEMA_SHOWN_MAX:
        lines.append(f"Input schema: {shown}")
    else:
        lines.append(f"Input schema: call get_tool(server={server!r}, tool={tool!r}).")
    lines.append("Fix the arguments and call again.")
    return "\n".join(lines)


def about_arguments(text: str) -> bool:
    """Does a downstream's error text complain about the arguments?"""
    return bool(_ABOUT_ARGUMENTS.search(text))
