"""``main(argv) -> int`` so every command is testable in-process.

Exit codes: 0 ok, 1 user error, 2 usage, 3 denied (``check`` only). In
``serve --transport stdio`` stdout is the MCP protocol channel: everything
else goes to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from agent_gateway.cli.parser import build_parser
from agent_gateway.core.errors import ConfigError, GatewayError, PolicyError
from agent_gateway.logs import redact, setup_logging


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    from agent_gateway.cli import commands  # imports fastmcp, which installs its own log handlers

    setup_logging(getattr(args, "log_level", "warning"), getattr(args, "log_format", "text"))

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
        return 130


def main_exit() -> None:
    sys.exit(main())
