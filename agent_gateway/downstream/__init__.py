"""Downstream servers: sessions, supervision, stdio transport, process groups, the ProxyManager."""
