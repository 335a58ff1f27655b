"""An independent witness for checkpoint logs: C2SP tlog-witness and tlog-cosignature.

A witness keeps, per log origin, the latest checkpoint it cosigned, and cosigns a new one
only if a consistency proof shows that it extends that one. Logs collect cosignatures from
several independent witnesses, so that showing two different histories to two audiences
(a split view) would need every one of those witnesses to collude.

Public API, for the log side:

- :class:`WitnessClient` -- ``add_checkpoint(old_size, proof, note) -> cosignature line``,
  ``latest(origin) -> note | None``;
- :class:`CosignatureVerifier` (``from_vkey``), :func:`open_cosigned_checkpoint`,
  :func:`verify_cosignatures`, :func:`add_cosignatures`;
- the errors of :mod:`sealwright.witness.errors`.

The witness itself: :class:`Witness` (service), :func:`create_witness_app` (ASGI),
:mod:`sealwright.witness.state` (its directory). See docs/witness.md.
"""

from __future__ import annotations

from sealwright.witness.client import WitnessClient
from sealwright.witness.cosignature import (
    Cosignature,
    CosignatureSigner,
    CosignatureVerifier,
    CosignedCheckpoint,
    add_cosignatures,
    open_cosigned_checkpoint,
    verify_cosignatures,
)
from sealwright.witness.errors import (
    BadWitnessResponse,
    OldSizeMismatch,
    WitnessError,
    WitnessRefused,
    WitnessUnavailable,
)
from sealwright.witness.server import create_witness_app
from sealwright.witness.service import Witness

__all__ = [
    "BadWitnessResponse",
    "Cosignature",
    "CosignatureSigner",
    "CosignatureVerifier",
    "CosignedCheckpoint",
    "OldSizeMismatch",
    "Witness",
    "WitnessClient",
    "WitnessError",
    "WitnessRefused",
    "WitnessUnavailable",
    "add_cosignatures",
    "create_witness_app",
    "open_cosigned_checkpoint",
    "verify_cosignatures",
]
