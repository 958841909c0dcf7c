"""Next steps for failures whose text shows a known cause (pure: text in, sentence out).

A server that cannot verify a TLS certificate (a company proxy or a custom
CA) fails with one of a few well-known messages; the gateway passes only a
safe set of variables to stdio servers, so the fix is usually to pass the CA
variables (or the whole environment) through.
"""

from __future__ import annotations

import re

from agent_gateway.core.errors import BackendError, BackendStartError

__all__ = ["CA_VARIABLES", "certificate_hint", "with_certificate_hint"]

CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")

_CERTIFICATE_RE = re.compile(
    r"invalid peer certificate|CERTIFICATE_VERIFY_FAILED|self[ -]signed certificate"
    r"|unable to get local issuer certificate|UNABLE_TO_GET_ISSUER_CERT",
    re.IGNORECASE,
)


def certificate_hint(text: str) -> str | None:
    """A sentence naming the variables to pass, when ``text`` shows a certificate failure."""
    if not _CERTIFICATE_RE.search(text):
        return None
    names = ", ".join(CA_VARIABLES)
    return (
        "The server could not verify a TLS certificate (a proxy or a custom CA?). Point "
        f"{names} at your CA bundle in the gateway's environment (they are passed to stdio "
        'servers), or set them in this server\'s "env", or give it "inheritEnv": true.'
    )


def with_certificate_hint(err: BackendError) -> BackendError:
    """A start error whose text shows a certificate failure also says what to pass."""
    hint = certificate_hint(f"{err.reason}\n{err.stderr_tail}")
    if hint is None or hint in err.reason:
        return err
    return BackendStartError(err.server, f"{err.reason} {hint}", stderr_tail=err.stderr_tail)
