"""The argument parser: every command, flag and its ``--help`` text."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # only a type: not subscriptable at runtime
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

from agent_gateway import __version__

EPILOG = """\
files:
  .mcp.json   servers: --config, else $AGENT_GATEWAY_CONFIG, else ./.mcp.json
  policies/   per-agent access: --policies, else $AGENT_GATEWAY_POLICIES, else the
              policies/ folder next to the config (never the working directory).
              Open mode (everything visible) only with no folder, none given, no --agent.

examples:
  agent-gateway serve                               # stdio, for an IDE's mcp.json
  agent-gateway serve --transport http --port 8765  # http://127.0.0.1:8765/mcp
  agent-gateway check                               # validate config and policies
  agent-gateway tools                               # start every server, list tools
  agent-gateway call time get_current_time --args '{"timezone": "UTC"}'
  agent-gateway check --agent reviewer --server github --tool delete_repo
  agent-gateway pins                                # review what pinning holds
  agent-gateway pins approve github create_issue
  agent-gateway login                               # which OAuth servers need a login
  agent-gateway login github                        # log in once (browser flow)

exit codes: 0 ok, 1 error (config, policies, a server, a port in use), 2 usage,
            3 denied (check --server only); no other is used
"""


def _add_files(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="PATH", help="the .mcp.json with the servers")
    p.add_argument("--policies", metavar="DIR", help="the folder of per-agent policy files")
    p.add_argument(
        "--log-level",
        default=os.environ.get("AGENT_GATEWAY_LOG_LEVEL", "info").lower(),
        type=str.lower,
        choices=["debug", "info", "warning", "error"],
        help="stderr log level",
    )
    p.add_argument(
        "--log-format",
        default="text",
        type=str.lower,
        choices=["text", "json"],
        help="stderr log format (json: every line, the libraries' too)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-gateway",
        description="One MCP server in front of many: meta-tools, per-agent policies, hot reload.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"agent-gateway {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_serve(sub)
    _add_check(sub)
    _add_debug_commands(sub)
    _add_file_commands(sub)
    _add_pins(sub)
    _add_login(sub)
    return parser


def _add_serve(sub: Subparsers) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the gateway (stdio by default)",
        description="Run the gateway as an MCP server.",
    )
    _add_files(serve)
    serve.add_argument(
        "--agent",
        default=os.environ.get("AGENT_GATEWAY_AGENT"),
        help="bind every call to this agent's policy ($AGENT_GATEWAY_AGENT)",
    )
    serve.add_argument("--transport", default="stdio", choices=["stdio", "http"])
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP bind address; beyond loopback, some policy must list a token",
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="let --host bind beyond loopback although no policy lists a token",
    )
    serve.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    serve.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="also accept this Host/Origin name over HTTP (repeatable)",
    )
    serve.add_argument(
        "--expose",
        default="meta",
        choices=["meta", "direct", "both"],
        help="meta: the five meta-tools; direct: downstream tools as SERVER__TOOL; both",
    )
    serve.add_argument(
        "--list-wait",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="direct/both: how long a first tools/list waits for servers still starting",
    )
    serve.add_argument(
        "--search",
        default=os.environ.get("AGENT_GATEWAY_SEARCH", "auto"),
        choices=["auto", "lexical", "semantic"],
        help="list_tools(query) ranker: lexical (BM25 over words), semantic (by meaning, "
        "needs the 'semantic' extra), auto (semantic when the extra is installed; default, "
        "or $AGENT_GATEWAY_SEARCH)",
    )
    _add_serve_outputs(serve)


def _add_serve_outputs(serve: argparse.ArgumentParser) -> None:
    """Where the audit lines and the logs of ``serve`` go."""
    serve.add_argument(
        "--audit-log",
        metavar="PATH",
        help="append one JSON line per call_tool: argument names and sizes, not values "
        "('-': stdout, HTTP only)",
    )
    serve.add_argument(
        "--audit-args",
        action="store_true",
        help="--audit-log writes argument values too (configured secrets still redacted)",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="serve Prometheus metrics at http://127.0.0.1:N/metrics (the HTTP front also "
        "answers GET /metrics on its own port)",
    )
    serve.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="--metrics-port bind address (default 127.0.0.1)",
    )
    serve.add_argument(
        "--log-output",
        default="stderr",
        type=str.lower,
        choices=["stderr", "stdout"],
        help="where logs go (stdout: HTTP only; stdio's stdout is the protocol)",
    )


def serve_usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with a ``serve`` command line that parses, or None."""
    if args.command != "serve" or args.transport != "stdio":
        return None
    to_stdout = [
        flag
        for flag, on in (
            ("--audit-log -", args.audit_log == "-"),
            ("--log-output stdout", args.log_output == "stdout"),
        )
        if on
    ]
    if not to_stdout:
        return None
    return (
        f"serve: {' and '.join(to_stdout)} would write to stdout, which carries the MCP "
        "protocol in stdio mode. Use --transport http, or write to a file or stderr."
    )


