"""The OIDC client signers log in through, built from the settings by the composition root
(``services/runtime.py``): it caches the provider's discovery document and keys, so it
lives as long as the runtime. Imports nothing from the services, so the root can use it."""

from __future__ import annotations

from sealwright.clock import Clock
from sealwright.config import Settings
from sealwright.errors import ConfigurationError
from sealwright.identity.oidc import OidcClient, OidcProvider

CALLBACK_PATH = "/s/oidc/callback"


def signer_oidc_client(s: Settings, clock: Clock) -> OidcClient | None:
    """The OIDC client for signers, or None when no provider is configured (built once,
    by the composition root: it caches the provider's discovery document and keys)."""
    if not s.signer_oidc_issuer:
        return None
    if not s.signer_oidc_client_id or s.signer_oidc_client_secret is None:
        raise ConfigurationError(
            "SEALWRIGHT_SIGNER_OIDC_ISSUER is set: set SEALWRIGHT_SIGNER_OIDC_CLIENT_ID and "
            "SEALWRIGHT_SIGNER_OIDC_CLIENT_SECRET too"
        )
    return OidcClient(
        OidcProvider(
            issuer=s.signer_oidc_issuer,
            client_id=s.signer_oidc_client_id,
            client_secret=s.signer_oidc_client_secret.get_secret_value(),
            redirect_uri=s.public_url.rstrip("/") + CALLBACK_PATH,
        ),
        clock=clock,
    )
