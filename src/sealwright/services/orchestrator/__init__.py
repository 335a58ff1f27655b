"""The risk orchestrator (D4): per-recipient verification plans (docs/orchestrator.md)."""

from sealwright.services.orchestrator.orchestrator import (
    Orchestrator,
    fallback_reason,
    planned_channels,
)
from sealwright.services.orchestrator.signals import RequestSignals

__all__ = ["Orchestrator", "RequestSignals", "fallback_reason", "planned_channels"]
