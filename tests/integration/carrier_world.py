"""The service configured against a carrier simulator the test starts (Twilio's Messages
and Calls APIs with signed callbacks, on loopback), as the SMS, phone-callback and
orchestrator tests use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sealwright.config import Settings
from sealwright.simulators.carrier import CarrierSimulator
from sealwright.web.server import free_port


def carrier_settings(
    tmp_path: Path, database_url: str, carrier: CarrierSimulator, **extra: Any
) -> Settings:
    """The server sends through the Twilio adapter, pointed at this test's carrier."""
    port = free_port()
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mail_mode="capture",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        sms_mode="twilio",
        twilio_account_sid=carrier.account_sid,
        twilio_auth_token=carrier.auth_token,
        twilio_from_number="+15005550006",
        twilio_base_url=carrier.base_url,
        **extra,
    )
