"""A tiny note-taking MCP server, kept in memory.

Run it over stdio:  python examples/notes_server.py
"""

from __future__ import annotations

import contextlib

from fastmcp import FastMCP

mcp = FastMCP("notes")

_notes: list[str] = []


@mcp.tool
def add_note(text: str) -> str:
    """Save a short note."""
    _notes.append(text)
    return f"Saved note #{len(_notes)}."


@mcp.tool
def list_notes() -> list[str]:
    """List all saved notes."""
    return list(_notes)


@mcp.tool
def search_notes(query: str) -> list[str]:
    """Find notes that contain the query text."""
    q = query.casefold()
    return [note for note in _notes if q in note.casefold()]


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        mcp.run(show_banner=False)