def _add_check(sub: Subparsers) -> None:
    check = sub.add_parser(
        "check",
        help="validate the config and policies, list servers",
        description="Validate .mcp.json and policies/; exit 1 on any error. With --server "
        "(and --tool), explain one decision for --agent: exit 0 if allowed, 3 if denied.",
    )
    _add_files(check)
    check.add_argument("--agent", help="with --server (and --tool): explain the decision")
    check.add_argument("--server")
    check.add_argument("--tool")


def _add_debug_commands(sub: Subparsers) -> None:
    """``tools`` and ``call``: talk to the downstream servers directly."""
    tools = sub.add_parser(
        "tools",
        help="start every server and list its tools",
        description="Connect to every enabled server directly and list "
        "its tools (for debugging; with --agent, only what its policy allows).",
    )
    _add_files(tools)
    tools.add_argument("--agent", help="list only what this agent's policy allows")
    tools.add_argument("--json", action="store_true", help="print JSON instead of a table")

    call = sub.add_parser(
        "call",
        help="call one tool on one server directly",
        description="Call SERVER's TOOL directly and print the raw result.",
    )
    _add_files(call)
    call.add_argument("--agent", help="apply this agent's policy (denied looks missing)")
    call.add_argument("server")
    call.add_argument("tool")
    call.add_argument("--args", default="{}", metavar="JSON", help="arguments as a JSON object")


def _add_file_commands(sub: Subparsers) -> None:
    """``init`` and ``token``: write starter files, make a bearer token."""
    init = sub.add_parser(
        "init",
        help="write a starter .mcp.json and policies/default.toml",
        description="Write starter files; never overwrites.",
    )
    init.add_argument("--config", default=".mcp.json", metavar="PATH")
    init.add_argument("--policies", default="policies", metavar="DIR")
    init.add_argument(
        "--from",
        dest="from_path",
        metavar="PATH",
        help="import the servers of an existing IDE config (Claude Desktop, "
        "Claude Code, Cursor, VS Code) and print the entry that replaces them",
    )

    token = sub.add_parser(
        "token",
        help="print a new bearer token for an agent",
        description="Print a new random token and the tokens_sha256 line "
        "to paste into policies/NAME.toml.",
    )
    token.add_argument("name")


def _add_pins(sub: Subparsers) -> None:
    """``pins``, ``pins approve`` and ``pins reject`` (cli/pins.py)."""
    pins = sub.add_parser(
        "pins",
        help="review, approve or reject tool, prompt and template definitions held by pinning",
        description="Show the tools, prompts and resource templates the gateway holds "
        "(new or changed since approved), with a diff; approve or reject them. Name a tool "
        "by its name, a prompt as prompt:NAME, a resource template as "
        "template:URI_TEMPLATE. Files: .agent-gateway/pins.json "
        "(approved, commit it) and pending.json next to the config.",
    )
    pins.add_argument("--config", metavar="PATH", help="the .mcp.json with the servers")
    actions = pins.add_subparsers(dest="pins_action", metavar="ACTION")
    for name, text in (
        ("approve", "pin the held definitions: callers see and call them again"),
        ("reject", "keep the approved definition; the held one stays quarantined"),
    ):
        action = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        action.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS)
        action.add_argument("server")
        action.add_argument(
            "tools",
            nargs="*",
            metavar="ITEM",
            help="TOOL, prompt:NAME or template:URI_TEMPLATE; default: everything held",
        )


def _add_login(sub: Subparsers) -> None:
    """``login`` and ``logout`` (cli/login.py): OAuth logins of remote servers."""
    login = sub.add_parser(
        "login",
        help="log in to a server that uses OAuth; alone: list which need a login",
        description='Log in to SERVER (an entry with "auth": "oauth") once, in a browser: '
        "the URL is printed and opened, the answer comes back to a port on this machine, "
        "and the tokens are stored (mode 0600) in your state folder, where a running "
        "gateway picks them up. Without SERVER: list the OAuth servers and their logins.",
    )
    _add_files(login)
    login.add_argument("server", nargs="?")
    login.add_argument(
        "--no-browser", action="store_true", help="only print the URL (open it yourself)"
    )
    login.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the browser to come back (default 300)",
    )
    logout = sub.add_parser(
        "logout",
        help="forget the stored OAuth login of a server",
        description="Delete the stored tokens of SERVER; the gateway then needs a new login.",
    )
    _add_files(logout)
    logout.add_argument("server")
