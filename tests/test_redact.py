"""Pure redaction: which config values are secrets, which shapes are, and what stays."""

from __future__ import annotations

import pytest

from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.redact import (
    REDACTED,
    Redactor,
    arg_secrets,
    is_secret_value,
    secrets_of,
    url_secrets,
)

R = REDACTED
GH = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123", f"Authorization: Bearer {R}"),
        ("key sk-proj-abcdefghijklmnop1234", f"key {R}"),
        ("anthropic sk-ant-api03-abcdefghijklmnopQRST", f"anthropic {R}"),
        ("stripe sk_live_abcdefghijklmnop1234", f"stripe {R}"),
        (f"gh {GH} end", f"gh {R} end"),
        ("pat github_pat_11ABCDEFG0123456789_abcdefXYZ", f"pat {R}"),
        ("slack xoxb-123456789012-abcdefghij", f"slack {R}"),
        ("aws AKIAIOSFODNN7EXAMPLE.", f"aws {R}."),
        ("gcp AIzaSyA-1234567890abcdefghijklmnopqrstu", f"gcp {R}"),
        ("gitlab glpat-abcdefghij0123456789", f"gitlab {R}"),
        (f"jwt {JWT}", f"jwt {R}"),
        (
            f"key:\n{PEM}\nafter",
            f"key:\n-----BEGIN RSA PRIVATE KEY-----{R}-----END RSA PRIVATE KEY-----\nafter",
        ),
        (
            "cut: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg",
            f"cut: -----BEGIN PRIVATE KEY-----{R}-----END PRIVATE KEY-----",
        ),
        ("API_TOKEN=abc123 next", f"API_TOKEN={R} next"),
        (
            "{'DB_PASSWORD': 'hunter2', 'HOME': '/root'}",
            f"{{'DB_PASSWORD': '{R}', 'HOME': '/root'}}",
        ),
        ('"OPENAI_API_KEY": "x-y-z"', f'"OPENAI_API_KEY": "{R}"'),
        ("https://u:p@h/x?token=t0k&page=2", f"https://{R}@h/x?token={R}&page=2"),
        ("max_tokens: 100, skill-level: 3", "max_tokens: 100, skill-level: 3"),
        (
            "Server 'github' started (pid 12) in 0.4 s.",
            "Server 'github' started (pid 12) in 0.4 s.",
        ),
        ('tokens_sha256 = ["ab12"]', 'tokens_sha256 = ["ab12"]'),
    ],
)
def test_secret_shapes_are_redacted_and_ordinary_text_is_left_alone(
    text: str, expected: str
) -> None:
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("1", False),
        ("abc", False),
        ("true", False),
        ("INFO", False),
        ("production", False),
        ("8080", False),
        ("abcd", True),
        ("12345678", True),
        ("s3cr3t-value", True),
        ("/home/me/.config/token.json", False),  # a path locates a secret; it is not one
    ],
)
def test_short_values_common_words_and_short_numbers_are_not_redacted_everywhere(
    value: str, secret: bool
) -> None:
    assert is_secret_value(value) is secret


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("https://alice:pw-1@h/mcp", {"alice", "pw-1"}),
        ("https://h/mcp?api_key=k1&page=2&sort=name", {"k1"}),
        ("https://h/mcp?access_token=t&X-Amz-Signature=s&auth=a", {"t", "s", "a"}),
        ("https://h/mcp?password=p&q=search", {"p"}),
        ("https://h:notaport/mcp", set()),
    ],
)
def test_url_secrets_are_userinfo_and_key_like_query_values(url: str, found: set[str]) -> None:
    assert url_secrets(url) == found


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["--api-key", "v1", "--verbose"], {"v1"}),
        (["--token=v2", "-p", "3000"], {"v2"}),
        (["serve", "--port", "80"], set()),
        (["https://u:p@h/x"], {"u", "p"}),
    ],
)
def test_arg_secrets_are_the_values_of_key_like_flags(args: list[str], found: set[str]) -> None:
    assert arg_secrets(args) == found


def test_a_config_s_secrets_are_env_headers_userinfo_query_and_flag_values() -> None:
    config = GatewayConfig.from_dict(
        {
            "mcpServers": {
                "local": {
                    "command": "x",
                    "args": ["--api-key", "flag-secret"],
                    "env": {"TOKEN": "${T}", "MODE": "fast"},
                },
                "remote": {
                    "url": "https://u-1:p-2@h/mcp?api_key=q-3&page=4",
                    "headers": {"Authorization": "Bearer h-5", "X-Team": "team-6"},
                },
            }
        },
        environ={"T": "from-env"},
    )
    assert secrets_of(config.servers["local"]) == {"from-env", "fast", "flag-secret"}
    assert secrets_of(config.servers["remote"]) == {
        "u-1",
        "p-2",
        "q-3",
        "Bearer h-5",
        "h-5",
        "team-6",
    }


def test_known_values_are_redacted_in_every_spelling_and_accumulate() -> None:
    redactor = Redactor()
    redactor.add(["pa ss/wörd", "1", "on"])
    assert redactor.redact("a pa ss/wörd b") == f"a {R} b"
    assert redactor.redact("a pa%20ss%2Fw%C3%B6rd b") == f"a {R} b"
    assert redactor.redact('{"v": "pa ss/w\\u00f6rd"}') == f'{{"v": "{R}"}}'
    assert redactor.redact("port 1 is on") == "port 1 is on"  # too short to be a secret
    redactor.add(["later-secret"])  # a reload's new value joins; the old ones stay
    assert redactor.redact("later-secret and pa ss/wörd") == f"{R} and {R}"


def test_a_longer_secret_containing_a_shorter_one_is_redacted_whole() -> None:
    redactor = Redactor()
    redactor.add(["abcd", "abcd-efgh-ijkl"])
    assert redactor.redact("x abcd-efgh-ijkl y") == f"x {R} y"


def test_redact_tree_cleans_every_string_of_a_json_like_value() -> None:
    redactor = Redactor()
    redactor.add(["s3cr3t-value"])
    data = {"servers": [{"error": "bad s3cr3t-value", "pid": 3, "ok": True, "tail": None}]}
    assert redactor.redact_tree(data) == {
        "servers": [{"error": f"bad {R}", "pid": 3, "ok": True, "tail": None}]
    }


def test_an_oauth_client_secret_is_a_secret_of_its_server() -> None:
    entry = {"url": "https://m.example.com/mcp", "auth": "oauth", "clientSecret": "${S}"}
    config = GatewayConfig.from_dict({"mcpServers": {"x": entry}}, environ={"S": "oauth-s3cret"})
    assert "oauth-s3cret" in secrets_of(config.servers["x"])
