"""Direct-mode names: ``server__tool`` (at most 64 characters) and ``agw://server/uri``."""

from __future__ import annotations

import hashlib

MAX_NAME = 64
SEP = "__"
URI_PREFIX = "agw://"


def direct_name(server: str, tool: str) -> str:
    """``server__tool``; hashed when longer than 64 characters or when ambiguous.

    The plain form is kept only when it reads back one way: the server holds
    no ``__`` and the tool does not start with ``_`` (else ``a_`` + ``x`` and
    ``a`` + ``_x`` would both be ``a___x``). Other names keep a readable
    prefix and end in a hash of the (server, tool) pair.
    """
    name = f"{server}{SEP}{tool}"
    if len(name) <= MAX_NAME and tool and not tool.startswith("_") and SEP not in server:
        return name
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:10]
    return f"{name[: MAX_NAME - len(digest) - 1]}_{digest}"


def direct_uri(server: str, uri: str) -> str:
    """``agw://{server}/{uri}``: a downstream URI or URI template, kept verbatim."""
    return f"{URI_PREFIX}{server}/{uri}"


def split_direct_uri(uri: str) -> tuple[str, str] | None:
    """The (server, downstream uri) a URI made by :func:`direct_uri` stands for, else None."""
    if not uri.startswith(URI_PREFIX):
        return None
    server, slash, rest = uri[len(URI_PREFIX) :].partition("/")
    if not server or not slash:
        return None
    return server, rest
