"""A call's arguments: read (an object, or one as a JSON string) and checked against the schema."""

from __future__ import annotations

from typing import Any

import pytest

from agent_gateway.core.arguments import (
    SCHEMA_SHOWN_MAX,
    about_arguments,
    argument_help,
    check_arguments,
    parse_arguments,
    problems,
)
from agent_gateway.core.errors import GatewayError, InvalidArgumentsError

ADD = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, {}),
        ({"a": 1}, {"a": 1}),
        ('{"a": 1}', {"a": 1}),
        ("  {}  ", {}),
        ('{"nested": {"x": [1, 2]}}', {"nested": {"x": [1, 2]}}),
    ],
)
def test_arguments_are_an_object_or_one_as_a_json_string(given: Any, expected: Any) -> None:
    assert parse_arguments(given) == expected


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("a=1", "arguments is a string that is not valid JSON"),
        ("", "arguments is a string that is not valid JSON"),
        ("[1, 2]", "arguments is a string that is JSON list, not an object"),
        ('"text"', "arguments is a string that is JSON str, not an object"),
        ("null", "arguments is a string that is JSON NoneType, not an object"),
    ],
)
def test_a_string_that_is_not_a_json_object_is_a_clear_error(given: str, says: str) -> None:
    with pytest.raises(InvalidArgumentsError) as caught:
        parse_arguments(given)
    assert str(caught.value).startswith(says)
    assert "Pass an object, or a JSON object as a string" in str(caught.value)
    assert isinstance(caught.value, GatewayError)  # a tool error on both routes


@pytest.mark.parametrize(
    ("schema", "arguments", "expected"),
    [
        (ADD, {"a": 1, "b": 2}, []),
        (ADD, {"a": 1}, ["'b' is a required property"]),
        (
            ADD,
            {"a": "x", "b": "y"},
            ["at 'a': 'x' is not of type 'integer'", "at 'b': 'y' is not of type 'integer'"],
        ),
        (
            {**ADD, "additionalProperties": False},
            {"a": 1, "b": 2, "c": 3},
            ["Additional properties are not allowed ('c' was unexpected)"],
        ),
        (
            {
                "type": "object",
                "properties": {"rows": {"type": "array", "items": {"type": "integer"}}},
            },
            {"rows": [1, "two"]},
            ["at 'rows/1': 'two' is not of type 'integer'"],
        ),
        # Loose or unusable schemas check nothing: the downstream has its own say.
        ({}, {"anything": 1}, []),
        ({"type": "object"}, {"anything": 1}, []),
        (None, {"anything": 1}, []),
        ({"type": "no-such-type"}, {"a": 1}, []),
        ({"$ref": "https://example.com/remote.json"}, {"a": 1}, []),
        ({"$ref": "#/$defs/missing"}, {"a": 1}, []),
        (
            {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"}}},
            {"when": "soon"},
            [],
        ),
    ],
)
def test_arguments_are_checked_against_the_tools_input_schema(
    schema: Any, arguments: dict[str, Any], expected: list[str]
) -> None:
    assert problems(schema, arguments) == expected


def test_a_problem_quoting_a_huge_value_is_cut() -> None:
    (found,) = problems(ADD, {"a": "x" * 1000, "b": 1})
    assert len(found) <= 210 and found.endswith("…")


def test_the_error_names_the_field_and_shows_the_signature_and_schema() -> None:
    with pytest.raises(InvalidArgumentsError) as caught:
        check_arguments("calc", "add", ADD, {"a": 1})
    assert str(caught.value) == (
        "Invalid arguments for tool 'add' on server 'calc': 'b' is a required property.\n"
        "Parameters: a: int, b: int\n"
        'Input schema: {"type":"object","properties":{"a":{"type":"integer"},'
        '"b":{"type":"integer"}},"required":["a","b"]}\n'
        "Fix the arguments and call again."
    )


def test_a_big_schema_is_not_shown_but_get_tool_is_named() -> None:
    props = {f"p{i}": {"type": "string", "description": "x" * 40} for i in range(40)}
    schema = {"type": "object", "properties": props}
    assert len(str(schema)) > SCHEMA_SHOWN_MAX
    assert argument_help("s", "t", schema).splitlines()[1] == (
        "Input schema: call get_tool(server='s', tool='t')."
    )


@pytest.mark.parametrize(
    ("text", "about"),
    [
        ("1 validation error for call[add]\nb\n  Missing required argument", True),
        ("Input validation error: 'path' is a required property", True),
        ("Invalid arguments for tool add", True),
        ("Invalid params", True),
        ("add() got an unexpected keyword argument 'c'", True),
        ("File not found: /tmp/x", False),
        ("boom", False),
    ],
)
def test_a_downstream_error_about_the_arguments_is_recognised(text: str, about: bool) -> None:
    assert about_arguments(text) is about
