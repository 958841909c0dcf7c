"""JSONC: comments and trailing commas are accepted; errors keep the user's line and column."""

from __future__ import annotations

from typing import Any

import pytest

from agent_gateway.core.jsonc import JsoncError, loads_jsonc, strip_jsonc

# (JSONC text, the value it parses to)
ACCEPTED = [
    pytest.param('{"a": 1}', {"a": 1}, id="plain-json"),
    pytest.param('{"a": 1, // one\n "b": 2}', {"a": 1, "b": 2}, id="line-comment"),
    pytest.param('/* head */ {"a": /* in */ 1}', {"a": 1}, id="block-comments"),
    pytest.param('{"a": 1,}', {"a": 1}, id="trailing-comma-object"),
    pytest.param("[1, 2,\n]", [1, 2], id="trailing-comma-array"),
    pytest.param('{"a": [1,], "b": {"c": 2,},}', {"a": [1], "b": {"c": 2}}, id="nested-trailing"),
    pytest.param('{"a": 1, // last\n}', {"a": 1}, id="comment-between-comma-and-brace"),
    pytest.param('{"u": "https://x//y"}', {"u": "https://x//y"}, id="slashes-inside-a-string"),
    pytest.param('{"u": "/* not */"}', {"u": "/* not */"}, id="block-inside-a-string"),
    pytest.param('{"q": "a\\",}"}', {"q": 'a",}'}, id="escaped-quote-then-comma-brace"),
    pytest.param('{"a": "x,"}', {"a": "x,"}, id="comma-inside-a-string"),
    pytest.param("// only a comment\n{}", {}, id="leading-comment"),
    pytest.param("{}\n// trailing comment", {}, id="comment-at-end-without-newline"),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_jsonc_text_parses_to_the_expected_value(text: str, expected: Any) -> None:
    assert loads_jsonc(text) == expected


@pytest.mark.parametrize(
    "text",
    ['{"a": 1, // c\n "b": 2,}', "/* a\nb */ [1,\n]", '{"s": "//"} // x'],
)
def test_stripping_keeps_length_and_every_newline(text: str) -> None:
    clean = strip_jsonc(text)
    assert len(clean) == len(text)
    assert [i for i, c in enumerate(clean) if c == "\n"] == [
        i for i, c in enumerate(text) if c == "\n"
    ]


# (JSONC text, expected line, expected column)
REJECTED = [
    pytest.param('{\n  // fine\n  "a": 1\n  "b": 2\n}', 4, 3, id="missing-comma-after-comment"),
    pytest.param('{"a": 1 /* never closed', 1, 9, id="unclosed-block-comment"),
    pytest.param("[,]", 1, 2, id="a-lone-comma-is-not-trailing"),
    pytest.param("[1,,]", 1, 4, id="double-comma"),
    pytest.param('{\n  "a": tru\n}', 2, 8, id="bad-literal"),
]


@pytest.mark.parametrize(("text", "line", "column"), REJECTED)
def test_a_syntax_error_names_the_line_and_column_of_the_original_text(
    text: str, line: int, column: int
) -> None:
    with pytest.raises(JsoncError) as info:
        loads_jsonc(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert f"line {line}, column {column}" in str(info.value)


def test_keys_seen_twice_are_reported_to_the_caller() -> None:
    duplicates: list[str] = []
    assert loads_jsonc('{"a": 1, "a": 2}', duplicates) == {"a": 2}
    assert duplicates == ["a"]
