"""Tool pinning, the pure part: canonical hashes, the file formats, screening.

The risk flags and the diff: tests/test_pinflags.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_gateway.core.pins import (
    PinnedTool,
    ServerPins,
    canonical,
    definition_hash,
    dump,
    held_message,
    parse_pending,
    parse_pins,
    screen,
)

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def tool(
    name: str = "search", description: str = "Search the web.", **extra: Any
) -> dict[str, Any]:
    return {"name": name, "description": description, "inputSchema": SCHEMA, **extra}


def pins_of(*tools: dict[str, Any], rejected: dict[str, list[str]] | None = None) -> ServerPins:
    return ServerPins(
        tools={t["name"]: PinnedTool.of(canonical(t)) for t in tools}, rejected=rejected or {}
    )


# ----- canonical form and hash -----------------------------------------------------------------


def test_the_hash_does_not_depend_on_key_order() -> None:
    a = {"name": "t", "inputSchema": {"type": "object", "properties": {"a": {}, "b": {}}}}
    b = {"inputSchema": {"properties": {"b": {}, "a": {}}, "type": "object"}, "name": "t"}
    assert definition_hash(canonical(a)) == definition_hash(canonical(b))


@pytest.mark.parametrize(
    "change",
    [
        {"description": "Search the web!"},
        {"name": "search2"},
        {"title": "Search"},
        {"inputSchema": {**SCHEMA, "required": []}},
        {"outputSchema": {"type": "object"}},
        {"annotations": {"readOnlyHint": True}},
    ],
    ids=["description", "name", "title", "input-schema", "output-schema", "annotations"],
)
def test_every_pinned_field_changes_the_hash(change: dict[str, Any]) -> None:
    assert definition_hash(canonical(tool())) != definition_hash(canonical({**tool(), **change}))


def test_fields_outside_the_definition_and_nulls_do_not_change_the_hash() -> None:
    plain = canonical(tool())
    assert canonical({**tool(), "_meta": {"x": 1}, "outputSchema": None}) == plain


# ----- files -----------------------------------------------------------------------------------


def test_a_pins_file_round_trips_through_its_text() -> None:
    from agent_gateway.core.pins import PinsFile

    data = PinsFile(servers={"web": pins_of(tool(), rejected={"x": ["0" * 64]})})
    assert parse_pins(dump(data)) == data
    assert parse_pins("") == PinsFile()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "invalid JSON at line 1"),
        ('{"servers": {"a": {"tool": {}}}}', "servers.a.tool"),
        ('{"format": 2}', "format"),
        (
            '{"servers": {"a": {"tools": {"t": {"sha256": "'
            + "0" * 64
            + '", "definition": {}}}}}}',
            "does not match its definition",
        ),
    ],
    ids=["syntax", "unknown-key", "format", "tampered-definition"],
)
def test_a_bad_pins_file_is_a_value_error_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_pins(text)


def test_a_pending_file_parses() -> None:
    text = json.dumps(
        {"servers": {"a": {"t": {"sha256": "x", "definition": {"name": "t"}, "status": "new"}}}}
    )
    assert parse_pending(text).servers["a"]["t"].definition == {"name": "t"}


# ----- screening -------------------------------------------------------------------------------


def test_off_approves_everything_and_records_nothing() -> None:
    result = screen("web", "off", pins_of(tool(description="old")), [tool()])
    assert result.approved == {"search"} and not result.held and result.record is None


def test_tofu_first_sight_approves_and_records_the_whole_list() -> None:
    result = screen("web", "tofu", None, [tool(), tool("fetch")])
    assert result.approved == {"search", "fetch"} and not result.held
    assert result.record == pins_of(tool(), tool("fetch"))


def test_strict_first_sight_holds_everything_as_new() -> None:
    result = screen("web", "strict", None, [tool(), tool("fetch")])
    assert result.approved == frozenset() and result.record is None
    assert {n: h.status for n, h in result.held.items()} == {"search": "new", "fetch": "new"}


@pytest.mark.parametrize("mode", ["tofu", "strict"])
@pytest.mark.parametrize(
    ("pinned", "now", "approved", "held", "removed"),
    [
        ([tool()], [tool()], {"search"}, {}, ()),
        ([tool()], [tool(description="Other.")], set(), {"search": "changed"}, ()),
        ([tool()], [tool(), tool("fetch")], {"search"}, {"fetch": "new"}, ()),
        ([tool(), tool("fetch")], [tool()], {"search"}, {}, ("fetch",)),
        ([tool()], [tool("search_v2")], set(), {"search_v2": "new"}, ("search",)),
    ],
    ids=["unchanged", "changed", "added", "removed", "renamed"],
)
def test_screening_classifies_each_tool(
    mode: Any,
    pinned: list[dict[str, Any]],
    now: list[dict[str, Any]],
    approved: set[str],
    held: dict[str, str],
    removed: tuple[str, ...],
) -> None:
    result = screen("web", mode, pins_of(*pinned), now)
    assert result.approved == approved
    assert {n: h.status for n, h in result.held.items()} == held
    assert result.removed == removed
    assert result.record is None


def test_a_removed_tool_that_comes_back_unchanged_is_approved_again() -> None:
    pins = pins_of(tool(), tool("fetch"))
    assert "fetch" in screen("web", "tofu", pins, [tool()]).removed
    assert screen("web", "tofu", pins, [tool(), tool("fetch")]).approved == {"search", "fetch"}


def test_a_rejected_definition_stays_held_and_says_rejected() -> None:
    changed = tool(description="Other.")
    digest = definition_hash(canonical(changed))
    result = screen("web", "tofu", pins_of(tool(), rejected={"search": [digest]}), [changed])
    assert result.held["search"].status == "rejected"
    again = tool(description="Yet another.")
    result = screen("web", "tofu", pins_of(tool(), rejected={"search": [digest]}), [again])
    assert result.held["search"].status == "changed"


def test_the_held_message_says_what_happened_and_names_the_approve_command() -> None:
    result = screen("web", "tofu", pins_of(tool()), [tool(description="x"), tool("new_one")])
    changed = held_message(result.held["search"], "/p/pins.json")
    assert "changed since it was approved" in changed
    assert "agent-gateway pins approve web search" in changed
    assert "is new and not approved yet" in held_message(result.held["new_one"], "/p")
