"""``agent-gateway login [SERVER]`` and ``agent-gateway logout SERVER``: OAuth logins.

``login SERVER`` runs the browser flow once from a terminal (downstream/oauth.py):
the URL goes to stderr, the browser opens when it can (``--no-browser``: it
does not), the redirect comes back to a loopback port, and the tokens go to
the server's login file (0600) in the user's state folder, where a running
gateway picks them up on its next call. ``login`` alone lists the servers
that use OAuth and whether each needs a login. ``logout SERVER`` forgets the
stored tokens. No token is ever printed.
"""

from __future__ import annotations

import argparse
import asyncio

from agent_gateway.cli.output import counted, err, load_config, out
from agent_gateway.core.config import GatewayConfig, ServerSpec, oauth_entry
from agent_gateway.core.errors import GatewayError


def _oauth_spec(config: GatewayConfig, name: str) -> ServerSpec:
    spec = config.servers.get(name)
    if spec is None:
        raise GatewayError(f"Unknown server {name!r} in {config.path}.")
    if oauth_entry(spec) is None:
        raise GatewayError(
            f'Server {name!r} does not use OAuth; add "auth": "oauth" to its entry to log in.'
        )
    if spec.error:
        raise GatewayError(f"Server {name!r} cannot be used: {spec.error}")
    return spec


def cmd_login(args: argparse.Namespace) -> int:
    config = load_config(args)
    if args.server is None:
        return _list(config)
    spec = _oauth_spec(config, args.server)
    from agent_gateway.downstream.oauth import login
    from agent_gateway.downstream.tokenstore import TokenFile

    try:
        count = asyncio.run(
            login(spec, say=err, open_browser=not args.no_browser, timeout=args.timeout)
        )
    except GatewayError:
        raise
    except Exception as exc:  # the flow's errors (HTTP, OAuth, the SDK), said in one line
        from agent_gateway.downstream.session import _root_cause
        from agent_gateway.downstream.translate import translate_backend_error

        raise translate_backend_error(spec.name, _root_cause(exc)) from exc
    path = TokenFile.of(spec.name, getattr(spec.entry, "url", "")).path
    out(f"Logged in to {spec.name!r} ({counted(count, 'tool')}). The login is stored in {path}.")
    out("A running gateway uses it on its next call to the server; no restart needed.")
    return 0


def _list(config: GatewayConfig) -> int:
    from agent_gateway.downstream.oauth import login_state

    names = [name for name, spec in config.servers.items() if oauth_entry(spec) is not None]
    if not names:
        out(f'No server in {config.path} uses OAuth ("auth": "oauth").')
        return 0
    for name in names:
        out(f"  {name:<24} {login_state(config.servers[name])}")
    wanting = [n for n in names if login_state(config.servers[n]).startswith("needs login")]
    if wanting:
        out(f"Log in with: agent-gateway login {wanting[0]}")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from agent_gateway.downstream.oauth import logout

    config = load_config(args)
    spec = _oauth_spec(config, args.server)
    if logout(spec):
        out(f"Logged out of {spec.name!r}: its stored tokens are deleted.")
    else:
        out(f"No login was stored for {spec.name!r}.")
    return 0


__all__ = ["cmd_login", "cmd_logout"]
