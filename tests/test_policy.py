"""Policy decisions (table-driven and property-based) and the policies/ loader."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_gateway.core.errors import PolicyError
from agent_gateway.core.policy import (
    Decision,
    Policy,
    PolicySet,
    Rules,
    _evaluate,
    default_policies_path,
    glob_match,
    server_visible,
    tool_allowed,
)

FAST = settings(max_examples=200, deadline=None)


def policy(**data: Any) -> Policy:
    return Policy.from_dict(data)


# --------------------------------------------------------------------------- globs

GLOB_CASES = [
    ("star-matches-anything", "web-*", "web-search", True),
    ("star-matches-empty", "web-*", "web-", True),
    ("star-alone-matches-empty-name", "*", "", True),
    ("star-is-full-match-only", "web", "web-search", False),
    ("star-in-middle", "a*z", "abcz", True),
    ("star-in-middle-needs-suffix", "a*z", "abcy", False),
    ("question-one-char", "db?", "db1", True),
    ("question-not-zero-chars", "db?", "db", False),
    ("question-not-two-chars", "db?", "db12", False),
    ("dot-is-literal", "a.b", "axb", False),
    ("dot-matches-dot", "a.b", "a.b", True),
    ("brackets-are-literal", "[ab]", "a", False),
    ("brackets-match-themselves", "[ab]", "[ab]", True),
    ("case-sensitive", "Postgres", "postgres", False),
    ("case-sensitive-star", "P*", "postgres", False),
    ("empty-glob-matches-empty", "", "", True),
    ("empty-glob-matches-nothing-else", "", "x", False),
    ("plus-is-literal", "a+", "aa", False),
    ("backslash-is-literal", "a\\b", "a\\b", True),
    ("many-stars-collapse", "a***b", "ab", True),
]


@pytest.mark.parametrize(
    ("glob", "name", "expected"), [c[1:] for c in GLOB_CASES], ids=[c[0] for c in GLOB_CASES]
)
def test_glob_matches_whole_name_with_star_and_question_only(
    glob: str, name: str, expected: bool
) -> None:
    assert glob_match(glob, name) is expected


# ----------------------------------------------------------------------- decisions

BACKEND = {
    "allow": {
        "servers": ["postgres", "web-*", "files", "prod-db"],
        "tools": {"postgres": ["query", "list_*"], "files": []},
    },
    "deny": {"servers": ["prod-*"], "tools": {"*": ["delete_*", "drop_*"]}},
}
MULTI_KEYS = {
    "allow": {"servers": ["*"], "tools": {"db-*": ["read"], "*-main": ["write"]}},
}
DENY_ONLY_TOOLS = {
    "allow": {"servers": ["*"], "tools": {"*": ["delete_row", "query"]}},
    "deny": {"tools": {"db": ["delete_*"]}},
}

# (id, policy, server, tool or None, allowed)
DECISIONS: list[tuple[str, dict[str, Any], str, str | None, bool]] = [
    ("allow-servers-literal-visible", BACKEND, "postgres", None, True),
    ("allow-servers-glob-visible", BACKEND, "web-search", None, True),
    ("no-allow-servers-match-invisible", BACKEND, "redis", None, False),
    ("empty-policy-sees-nothing", {}, "postgres", None, False),
    ("deny-servers-beats-allow-servers", BACKEND, "prod-db", None, False),
    ("no-allow-tools-key-allows-all-tools", BACKEND, "web-search", "fetch", True),
    ("allow-tools-narrows-to-listed", BACKEND, "postgres", "query", True),
    ("allow-tools-glob-narrows", BACKEND, "postgres", "list_tables", True),
    ("allow-tools-excludes-unlisted", BACKEND, "postgres", "insert", False),
    ("empty-tools-list-allows-nothing", BACKEND, "files", "read", False),
    ("empty-tools-list-keeps-server-visible", BACKEND, "files", None, True),
    ("deny-tools-star-key-on-any-server", BACKEND, "web-search", "delete_page", False),
    ("deny-tools-beats-allow-tools", DENY_ONLY_TOOLS, "db", "delete_row", False),
    ("deny-tools-key-limits-servers", DENY_ONLY_TOOLS, "other", "delete_row", True),
    ("unrelated-deny-keeps-allow-tools-glob", BACKEND, "postgres", "list_x", True),
    ("deny-tools-star-on-narrowed-server", BACKEND, "postgres", "drop_table", False),
    ("tool-of-invisible-server-denied", BACKEND, "redis", "get", False),
    ("tool-of-denied-server-denied", BACKEND, "prod-db", "query", False),
    ("multiple-allow-tools-keys-union-first", MULTI_KEYS, "db-main", "read", True),
    ("multiple-allow-tools-keys-union-second", MULTI_KEYS, "db-main", "write", True),
    ("multiple-allow-tools-keys-neither", MULTI_KEYS, "db-main", "drop", False),
    ("only-matching-allow-tools-keys-count", MULTI_KEYS, "db-x", "write", False),
    ("tool-names-case-sensitive", BACKEND, "postgres", "Query", False),
]


@pytest.mark.parametrize(
    ("data", "server", "tool", "expected"),
    [c[1:] for c in DECISIONS],
    ids=[c[0] for c in DECISIONS],
)
def test_decision_follows_the_documented_rules(
    data: dict[str, Any], server: str, tool: str | None, expected: bool
) -> None:
    p = Policy.from_dict(data)
    if tool is None:
        assert server_visible(p, server) is expected
    else:
        assert tool_allowed(p, server, tool) is expected


RULES = [
    (
        "allowed-no-allow-tools-key",
        {"allow": {"servers": ["web-*"]}},
        "web-search",
        "fetch",
        "allowed: allow.servers 'web-*' matches 'web-search' and no allow.tools key matches it",
    ),
    (
        "denied-deny-tools",
        BACKEND,
        "postgres",
        "delete_row",
        "denied: deny.tools['*'] 'delete_*' matches 'delete_row'",
    ),
    ("denied-no-allow-servers", BACKEND, "x", None, "denied: no allow.servers glob matches 'x'"),
    (
        "denied-deny-servers",
        BACKEND,
        "prod-db",
        "query",
        "denied: deny.servers 'prod-*' matches 'prod-db'",
    ),
    (
        "allowed-allow-tools",
        BACKEND,
        "postgres",
        "list_x",
        "allowed: allow.tools['postgres'] 'list_*' matches 'list_x'",
    ),
    (
        "denied-empty-list",
        BACKEND,
        "files",
        "read",
        "denied: allow.tools['files'] lists no glob matching 'read'",
    ),
    (
        "denied-several-keys",
        MULTI_KEYS,
        "db-main",
        "drop",
        "denied: allow.tools['db-*'], allow.tools['*-main'] list no glob matching 'drop'",
    ),
    ("allowed-visible", BACKEND, "web-a", None, "allowed: allow.servers 'web-*' matches 'web-a'"),
]


@pytest.mark.parametrize(
    ("data", "server", "tool", "expected"), [c[1:] for c in RULES], ids=[c[0] for c in RULES]
)
def test_decision_rule_names_the_matching_rule(
    data: dict[str, Any], server: str, tool: str | None, expected: str
) -> None:
    assert _evaluate(Policy.from_dict(data), server, tool).rule == expected


def test_deny_tools_wins_over_allow_tools() -> None:
    p = policy(allow={"servers": ["db"], "tools": {"db": ["*"]}}, deny={"tools": {"db": ["drop"]}})
    assert not tool_allowed(p, "db", "drop")
    assert tool_allowed(p, "db", "select")


def test_explain_is_the_decision_for_an_agent() -> None:
    ps = PolicySet.from_dicts({"bob": BACKEND})
    assert ps.explain("bob", "postgres", "insert") == Decision(
        False, "denied: allow.tools['postgres'] lists no glob matching 'insert'"
    )
    assert ps.explain("bob", "postgres", "query").allowed


def test_agent_without_policy_file_is_denied_with_a_hint() -> None:
    ps = PolicySet.from_dicts({"alice": BACKEND})
    d = ps.explain("bob", "postgres", None)
    assert d == Decision(False, "denied: agent 'bob' has no policy file (create policies/bob.toml)")
    assert ps.hint_for("bob") == (
        "No policy for agent 'bob': create policies/bob.toml (see README, Policies)."
    )
    assert ps.hint_for("alice") is None
    assert ps.hint_for(None) is None
    assert ps.visible_servers("bob", ["postgres", "web-x"]) == []


def test_no_identity_uses_default_policy_or_nothing() -> None:
    without = PolicySet.from_dicts({"alice": BACKEND})
    assert without.explain(None, "postgres", None) == Decision(
        False, "denied: no identity and no policies/default.toml"
    )
    with_default = PolicySet.from_dicts({"default": {"allow": {"servers": ["web-*"]}}})
    assert with_default.visible_servers(None, ["postgres", "web-a", "web-b"]) == ["web-a", "web-b"]


def test_identified_agent_without_file_does_not_fall_back_to_default() -> None:
    ps = PolicySet.from_dicts({"default": {"allow": {"servers": ["*"]}}})
    assert ps.visible_servers(None, ["web-a"]) == ["web-a"]
    assert ps.visible_servers("bob", ["web-a"]) == []
    assert not ps.tool_allowed("bob", "web-a", "get")


def test_open_mode_allows_everything_and_says_so() -> None:
    ps = PolicySet.open()
    assert ps.open_mode
    assert ps.explain("anyone", "prod-db", "drop") == Decision(
        True, "allowed: open mode (no policies folder)"
    )
    assert ps.visible_servers(None, ["a", "b"]) == ["a", "b"]
    p = ps.policy_for("x")
    assert p is not None and p.allow.servers == ("*",)
    assert ps.hint_for("bob") is None


def test_visible_servers_keeps_order_and_filters() -> None:
    ps = PolicySet.from_dicts({"bob": BACKEND})
    names = ["web-b", "redis", "prod-db", "postgres", "web-a"]
    assert ps.visible_servers("bob", names) == ["web-b", "postgres", "web-a"]


# ---------------------------------------------------------------- property tests

ALPHABET = "ab"
names = st.text(ALPHABET, max_size=3)
globs = st.text(ALPHABET + "*?", max_size=3)
glob_lists = st.lists(globs, max_size=3).map(tuple)
tool_maps = st.none() | st.dictionaries(globs, glob_lists, max_size=3)
rules = st.builds(Rules, servers=glob_lists, tools=tool_maps)
policies = st.builds(Policy, allow=rules, deny=rules)


def _with(p: Policy, side: str, **changes: Any) -> Policy:
    old: Rules = getattr(p, side)
    return p.model_copy(update={side: old.model_copy(update=changes)})


@FAST
@given(glob=st.text(ALPHABET + "*?.", max_size=4), name=st.text(ALPHABET + ".", max_size=4))
def test_glob_agrees_with_fnmatchcase_when_no_brackets(glob: str, name: str) -> None:
    assert glob_match(glob, name) is fnmatch.fnmatchcase(name, glob)


@FAST
@given(p=policies, server=names, tool=names)
def test_deny_always_wins(p: Policy, server: str, tool: str) -> None:
    server_denied = any(glob_match(g, server) for g in p.deny.servers)
    tool_denied = any(
        glob_match(key, server) and any(glob_match(g, tool) for g in tool_globs)
        for key, tool_globs in (p.deny.tools or {}).items()
    )
    if server_denied:
        assert not server_visible(p, server)
    if server_denied or tool_denied:
        assert not tool_allowed(p, server, tool)


@FAST
@given(p=policies, extra=globs, key=globs, server=names, tool=names)
def test_adding_a_deny_rule_never_widens_access(
    p: Policy, extra: str, key: str, server: str, tool: str
) -> None:
    more_servers = _with(p, "deny", servers=(*p.deny.servers, extra))
    tools = dict(p.deny.tools or {})
    tools[key] = (*tools.get(key, ()), extra)
    more_tools = _with(p, "deny", tools=tools)
    for stricter in (more_servers, more_tools):
        assert server_visible(stricter, server) <= server_visible(p, server)
        assert tool_allowed(stricter, server, tool) <= tool_allowed(p, server, tool)


@FAST
@given(p=policies, extra=globs, server=names, tool=names)
def test_adding_an_allow_servers_glob_never_narrows_access(
    p: Policy, extra: str, server: str, tool: str
) -> None:
    wider = _with(p, "allow", servers=(*p.allow.servers, extra))
    assert server_visible(wider, server) >= server_visible(p, server)
    assert tool_allowed(wider, server, tool) >= tool_allowed(p, server, tool)


@FAST
@given(
    agents=st.dictionaries(st.text("xy", min_size=1, max_size=2), policies, max_size=3),
    servers=st.lists(names, max_size=5),
    tool=names,
)
def test_unknown_agent_and_anonymous_caller_without_default_see_nothing(
    agents: dict[str, Policy], servers: list[str], tool: str
) -> None:
    ps = PolicySet.from_dicts(agents)
    for caller in ("stranger", None):
        assert ps.policy_for(caller) is None
        assert ps.visible_servers(caller, servers) == []
        assert not any(ps.tool_allowed(caller, s, tool) for s in servers)


@FAST
@given(p=policies, server=names, tool=names)
def test_explain_agrees_with_the_decision(p: Policy, server: str, tool: str) -> None:
    ps = PolicySet.from_dicts({"bob": p})
    assert ps.explain("bob", server, tool).allowed is tool_allowed(p, server, tool)
    assert ps.explain("bob", server, None).allowed is server_visible(p, server)
    assert ps.tool_allowed("bob", server, tool) is tool_allowed(p, server, tool)
    if tool_allowed(p, server, tool):
        assert server_visible(p, server)


# --------------------------------------------------------------------- validation


def test_unknown_top_level_key_is_an_error_listing_allowed_keys() -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_dict({"alow": {"servers": ["*"]}})
    allowed = "description, allow, deny, tokens_sha256, rate"
    assert f"unknown key 'alow' (allowed: {allowed})" in str(err.value)


def test_unknown_nested_key_is_an_error_with_its_location() -> None:
    with pytest.raises(
        PolicyError, match=r"deny: unknown key 'server' \(allowed: servers, tools\)"
    ):
        Policy.from_dict({"deny": {"server": ["prod"]}})


def test_wrong_type_error_names_the_dotted_location() -> None:
    with pytest.raises(PolicyError, match=r"allow\.servers\[0\]: Input should be a valid string"):
        Policy.from_dict({"allow": {"servers": [1]}})
    with pytest.raises(PolicyError, match=r"deny\.tools\['\*'\]\[1\]: Input should be a valid"):
        Policy.from_dict({"deny": {"tools": {"*": ["a", 2]}}})


def test_top_level_that_is_not_a_table_is_an_error() -> None:
    with pytest.raises(PolicyError, match="top level must be a table"):
        Policy.from_dict(["allow"])


def test_bad_tokens_sha256_is_an_error_that_does_not_echo_the_value() -> None:
    for bad in ["abc", "A" * 64, "g" * 64, "a" * 65]:
        with pytest.raises(PolicyError, match=r"tokens_sha256\[0\]: must be a SHA-256") as err:
            Policy.from_dict({"tokens_sha256": [bad]})
        assert bad not in str(err.value)
    assert Policy.from_dict({"tokens_sha256": ["0" * 64]}).tokens_sha256 == ("0" * 64,)


def test_policies_are_frozen() -> None:
    p = policy(allow={"servers": ["a"]})
    with pytest.raises(ValueError, match="frozen"):
        p.description = "x"


def test_from_dicts_names_the_broken_agent() -> None:
    with pytest.raises(PolicyError, match=r"agent 'bob': .*unknown key 'alow'"):
        PolicySet.from_dicts({"alice": {}, "bob": {"alow": {}}})


def test_same_token_for_two_agents_is_an_error() -> None:
    digest = hashlib.sha256(b"t").hexdigest()
    with pytest.raises(PolicyError, match="same token is listed for agents 'a' and 'b'"):
        PolicySet.from_dicts({"a": {"tokens_sha256": [digest]}, "b": {"tokens_sha256": [digest]}})


# ------------------------------------------------------------------------- tokens


def test_token_lookup_finds_the_agent_and_a_wrong_token_finds_none() -> None:
    tok_a, tok_b = "secret-a", "secret-b"
    ps = PolicySet.from_dicts(
        {
            "a": {"tokens_sha256": [hashlib.sha256(tok_a.encode()).hexdigest()]},
            "b": {"tokens_sha256": ["0" * 64, hashlib.sha256(tok_b.encode()).hexdigest()]},
        }
    )
    assert ps.agent_for_token(tok_a) == "a"
    assert ps.agent_for_token(tok_b) == "b"
    assert ps.agent_for_token("secret-c") is None
    assert ps.agent_for_token("") is None
    assert ps.agent_for_token(hashlib.sha256(tok_a.encode()).hexdigest()) is None


# ------------------------------------------------------------------------- loader


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_from_dir_loads_toml_and_json_with_the_same_schema(tmp_path: Path) -> None:
    write(tmp_path, "bob.toml", '[allow]\nservers = ["web-*"]\n[allow.tools]\n"web-*" = ["get"]\n')
    write(
        tmp_path,
        "eve.json",
        json.dumps({"allow": {"servers": ["web-*"], "tools": {"web-*": ["get"]}}}),
    )
    ps = PolicySet.from_dir(str(tmp_path), explicit=True)
    assert ps.agents["bob"] == ps.agents["eve"]
    assert set(ps.agents) == {"bob", "eve"}
    assert ps.tool_allowed("eve", "web-a", "get")
    assert not ps.tool_allowed("eve", "web-a", "post")
    assert ps.path == str(tmp_path) and ps.explicit and not ps.open_mode


def test_from_dir_ignores_dotfiles_editor_temp_files_and_other_files(tmp_path: Path) -> None:
    write(tmp_path, "bob.toml", '[allow]\nservers = ["*"]\n')
    for junk in [
        ".hidden.toml",
        ".#bob.toml",
        "bob.toml~",
        "bob.toml.swp",
        "notes.txt",
        "#a.toml#",
    ]:
        write(tmp_path, junk, "this is not toml = = =")
    (tmp_path / "dir.toml").mkdir()
    ps = PolicySet.from_dir(str(tmp_path), explicit=True)
    assert set(ps.agents) == {"bob"}


def test_unknown_key_in_a_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bob.toml", '[alow]\nservers = ["*"]\n')
    with pytest.raises(PolicyError) as err:
        PolicySet.from_dir(str(tmp_path), explicit=True)
    assert err.value.path == str(path)
    assert str(err.value).startswith(f"{path}: unknown key 'alow'")


@pytest.mark.parametrize(
    ("rate", "problem"),
    [
        ('"fast"', "is not a count per unit"),
        ('"3/day"', "unknown unit 'day'"),
        ('"0/min"', "at least 1"),
        ("60", "valid string"),
    ],
)
def test_an_invalid_rate_is_an_error_naming_the_file(
    tmp_path: Path, rate: str, problem: str
) -> None:
    path = write(tmp_path, "bob.toml", f'rate = {rate}\n[allow]\nservers = ["*"]\n')
    with pytest.raises(PolicyError) as err:
        PolicySet.from_dir(str(tmp_path), explicit=True)
    assert str(err.value).startswith(f"{path}: rate: ")
    assert problem in str(err.value)


def test_a_valid_rate_reads_as_a_count_per_period(tmp_path: Path) -> None:
    write(tmp_path, "bob.toml", 'rate = "90/h"\n[allow]\nservers = ["*"]\n')
    policy = PolicySet.from_dir(str(tmp_path), explicit=True).agents["bob"]
    assert policy.rate_limit is not None
    assert (policy.rate_limit.count, policy.rate_limit.period) == (90, 3600.0)


def test_toml_syntax_error_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bob.toml", 'description = "x"\n[allow]\nservers = [@]\n')
    with pytest.raises(PolicyError, match=r"invalid TOML at line 3, column 12") as err:
        PolicySet.from_dir(str(tmp_path), explicit=True)
    assert err.value.path == str(path)


def test_toml_error_at_end_of_document_still_reports_a_line(tmp_path: Path) -> None:
    write(tmp_path, "bob.toml", 'description = "x"\nservers = ')
    with pytest.raises(PolicyError, match=r"invalid TOML at line 2, column 11: Invalid value\."):
        PolicySet.from_dir(str(tmp_path), explicit=True)


def test_json_syntax_error_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bob.json", '{\n  "allow": {"servers": [,]}\n}\n')
    with pytest.raises(PolicyError, match=r"invalid JSON at line 2, column 25") as err:
        PolicySet.from_dir(str(tmp_path), explicit=True)
    assert err.value.path == str(path)


def test_a_json_policy_may_hold_comments_and_trailing_commas(tmp_path: Path) -> None:
    write(tmp_path, "bob.json", '{\n  // read only\n  "allow": {"servers": ["web-*",],},\n}\n')
    ps = PolicySet.from_dir(str(tmp_path), explicit=True)
    assert ps.server_visible("bob", "web-a")


def test_a_json_policy_error_after_a_comment_keeps_its_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, "bob.json", '{\n  /* x */ "allow": {"servers": ["a" "b"]}\n}\n')
    with pytest.raises(PolicyError, match=r"invalid JSON at line 2, column 37"):
        PolicySet.from_dir(str(tmp_path), explicit=True)


def test_toml_and_json_for_the_same_agent_is_an_error_naming_both(tmp_path: Path) -> None:
    toml = write(tmp_path, "a.toml", "")
    js = write(tmp_path, "a.json", "{}")
    with pytest.raises(PolicyError) as err:
        PolicySet.from_dir(str(tmp_path), explicit=True)
    assert str(toml) in str(err.value) and str(js) in str(err.value)


def test_missing_explicit_folder_is_an_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(PolicyError) as err:
        PolicySet.from_dir(missing, explicit=True)
    assert str(err.value) == f"policies folder not found: {missing}. Create it or fix --policies."


def test_missing_implicit_folder_means_open_mode(tmp_path: Path) -> None:
    missing = str(tmp_path / "policies")
    ps = PolicySet.from_dir(missing, explicit=False)
    assert ps.open_mode and ps.path == missing
    assert ps.server_visible("anyone", "anything")


def test_existing_empty_folder_is_not_open_mode(tmp_path: Path) -> None:
    ps = PolicySet.from_dir(str(tmp_path), explicit=False)
    assert not ps.open_mode
    assert not ps.server_visible(None, "anything")


def test_path_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "policies", "")
    with pytest.raises(PolicyError, match="is not a folder"):
        PolicySet.from_dir(str(path), explicit=False)


def test_bad_token_hash_in_a_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "bob.toml", 'tokens_sha256 = ["not-a-hash"]\n')
    with pytest.raises(PolicyError, match=r"bob\.toml: tokens_sha256\[0\]: must be a SHA-256"):
        PolicySet.from_dir(str(tmp_path), explicit=True)


def test_check_dir_collects_every_broken_file(tmp_path: Path) -> None:
    write(tmp_path, "good.toml", '[allow]\nservers = ["*"]\n')
    bad1 = write(tmp_path, "bad1.toml", "servers = [\n")
    bad2 = write(tmp_path, "bad2.json", '{"deny": {"servers": "x"}}')
    bad3 = write(tmp_path, "bad3.toml", 'tokens_sha256 = ["x"]\n')
    ps, errors = PolicySet.check_dir(str(tmp_path), True)
    assert ps is None
    assert sorted(e.path or "" for e in errors) == sorted(map(str, [bad1, bad2, bad3]))


def test_check_dir_on_a_good_folder_returns_the_set_and_no_errors(tmp_path: Path) -> None:
    write(tmp_path, "default.toml", '[allow]\nservers = ["web-*"]\n')
    ps, errors = PolicySet.check_dir(str(tmp_path), explicit=False)
    assert errors == []
    assert ps is not None and ps.visible_servers(None, ["web-a", "db"]) == ["web-a"]


def test_token_from_a_policy_file_identifies_the_agent(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"tok-123").hexdigest()
    write(tmp_path, "ci.toml", f'tokens_sha256 = ["{digest}"]\n[allow]\nservers = ["*"]\n')
    ps = PolicySet.from_dir(str(tmp_path), explicit=True)
    assert ps.agent_for_token("tok-123") == "ci"
    assert ps.agent_for_token("tok-124") is None


# ---------------------------------------------------------------------- path choice

PATHS = [
    ("flag-wins", "from-flag", {"AGENT_GATEWAY_POLICIES": "from-env"}, ("from-flag", True)),
    ("env-next", None, {"AGENT_GATEWAY_POLICIES": "from-env"}, ("from-env", True)),
    ("default-is-next-to-the-config", None, {}, ("/ide/proj/policies", False)),
    ("empty-env-is-unset", None, {"AGENT_GATEWAY_POLICIES": ""}, ("/ide/proj/policies", False)),
]


@pytest.mark.parametrize(
    ("flag", "environ", "expected"), [c[1:] for c in PATHS], ids=[c[0] for c in PATHS]
)
def test_policies_path_is_flag_then_env_then_the_folder_next_to_the_config(
    flag: str | None, environ: dict[str, str], expected: tuple[str, bool]
) -> None:
    assert default_policies_path(flag, environ, "/ide/proj/.mcp.json") == expected


def test_the_default_policies_folder_never_depends_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    path, explicit = default_policies_path(None, {}, str(tmp_path / "proj" / ".mcp.json"))
    assert (path, explicit) == (str(tmp_path / "proj" / "policies"), False)
    monkeypatch.chdir(tmp_path)  # a relative config path: its folder, made absolute
    assert default_policies_path(None, {}, "sub/.mcp.json")[0] == str(tmp_path / "sub" / "policies")


# ------------------------------------------------------------- open mode

# (id, folder exists, explicit, agent bound, expected: "open" | "closed" | "error")
OPEN_MODE_CASES = [
    ("nothing-given-no-folder", False, False, False, "open"),
    ("agent-bound-no-folder", False, False, True, "closed"),
    ("explicit-missing-folder", False, True, False, "error"),
    ("explicit-missing-folder-and-agent", False, True, True, "error"),
    ("folder-exists", True, False, False, "closed"),
    ("folder-exists-and-agent", True, False, True, "closed"),
]


@pytest.mark.parametrize(
    ("exists", "explicit", "bound", "expected"),
    [c[1:] for c in OPEN_MODE_CASES],
    ids=[c[0] for c in OPEN_MODE_CASES],
)
def test_open_mode_only_without_folder_path_or_bound_agent(
    tmp_path: Path, exists: bool, explicit: bool, bound: bool, expected: str
) -> None:
    folder = tmp_path / "policies"
    if exists:
        folder.mkdir()
    if expected == "error":
        with pytest.raises(PolicyError, match="not found"):
            PolicySet.from_dir(str(folder), explicit=explicit, agent_bound=bound)
        return
    ps = PolicySet.from_dir(str(folder), explicit=explicit, agent_bound=bound)
    assert ps.open_mode is (expected == "open")
    assert ps.server_visible("alice", "anything") is (expected == "open")


def test_a_bound_agent_without_a_policies_folder_sees_nothing_and_is_told_the_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "policies"
    ps = PolicySet.from_dir(str(folder), explicit=False, agent_bound=True)
    assert not ps.open_mode and ps.agents == {}
    assert ps.visible_servers("alice", ["a", "b"]) == []
    assert not ps.tool_allowed("alice", "a", "t")
    hint = ps.hint_for("alice") or ""
    assert str(folder / "alice.toml") in hint
    assert "policies/alice.toml" in ps.explain("alice", "a").rule


# ------------------------------------------------------------- glob cost, long names

HUGE = "x" * 500_000


def test_glob_matching_a_huge_name_is_bounded_in_time() -> None:
    import time

    started = time.perf_counter()
    for glob in ("*delete*all*", "*a*b*c*d*", "*?*?*?*z"):
        assert glob_match(glob, HUGE) is False
        assert glob_match(glob, "delete_" + HUGE[:200] + "all") is (glob == "*delete*all*")
    assert time.perf_counter() - started < 0.5


# (id, glob, name, expected)
LONG_NAME_CASES = [
    ("256-chars-still-match", "*", "a" * 256, True),
    ("257-chars-match-nothing", "*", "a" * 257, False),
    ("257-chars-literal-matches-nothing", "a" * 257, "a" * 257, False),
    ("huge-name-matches-no-star", "*", HUGE, False),
]


@pytest.mark.parametrize(
    ("glob", "name", "expected"),
    [c[1:] for c in LONG_NAME_CASES],
    ids=[c[0] for c in LONG_NAME_CASES],
)
def test_names_over_256_characters_match_nothing(glob: str, name: str, expected: bool) -> None:
    assert glob_match(glob, name) is expected


def test_a_tool_or_server_name_over_256_characters_is_never_allowed() -> None:
    # No allow.tools key for "pub": every tool would pass, and deny.tools could not
    # match a name too long to match; the length cap must deny, not allow.
    p = policy(allow={"servers": ["*"]}, deny={"tools": {"*": ["delete_*"]}})
    long_tool = "delete_" + "x" * 300
    assert tool_allowed(p, "pub", "delete_x") is False
    assert tool_allowed(p, "pub", long_tool) is False
    assert server_visible(p, "s" * 257) is False
    assert tool_allowed(p, "s" * 257, "echo") is False
    assert "256" in PolicySet.from_dicts({"a": p}).explain("a", "pub", long_tool).rule


@FAST
@given(p=policies, server=names, tool=names, pad=st.integers(257, 400))
def test_a_name_over_the_cap_is_never_visible_nor_allowed(
    p: Policy, server: str, tool: str, pad: int
) -> None:
    long = (server + "a" * pad)[:pad]
    assert not server_visible(p, long)
    assert not tool_allowed(p, long, tool)
    assert not tool_allowed(p, server, long)


@FAST
@given(glob=st.text(ALPHABET + "*?", max_size=6), name=st.text(ALPHABET, max_size=8))
def test_glob_agrees_with_fnmatchcase_on_star_heavy_globs(glob: str, name: str) -> None:
    assert glob_match(glob, name) is fnmatch.fnmatchcase(name, glob)


# ------------------------------------------------------------- JSON duplicate keys

DUPLICATE_JSON_CASES = [
    ("top-level", '{"allow": {"servers": ["*"]}, "allow": {"servers": []}}', "'allow'"),
    (
        "deny-dropped",
        '{"allow": {"servers": ["*"]}, "deny": {"servers": ["x"]}, "deny": {}}',
        "'deny'",
    ),
    ("nested", '{"allow": {"servers": ["*"], "servers": []}}', "'servers'"),
    ("tool-glob-key", '{"deny": {"tools": {"*": ["a"], "*": []}}}', "'*'"),
]


@pytest.mark.parametrize(
    ("text", "key"), [c[1:] for c in DUPLICATE_JSON_CASES], ids=[c[0] for c in DUPLICATE_JSON_CASES]
)
def test_a_duplicated_json_key_is_an_error_naming_the_key_and_file(
    tmp_path: Path, text: str, key: str
) -> None:
    path = write(tmp_path, "bob.json", text)
    with pytest.raises(PolicyError) as err:
        PolicySet.from_dir(str(tmp_path), explicit=True)
    message = str(err.value)
    assert str(path) in message and key in message and "twice" in message
