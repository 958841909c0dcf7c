"""agent-gateway: one MCP entry in front of many MCP servers, with per-agent policies."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
