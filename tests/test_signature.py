"""Compact signatures of tool input schemas, and the list_tools hits that carry them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import py_server, start_gateway

from agent_gateway.core.search import Candidate, hits
from agent_gateway.core.signature import SIG_MAX, signature


def obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, **extra}
    if required is not None:
        schema["required"] = required
    return schema


S, INT = {"type": "string"}, {"type": "integer"}
DEFS = {"$defs": {"Mode": {"enum": ["a", "b"], "type": "string"}, "Box": {"$ref": "#/$defs/Mode"}}}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (obj({"path": S, "tail": INT}, ["path"]), "path: str, tail?: int"),
        (obj({"tail": INT, "path": S}, ["path"]), "path: str, tail?: int"),  # required first
        (obj({}), ""),
        ({"type": "object"}, ""),
        (None, ""),
        ("not a schema", ""),
        (obj({"x": S}, "x"), "x?: str"),  # a malformed required list requires nothing
        (
            obj({n: {"type": t} for n, t in [("n", "number"), ("b", "boolean"), ("z", "null")]}),
            "n?: num, b?: bool, z?: None",
        ),
        (obj({"o": {"type": "object", "properties": {"deep": S}}}), "o?: obj"),
        (obj({"tags": {"type": "array", "items": S}}), "tags?: list[str]"),
        (
            obj({"rows": {"type": "array", "items": {"type": "array", "items": INT}}}),
            "rows?: list[list[int]]",
        ),
        (obj({"any": {"type": "array"}}), "any?: list"),
        (obj({"x": {}}), "x?: any"),
        (obj({"x": {"type": "whatever"}}), "x?: any"),
        (obj({"mode": {"type": "string", "enum": ["a", "b"]}}), "mode?: 'a'|'b'"),
        (obj({"n": {"enum": [1, 2.5, True, None]}}), "n?: 1|2.5|true|null"),
        (obj({"mode": {"type": "string", "enum": list("abcde")}}), "mode?: str"),  # over 4 values
        (obj({"mode": {"type": "string", "enum": ["x" * 30]}}), "mode?: str"),  # a long value
        (obj({"mode": {"enum": list("abcde")}}), "mode?: any"),
        (obj({"q": {"const": "it's"}}), "q?: 'it\\'s'"),
        (obj({"x": {"anyOf": [S, {"type": "null"}]}}), "x?: str|None"),
        (obj({"x": {"oneOf": [S, INT, S]}}), "x?: str|int"),
        (obj({"x": {"anyOf": [S, {}]}}), "x?: any"),
        (obj({"x": {"type": ["integer", "null"]}}), "x?: int|None"),
        (obj({"x": {"allOf": [INT]}}), "x?: int"),
        (obj({"m": {"$ref": "#/$defs/Mode"}}, **DEFS), "m?: 'a'|'b'"),
        (obj({"m": {"$ref": "#/$defs/Box"}}, **DEFS), "m?: 'a'|'b'"),  # a ref to a ref
        (obj({"m": {"$ref": "#/$defs/Nope"}}, **DEFS), "m?: any"),
        (obj({"m": {"$ref": "https://example.com/s.json"}}), "m?: any"),
        (
            obj({"m": {"$ref": "#/$defs/Loop"}}, **{"$defs": {"Loop": {"$ref": "#/$defs/Loop"}}}),
            "m?: any",
        ),
    ],
)
def test_a_schema_becomes_a_short_readable_signature(schema: Any, expected: str) -> None:
    assert signature(schema) == expected


@pytest.mark.parametrize(
    ("count", "limit", "expected"),
    [
        (3, 120, "p0?: str, p1?: str, p2?: str"),
        (3, 21, "p0?: str, p1?: str, …"),  # whole parameters, then an ellipsis
        (3, 20, "p0?: str, …"),
        (3, 11, "p0?: str, …"),
        (3, 10, "p0?: str,…"),  # not even one fits with ", …": cut inside
        (3, 8, "p0?: st…"),
    ],
)
def test_a_long_signature_is_cut_at_a_parameter_with_an_ellipsis(
    count: int, limit: int, expected: str
) -> None:
    schema = obj({f"p{i}": S for i in range(count)})
    assert signature(schema, limit) == expected
    assert len(signature(schema, limit)) <= limit


def test_no_signature_passes_the_cap_however_many_parameters() -> None:
    sig = signature(obj({f"parameter_{i}": S for i in range(40)}, ["parameter_7"]))
    assert len(sig) <= SIG_MAX
    assert sig.startswith("parameter_7: str, parameter_0?: str")
    assert sig.endswith(", …")


def many(count: int) -> tuple[list[Candidate], dict[tuple[str, str], Any]]:
    items = [
        Candidate("s", f"tool_{i:03d}", f"Tool number {i} does thing {i}.") for i in range(count)
    ]
    return items, {("s", c.name): obj({"value": S}) for c in items}


def test_every_hit_carries_its_signature_when_the_answer_is_small() -> None:
    items, schemas = many(3)
    schemas[("s", "tool_001")] = obj({"path": S}, ["path"])
    assert hits(items, schemas) == [
        {
            "server": "s",
            "name": "tool_000",
            "summary": "Tool number 0 does thing 0.",
            "sig": "value?: str",
        },
        {
            "server": "s",
            "name": "tool_001",
            "summary": "Tool number 1 does thing 1.",
            "sig": "path: str",
        },
        {
            "server": "s",
            "name": "tool_002",
            "summary": "Tool number 2 does thing 2.",
            "sig": "value?: str",
        },
    ]


def test_a_tool_without_parameters_has_an_empty_signature_and_an_unknown_one_too() -> None:
    items, _ = many(1)
    assert hits(items, {})[0]["sig"] == ""


def test_the_first_five_hits_carry_signatures_even_past_the_budget() -> None:
    items, schemas = many(60)
    found = hits(items, schemas, budget=3000)
    assert [h.get("sig") for h in found[:6]] == ["value?: str"] * 5 + [None]
    assert all("sig" not in h for h in found[5:])


def test_signatures_go_to_the_first_hits_while_the_answer_fits_the_budget() -> None:
    items, schemas = many(35)
    found = hits(items, schemas, budget=3000)
    signed = [h for h in found if "sig" in h]
    assert len(found) == 35  # every hit keeps its name and summary
    assert 0 < len(signed) < 35
    assert found[: len(signed)] == signed  # the best hits first, no gaps
    with_sigs = json.dumps(signed, ensure_ascii=False, separators=(",", ":"))
    assert len(with_sigs) < 3000


# ----- end to end: a real gateway in front of a 100-tool server ------------------------


@pytest.mark.anyio
async def test_list_tools_answers_stay_within_3000_characters_with_signatures(
    tmp_path: Path,
) -> None:
    servers = {"many": py_server("many_tools_server.py", "--count", "100")}
    async with start_gateway(tmp_path, servers) as gw:
        sizes = {}
        for name, args in [
            ("listing", {"server": "many", "limit": 20}),
            ("search", {"query": "tool number thing", "limit": 20}),
            ("everything", {"limit": 20}),
        ]:
            result = await gw.client.call_tool_mcp("list_tools", args)
            assert not result.is_error, result
            answer = result.structured_content
            sizes[name] = len(result.content[0].text)
            assert sizes[name] <= 3000, (name, sizes[name])
            assert len(answer["tools"]) == 20 and answer["truncated"] is True
            assert all(hit["sig"] == "value?: str" for hit in answer["tools"]), answer
        default = await gw.data("list_tools", server="many")  # DESIGN's limit=50
        assert len(default["tools"]) == 50
        assert all("sig" in hit for hit in default["tools"][:5])
        assert len(json.dumps(default, separators=(",", ":"))) < 4500
        asked = await gw.data("list_tools", server="many", limit=100)
        assert len(asked["tools"]) == 100  # every hit the caller asked for, names and summaries
        # Past the budget, the first five (the best, when ranked) still carry theirs.
        assert ["sig" in hit for hit in asked["tools"]] == [True] * 5 + [False] * 95
