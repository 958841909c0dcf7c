"""``main(argv) -> int`` so every command is testable in-process.

Exit codes: 0 ok, 1 error (also an interrupted command), 2 usage, 3 denied
(``check --server`` only); no other is used. In
``serve --transport stdio`` stdout is the MCP protocol channel: everything
else goes to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from agent_gateway.cli.parser import build_parser, serve_usage_error
from agent_gateway.core.errors import ConfigError, GatewayError, PolicyError
from agent_gateway.logs import redact, setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "check" and args.tool and not args.server:
            parser.error("check: --tool needs --server (and --agent): the tool of which server?")
        problem = serve_usage_error(args)
        if problem is not None:
            parser.error(problem)
    except SystemExit as exc:
        return int(exc.code or 0)
    from agent_gateway.cli import commands

    if args.command in ("serve", "tools", "call", "login"):
        # fastmcp installs its own (rich, non-propagating) log handlers when first
        # imported; these commands import it anyway, so do it before ours replace them.
        import fastmcp  # noqa: F401

    setup_logging(
        getattr(args, "log_level", "warning"),
        getattr(args, "log_format", "text"),
        output=getattr(args, "log_output", "stderr"),
    )

    handler = getattr(commands, f"cmd_{args.command}")
    try:
        return int(handler(args))
    except (ConfigError, PolicyError) as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except GatewayError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 1


def main_exit() -> None:
    sys.exit(main())
