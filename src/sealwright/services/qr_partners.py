"""Partner organisations' QR keys (C4): ``qr_partner_keys_file``, a JWKS of public Ed25519
keys whose signed QR codes the service accepts as it accepts its own -- in the online
verifier (``web/qr_api.py``) and in the trust file it exports (``qr_keys``).

Read and validated when the app is built, so a bad file stops the start with a
:class:`ConfigurationError` naming the file and the problem, instead of failing later.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sealwright.channels.qr import parse_partner_jwks
from sealwright.config import Settings
from sealwright.errors import ConfigurationError, ValidationError

__all__ = ["load_partner_keys"]


def load_partner_keys(settings: Settings) -> tuple[Ed25519PublicKey, ...]:
    """The partner keys the settings name (none when unset)."""
    path = settings.qr_partner_keys_file
    if path is None:
        return ()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"SEALWRIGHT_QR_PARTNER_KEYS_FILE: cannot read {path}: {exc.strerror}"
        ) from exc
    try:
        return parse_partner_jwks(data)
    except ValidationError as exc:
        raise ConfigurationError(f"SEALWRIGHT_QR_PARTNER_KEYS_FILE {path}: {exc}") from exc
