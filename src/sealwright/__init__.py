"""Sealwright: a self-hostable, zero-trust e-signature service with verifiable evidence.

The stable public surface:

- ``sealwright.evidence.verify.verify_bundle`` and ``sealwright.evidence.trust.TrustStore``:
  verify an evidence bundle offline.
- ``sealwright.config.Settings`` / ``load_settings`` and ``sealwright.web.app.create_app``.
"""

__version__ = "0.1.0"
