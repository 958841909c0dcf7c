"""fastmcp's own proxy in front of the echo server, over stdio (a baseline for overhead.py).

Run: python bench/_fastmcp_proxy.py [NAME]   (NAME: the proxy's server name)
It uses ``fastmcp.server.create_proxy`` with its defaults: the backend era mirrors the
front connection's era, and (as fastmcp does for a transport target) each front request
gets a fresh backend session over one kept-alive echo process.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path

from fastmcp.client.transports import StdioTransport
from fastmcp.server import create_proxy

ECHO = Path(__file__).resolve().parent.parent / "tests" / "servers" / "echo_server.py"

warnings.filterwarnings("ignore")


def main() -> None:
    backend = StdioTransport(sys.executable, [str(ECHO)])
    name = sys.argv[1] if len(sys.argv) > 1 else "fastmcp-proxy"
    proxy = create_proxy(backend, name=name)
    proxy.run(show_banner=False, log_level="WARNING")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
