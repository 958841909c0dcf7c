"""diff_configs: which servers a reload adds, removes, replaces, re-describes or keeps."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.diff import ConfigDiff, connection_key, diff_configs
from agent_gateway.core.errors import ConfigError

BUCKETS = ("added", "removed", "changed", "unchanged", "described")


def cfg(servers: dict[str, Any], environ: dict[str, str] | None = None) -> GatewayConfig:
    return GatewayConfig.from_dict({"mcpServers": servers}, environ=environ or {})


def buckets(diff: ConfigDiff) -> dict[str, tuple[str, ...]]:
    return {b: getattr(diff, b) for b in BUCKETS if getattr(diff, b)}


STDIO = {"command": "npx", "args": ["-y", "server"]}
HTTP = {"url": "https://example.com/mcp"}

# (old servers, old environ, new servers, new environ, expected non-empty buckets)
CASES = [
    pytest.param({}, {}, {}, {}, {}, id="two-empty-configs-differ-in-nothing"),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": STDIO, "b": HTTP},
        {},
        {"added": ("b",), "unchanged": ("a",)},
        id="a-new-server-is-added",
    ),
    pytest.param(
        {"a": STDIO, "b": HTTP},
        {},
        {"a": STDIO},
        {},
        {"removed": ("b",), "unchanged": ("a",)},
        id="a-deleted-server-is-removed",
    ),
    pytest.param(
        {"old-name": STDIO},
        {},
        {"new-name": STDIO},
        {},
        {"added": ("new-name",), "removed": ("old-name",)},
        id="a-rename-is-a-removal-plus-an-addition",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "args": ["-y", "server", "--verbose"]}},
        {},
        {"changed": ("a",)},
        id="an-extra-argument-changes-the-server",
    ),
    pytest.param(
        {"a": {"command": "x", "args": ["1", "2"]}},
        {},
        {"a": {"command": "x", "args": ["2", "1"]}},
        {},
        {"changed": ("a",)},
        id="reordered-arguments-change-the-server",
    ),
    pytest.param(
        {"a": {"command": "x"}},
        {},
        {"a": {"command": "y"}},
        {},
        {"changed": ("a",)},
        id="a-new-command-changes-the-server",
    ),
    pytest.param(
        {"a": {"command": "x", "env": {"TOKEN": "${TOKEN}"}}},
        {"TOKEN": "one"},
        {"a": {"command": "x", "env": {"TOKEN": "${TOKEN}"}}},
        {"TOKEN": "two"},
        {"changed": ("a",)},
        id="same-text-with-a-new-variable-value-in-env-changes-the-server",
    ),
    pytest.param(
        {"a": {"command": "${BIN}"}},
        {"BIN": "/usr/bin/one"},
        {"a": {"command": "${BIN}"}},
        {"BIN": "/usr/bin/two"},
        {"changed": ("a",)},
        id="same-text-with-a-new-variable-value-in-command-changes-the-server",
    ),
    pytest.param(
        {"a": {"command": "x", "env": {"TOKEN": "${TOKEN}"}}},
        {"TOKEN": "one", "OTHER": "1"},
        {"a": {"command": "x", "env": {"TOKEN": "${TOKEN}"}}},
        {"TOKEN": "one", "OTHER": "2"},
        {"unchanged": ("a",)},
        id="a-change-to-an-unused-variable-leaves-the-server-unchanged",
    ),
    pytest.param(
        {"a": {"command": "x", "env": {"K": "literal"}}},
        {},
        {"a": {"command": "x", "env": {"K": "${K}"}}},
        {"K": "literal"},
        {"unchanged": ("a",)},
        id="new-text-with-the-same-substituted-value-leaves-the-server-unchanged",
    ),
    pytest.param(
        {"a": {**STDIO, "description": "old"}},
        {},
        {"a": {**STDIO, "description": "new"}},
        {},
        {"described": ("a",)},
        id="a-description-only-edit-is-described-not-changed",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "description": "now documented"}},
        {},
        {"described": ("a",)},
        id="adding-a-description-is-described-not-changed",
    ),
    pytest.param(
        {"a": {**STDIO, "description": "old"}},
        {},
        {"a": {**STDIO, "description": "new", "args": []}},
        {},
        {"changed": ("a",)},
        id="a-description-edit-with-a-connection-edit-is-changed",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "pin": "strict"}},
        {},
        {"described": ("a",)},
        id="a-pin-mode-edit-keeps-the-process-like-a-description-edit",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "disabled": True}},
        {},
        {"changed": ("a",)},
        id="disabling-a-server-changes-it",
    ),
    pytest.param(
        {"a": {**STDIO, "disabled": True}},
        {},
        {"a": STDIO},
        {},
        {"changed": ("a",)},
        id="enabling-a-server-changes-it",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "timeout": 5}},
        {},
        {"changed": ("a",)},
        id="a-new-timeout-changes-the-server",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "startupTimeout": 300}},
        {},
        {"changed": ("a",)},
        id="a-new-startup-timeout-changes-the-server",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "idleTimeout": 600}},
        {},
        {"changed": ("a",)},
        id="a-new-idle-timeout-changes-the-server",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "timeout": 60, "startupTimeout": 60.0}},
        {},
        {"unchanged": ("a",)},
        id="writing-the-default-timeouts-explicitly-is-not-a-change",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "type": "stdio"}},
        {},
        {"unchanged": ("a",)},
        id="writing-the-default-stdio-type-explicitly-is-not-a-change",
    ),
    pytest.param(
        {"a": {"command": "x", "cwd": "/srv/a"}},
        {},
        {"a": {"command": "x", "cwd": "/srv/b"}},
        {},
        {"changed": ("a",)},
        id="a-new-working-directory-changes-the-server",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": HTTP},
        {},
        {"changed": ("a",)},
        id="switching-from-stdio-to-http-changes-the-server",
    ),
    pytest.param(
        {"a": HTTP},
        {},
        {"a": {**HTTP, "type": "sse"}},
        {},
        {"changed": ("a",)},
        id="switching-from-http-to-sse-at-the-same-url-changes-the-server",
    ),
    pytest.param(
        {"a": HTTP},
        {},
        {"a": {**HTTP, "type": "http"}},
        {},
        {"unchanged": ("a",)},
        id="writing-the-default-http-type-explicitly-is-not-a-change",
    ),
    pytest.param(
        {"a": HTTP},
        {},
        {"a": {"url": "https://example.com/mcp/v2"}},
        {},
        {"changed": ("a",)},
        id="a-new-url-changes-the-server",
    ),
    pytest.param(
        {"a": {**HTTP, "headers": {"Authorization": "Bearer one"}}},
        {},
        {"a": {**HTTP, "headers": {"Authorization": "Bearer two"}}},
        {},
        {"changed": ("a",)},
        id="a-new-header-value-changes-the-server",
    ),
    pytest.param(
        {"a": {**HTTP, "headers": {"Authorization": "Bearer ${T}"}}},
        {"T": "one"},
        {"a": {**HTTP, "headers": {"Authorization": "Bearer ${T}"}}},
        {"T": "two"},
        {"changed": ("a",)},
        id="same-header-text-with-a-new-variable-value-changes-the-server",
    ),
    pytest.param(
        {"a": HTTP},
        {},
        {"a": {**HTTP, "headers": {"X-Trace": "1"}}},
        {},
        {"changed": ("a",)},
        id="an-added-header-changes-the-server",
    ),
    pytest.param(
        {
            "a": {"command": "x", "env": {"A": "1", "B": "2"}},
            "b": {**HTTP, "headers": {"X": "1", "Y": "2"}},
        },
        {},
        {
            "b": {"headers": {"Y": "2", "X": "1"}, **HTTP},
            "a": {"env": {"B": "2", "A": "1"}, "command": "x"},
        },
        {},
        {"unchanged": ("a", "b")},
        id="reordering-servers-keys-env-and-headers-changes-nothing",
    ),
    pytest.param(
        {"a": {"command": "x", "env": {"K": "${K}"}}, "b": STDIO},
        {"K": "v"},
        {"a": {"command": "x", "env": {"K": "${K}"}}, "b": STDIO},
        {},
        {"changed": ("a",), "unchanged": ("b",)},
        id="a-server-that-becomes-errored-by-an-unset-variable-is-changed",
    ),
    pytest.param(
        {"a": {"command": "x", "env": {"K": "${K}"}}, "b": STDIO},
        {},
        {"a": {"command": "x", "env": {"K": "${K}"}}, "b": STDIO},
        {"K": "v"},
        {"changed": ("a",), "unchanged": ("b",)},
        id="a-server-whose-unset-variable-gets-set-is-changed",
    ),
    pytest.param(
        {"a": {"command": "x", "env": {"K": "${K}"}}},
        {},
        {"a": {"command": "x", "env": {"K": "${K}"}}},
        {},
        {"unchanged": ("a",)},
        id="a-server-errored-the-same-way-twice-is-unchanged",
    ),
    pytest.param(
        {"a": {"command": "x", "env": {"K": "${K}"}}},
        {},
        {"a": {"command": "x", "env": {"K": "${J}"}}},
        {},
        {"changed": ("a",)},
        id="a-server-errored-by-a-different-variable-is-changed",
    ),
    pytest.param(
        {"keep": STDIO, "gone": STDIO, "edit": STDIO, "doc": STDIO},
        {},
        {
            "keep": STDIO,
            "edit": {**STDIO, "args": []},
            "doc": {**STDIO, "description": "d"},
            "new": HTTP,
        },
        {},
        {
            "added": ("new",),
            "removed": ("gone",),
            "changed": ("edit",),
            "unchanged": ("keep",),
            "described": ("doc",),
        },
        id="every-bucket-at-once",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "maxConcurrency": 2, "maxQueue": 0}},
        {},
        {"described": ("a",)},
        id="a-new-concurrency-limit-keeps-the-process",
    ),
    pytest.param(
        {"a": STDIO},
        {},
        {"a": {**STDIO, "breakerFailures": 2, "breakerCooldown": 1}},
        {},
        {"described": ("a",)},
        id="new-breaker-settings-keep-the-process",
    ),
    pytest.param(
        {"c": STDIO, "a": STDIO, "b": STDIO},
        {},
        {"z": STDIO, "y": STDIO, "x": STDIO},
        {},
        {"added": ("x", "y", "z"), "removed": ("a", "b", "c")},
        id="bucket-names-are-sorted",
    ),
]


@pytest.mark.parametrize(("old", "old_env", "new", "new_env", "expected"), CASES)
def test_diff_puts_each_server_in_the_expected_bucket(
    old: dict[str, Any],
    old_env: dict[str, str],
    new: dict[str, Any],
    new_env: dict[str, str],
    expected: dict[str, tuple[str, ...]],
) -> None:
    diff = diff_configs(cfg(old, old_env), cfg(new, new_env))
    assert buckets(diff) == expected


@pytest.mark.parametrize(("old", "old_env", "new", "new_env", "expected"), CASES)
def test_every_server_lands_in_exactly_one_bucket(
    old: dict[str, Any],
    old_env: dict[str, str],
    new: dict[str, Any],
    new_env: dict[str, str],
    expected: dict[str, tuple[str, ...]],
) -> None:
    diff = diff_configs(cfg(old, old_env), cfg(new, new_env))
    everything = [name for b in BUCKETS for name in getattr(diff, b)]
    assert sorted(everything) == sorted(set(old) | set(new))


@pytest.mark.parametrize(("old", "old_env", "new", "new_env", "expected"), CASES)
def test_a_config_diffed_against_itself_is_empty(
    old: dict[str, Any],
    old_env: dict[str, str],
    new: dict[str, Any],
    new_env: dict[str, str],
    expected: dict[str, tuple[str, ...]],
) -> None:
    config = cfg(new, new_env)
    diff = diff_configs(config, config)
    assert diff.empty
    assert diff.unchanged == tuple(sorted(new))


@pytest.mark.parametrize(
    ("diff", "empty"),
    [
        pytest.param(ConfigDiff(), True, id="no-servers"),
        pytest.param(ConfigDiff(unchanged=("a", "b")), True, id="only-unchanged"),
        pytest.param(ConfigDiff(added=("a",)), False, id="added"),
        pytest.param(ConfigDiff(removed=("a",)), False, id="removed"),
        pytest.param(ConfigDiff(changed=("a",)), False, id="changed"),
        pytest.param(ConfigDiff(described=("a",)), False, id="described"),
    ],
)
def test_a_diff_is_empty_only_when_nothing_but_unchanged_servers(
    diff: ConfigDiff, empty: bool
) -> None:
    assert diff.empty is empty


@pytest.mark.parametrize(
    ("diff", "summary"),
    [
        pytest.param(
            ConfigDiff(unchanged=("u",)),
            {"added": [], "removed": [], "changed": []},
            id="empty-lists-without-described",
        ),
        pytest.param(
            ConfigDiff(added=("a", "b"), removed=("r",), changed=("c",), unchanged=("u",)),
            {"added": ["a", "b"], "removed": ["r"], "changed": ["c"]},
            id="unchanged-is-never-listed",
        ),
        pytest.param(
            ConfigDiff(described=("d",)),
            {"added": [], "removed": [], "changed": [], "described": ["d"]},
            id="described-listed-when-non-empty",
        ),
    ],
)
def test_summary_lists_the_changes_and_described_only_when_present(
    diff: ConfigDiff, summary: dict[str, list[str]]
) -> None:
    assert diff.summary() == summary


def test_kept_servers_are_the_unchanged_and_the_described_ones_sorted() -> None:
    diff = ConfigDiff(unchanged=("b", "d"), described=("c", "a"), changed=("x",))
    assert diff.kept == ("a", "b", "c", "d")


def test_a_diff_cannot_be_modified() -> None:
    diff = ConfigDiff(added=("a",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        diff.added = ()  # type: ignore[misc]


def test_connection_key_ignores_the_description_and_can_be_hashed() -> None:
    old = cfg({"a": {**STDIO, "description": "one"}}).servers["a"]
    new = cfg({"a": {**STDIO, "description": "two"}}).servers["a"]
    assert connection_key(old) == connection_key(new)
    assert len({connection_key(old), connection_key(new)}) == 1


def test_connection_key_carries_the_error_of_the_spec() -> None:
    errored = cfg({"a": {"command": "${MISSING}"}}).servers["a"]
    fine = cfg({"a": {"command": "${MISSING}"}}, {"MISSING": ""}).servers["a"]
    # Both substitute to an empty command; only the error tells them apart.
    assert errored.entry == fine.entry
    assert connection_key(errored) != connection_key(fine)


def test_an_infinite_idle_timeout_is_rejected_not_confused_with_none() -> None:
    with pytest.raises(ConfigError, match="idleTimeout"):
        cfg({"a": {**STDIO, "idleTimeout": float("inf")}})
