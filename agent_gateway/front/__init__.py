"""The FastMCP front: meta-tools, direct mode, notifications, fast route, HTTP and stdio."""
