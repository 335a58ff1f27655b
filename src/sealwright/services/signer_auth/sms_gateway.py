"""The SMS channel signers' codes go out on, built from the settings by the composition
root (``services/runtime.py``): a Twilio-compatible account, and -- in the embedded
default -- the local carrier simulator it points at. Imports nothing from the services, so
the root can use it.

Each message carries its own status-callback URL (``public_url`` + ``/s/sms/status/`` + a
reference to the code it carries), so a delivery report finds its signer without a lookup
table; Twilio signs the exact URL it calls, so the reference cannot be forged either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import httpx

from sealwright.clock import Clock, Random
from sealwright.config import Settings
from sealwright.errors import ConfigurationError
from sealwright.identity.sms import TwilioAccount, TwilioSms, is_e164, valid_twilio_signature
from sealwright.keys.files import (
    create_private_file,
    ensure_private_directory,
    read_private_file,
)
from sealwright.simulators.carrier import CarrierSimulator

STATUS_PATH = "/s/sms/status/"
#: Twilio's documented test sender: what the simulator sends from unless told otherwise.
SIMULATOR_FROM = "+15005550006"


@dataclass
class SmsGateway:
    """Sends SMS through ``TwilioSms`` (one HTTP client shared by every message) and checks
    the signatures of the delivery reports that come back."""

    account: TwilioAccount
    public_url: str
    #: The embedded carrier simulator, when this gateway runs one (development only).
    simulator: CarrierSimulator | None = None
    http: httpx.Client = field(default_factory=httpx.Client, repr=False)

    def status_url(self, ref: str) -> str:
        return self.public_url.rstrip("/") + STATUS_PATH + ref

    def send(self, *, to: str, body: str, ref: str) -> str:
        """Hand one SMS to the carrier; its delivery reports go to ``status_url(ref)``.
        Returns the message id; raises ``SmsFailed`` (never with the body in it)."""
        account = replace(self.account, status_callback=self.status_url(ref))
        return TwilioSms(account, http=self.http).send(to=to, body=body)

    def valid_report(self, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
        """Is ``signature`` Twilio's ``X-Twilio-Signature`` over ``url`` and the form?"""
        return valid_twilio_signature(self.account.auth_token, url, list(params), signature)

    def close(self) -> None:
        self.http.close()
        if self.simulator is not None:
            self.simulator.stop()


def sms_gateway(s: Settings, clock: Clock, random: Random) -> SmsGateway:
    """The gateway the settings describe; in simulator mode the simulator is started here
    (and stopped by ``close``)."""
    if s.sms_mode == "simulator":
        sid, token = _simulator_credentials(s, random)
        simulator = CarrierSimulator(
            account_sid=sid, auth_token=token, clock=clock, random=random
        ).start()
        account = TwilioAccount(
            account_sid=simulator.account_sid,
            auth_token=simulator.auth_token,
            from_number=s.twilio_from_number or SIMULATOR_FROM,
            base_url=simulator.base_url,
        )
        try:
            return _gateway(account, s, simulator)
        except ConfigurationError:
            simulator.stop()
            raise
    return _gateway(
        TwilioAccount(
            account_sid=s.twilio_account_sid,
            auth_token=_auth_token(s),
            from_number=s.twilio_from_number,
            base_url=s.twilio_base_url,
        ),
        s,
        None,
    )


def _gateway(account: TwilioAccount, s: Settings, simulator: CarrierSimulator | None) -> SmsGateway:
    if not is_e164(account.from_number):
        raise ConfigurationError(
            "SEALWRIGHT_TWILIO_FROM_NUMBER must be the sending number in E.164 form "
            "(+ and 7 to 15 digits, e.g. +15017122661)"
        )
    http = httpx.Client()
    try:
        TwilioSms(account, http=http)  # checks the account SID and URL as every send will
    except ValueError as exc:
        http.close()
        raise ConfigurationError(f"SMS settings: {exc}") from None
    return SmsGateway(account=account, public_url=s.public_url, simulator=simulator, http=http)


def _simulator_credentials(s: Settings, random: Random) -> tuple[str, str]:
    """The simulator's account, kept in the keys directory: a ``sealwright worker`` process
    runs a simulator of its own, and the API process must accept the delivery reports
    that one signs. (Its inbox stays its own: /dev/sms shows what the API process sent.)"""
    path = s.keys_dir / "sms-simulator"
    if not path.exists():
        ensure_private_directory(s.keys_dir)
        sid, token = "AC" + random.token_bytes(16).hex(), random.token_bytes(16).hex()
        with contextlib.suppress(FileExistsError):  # another process was first
            create_private_file(path, f"{sid}:{token}".encode())
    sid, _, token = (
        read_private_file(path, label="carrier simulator account").decode().partition(":")
    )
    return sid.strip(), token.strip()


def _auth_token(s: Settings) -> str:
    if not s.twilio_account_sid:
        raise ConfigurationError(
            "SEALWRIGHT_SMS_MODE=twilio: set SEALWRIGHT_TWILIO_ACCOUNT_SID, "
            "SEALWRIGHT_TWILIO_AUTH_TOKEN_FILE (or _AUTH_TOKEN) and SEALWRIGHT_TWILIO_FROM_NUMBER"
        )
    if s.twilio_auth_token_file is not None:
        token = read_private_file(s.twilio_auth_token_file, label="Twilio auth token file")
        text = token.decode("utf-8", "replace").strip()
    elif s.twilio_auth_token is not None:
        text = s.twilio_auth_token.get_secret_value().strip()
    else:
        text = ""
    if not text:
        raise ConfigurationError(
            "SEALWRIGHT_SMS_MODE=twilio needs the auth token: SEALWRIGHT_TWILIO_AUTH_TOKEN_FILE "
            "(a file only its owner can read) or SEALWRIGHT_TWILIO_AUTH_TOKEN"
        )
    return text
