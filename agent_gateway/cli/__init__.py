"""Command line: ``agent-gateway serve | check | tools | call | init | token``."""

from .main import main, main_exit

__all__ = ["main", "main_exit"]
