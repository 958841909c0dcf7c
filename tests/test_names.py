"""Direct names (core/names.py), table-driven: unique over a visible set, stable, routable.

A plain name is ``server__tool``; a hashed one ends in ``_`` and ten or more
hex digits. A plain name that would look hashed is hashed itself, so the two
forms never meet; names that still collide (only a truncated-hash collision
can do it) all get a longer hash.
"""

from __future__ import annotations

import hashlib

import pytest

from agent_gateway.core.names import MAX_NAME, could_name, direct_name, direct_names

LONG = "long-server-name-" + "n" * 43  # 60 characters


def old_digest(server: str, tool: str) -> str:
    """The hash suffix a hashed name of (server, tool) ends with."""
    return hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:10]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # "ops" + "_secret" is hashed to "ops___secret_<hash>", the plain name of the second
        (("ops", "_secret"), ("ops_", "secret_" + old_digest("ops", "_secret"))),
        # a shortened name and a 64-character plain name that spells it out
        (("s" * 30, "t" * 33), ("s" * 30, "t" * 21 + "_" + old_digest("s" * 30, "t" * 33))),
        (("a", "_x"), ("a_", "x_" + old_digest("a", "_x"))),
    ],
)
def test_a_plain_name_never_equals_a_hashed_name(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    assert direct_name(*first) != direct_name(*second)
    names = direct_names([first, second])
    assert sorted(names.values()) == sorted([first, second])
    assert all(len(n) <= MAX_NAME for n in names)


@pytest.mark.parametrize(
    ("server", "tool", "plain"),
    [
        ("a", "add", True),
        ("a", "x_012345678", True),  # nine hex digits: not the hashed form
        ("a", "x_0123456789", False),  # ten: looks hashed, so it is hashed
        ("a", "sha_0123456789abcdef", False),
        ("a", "get_deadbeef00", False),
        ("a", "x_ABCDEF0123", True),  # hashes are lower-case
        ("a", "x-0123456789", True),
        ("a", "0123456789", False),  # the separator's "_" counts: "s" * 52 + "_" could be cut so
        ("a", "x0123456789", True),
        ("web_", "fetch", True),
        ("a", "_x", False),
        ("a_b", "c", True),
    ],
)
def test_a_plain_name_is_kept_unless_it_could_be_read_as_a_hashed_one(
    server: str, tool: str, plain: bool
) -> None:
    name = direct_name(server, tool)
    assert (name == f"{server}__{tool}") is plain, name
    assert len(name) <= MAX_NAME


def test_names_that_still_collide_all_get_a_longer_hash() -> None:
    pairs = [("b", "x"), ("a", "y"), ("c", "z"), ("a", "w")]

    def same(server: str, tool: str) -> str:  # as if the ten-digit hashes collided
        return "a___y_0123456789" if tool != "w" else "a__w"

    names = direct_names(pairs, name_of=same)
    assert sorted(names.values()) == sorted(pairs)
    assert names["a__w"] == ("a", "w")  # not in the collision: untouched
    longer = [n for n in names if n != "a__w"]
    assert all(len(n) <= MAX_NAME and n.rsplit("_", 1)[1].isalnum() for n in longer)
    assert all(len(n.rsplit("_", 1)[1]) == 20 for n in longer), longer
    # deterministic: the order the pairs come in does not matter
    assert direct_names(list(reversed(pairs)), name_of=same) == names


def test_a_name_does_not_change_when_an_unrelated_server_appears() -> None:
    mine = [("ops", "_secret"), ("ops", "run"), (LONG, "echo"), ("s" * 30, "t" * 40)]
    before = {pair: name for name, pair in direct_names(mine).items()}
    others = [("web", "fetch"), ("web", "_private"), ("z" * 64, "t"), ("opsx", "run")]
    after = {pair: name for name, pair in direct_names(mine + others).items()}
    assert {pair: after[pair] for pair in mine} == before
    assert before == {pair: direct_name(*pair) for pair in mine}


@pytest.mark.parametrize(
    ("server", "name", "could"),
    [
        ("a", "a__x", True),
        ("a", "b__x", False),
        ("ab", "a__x", False),
        ("a", "ab__x", False),
        ("a_", "a__x", False),
        ("a_", "a___x", True),
        ("a", "a___x_0123456789", True),  # "a" + "_x", hashed
        ("a", "a", False),
        (LONG, direct_name(LONG, "echo"), True),  # cut inside the server name
        ("other", direct_name(LONG, "echo"), False),
        (LONG + "x", direct_name(LONG, "echo"), True),  # shares the cut prefix
        ("s" * 30, direct_name("s" * 30, "t" * 40), True),
        ("s" * 29, direct_name("s" * 30, "t" * 40), False),
    ],
)
def test_could_name_tells_which_server_a_direct_name_may_belong_to(
    server: str, name: str, could: bool
) -> None:
    assert could_name(server, name) is could
