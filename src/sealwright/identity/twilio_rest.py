"""What the Twilio-compatible Messages (SMS) and Calls (voice) adapters share: the account
checks, one HTTP client, a POST that is repeated only when nothing reached the provider
(sending a text or placing a call is not idempotent: it could arrive twice), and the
provider's answer read into a resource sid or a short, loggable error.

Errors never carry the provider's ``message`` (it may quote the number), only its numeric
code; a 4xx other than 408/429 is permanent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from sealwright.errors import DeliveryFailed

__all__ = ["E164", "Failure", "TwilioAccount", "TwilioRestClient", "is_e164"]

#: ITU-T E.164: a "+", a country code not starting with 0, 7 to 15 digits in all (the
#: shortest numbers in service, e.g. Niue's, have 7).
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")


def is_e164(number: str) -> bool:
    return E164.fullmatch(number) is not None


@dataclass(frozen=True)
class TwilioAccount:
    """Where and as whom to send. ``base_url`` is Twilio's API root or a compatible one
    (the carrier simulator's in development)."""

    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    base_url: str = "https://api.twilio.com"
    status_callback: str | None = None


#: (reason, error_code=, permanent=, outcome_unknown=) -> the adapter's own error type.
Failure = Callable[..., DeliveryFailed]
Form = Mapping[str, str | list[str]] | Sequence[tuple[str, str]]


class TwilioRestClient:
    #: ``Messages`` or ``Calls``: the resource this adapter creates.
    resource: ClassVar[str]
    #: How the account's own number is named in errors ("sender", "caller").
    number_role: ClassVar[str]

    def __init__(
        self,
        account: TwilioAccount,
        *,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        connect_retries: int = 1,
    ) -> None:
        if _ACCOUNT_SID.fullmatch(account.account_sid) is None:
            raise ValueError("Twilio account SID must look like AC followed by 32 hex digits")
        if not is_e164(account.from_number):
            raise ValueError(
                f"Twilio {self.number_role} number must be in E.164 form (+15551234567)"
            )
        if urlsplit(account.base_url).scheme not in ("https", "http"):
            raise ValueError("Twilio base_url must be an http(s) URL")
        self.account = account
        self._own_http = http is None
        self._http = http or httpx.Client()
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self._connect_retries = connect_retries

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def resource_url(self) -> str:
        root = self.account.base_url.rstrip("/")
        return f"{root}/2010-04-01/Accounts/{self.account.account_sid}/{self.resource}.json"

    def _post(self, form: Form, failed: Failure) -> httpx.Response:
        attempts = 1 + max(self._connect_retries, 0)
        for attempt in range(attempts):
            try:
                return self._http.post(
                    self.resource_url,
                    data=form,  # type: ignore[arg-type]
                    auth=(self.account.account_sid, self.account.auth_token),
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the provider: safe to try again.
                if attempt + 1 == attempts:
                    raise failed(f"provider unreachable ({type(exc).__name__})") from exc
            except httpx.TimeoutException as exc:
                raise failed(
                    f"provider did not answer in time ({type(exc).__name__})",
                    outcome_unknown=True,
                ) from exc
            except httpx.HTTPError as exc:
                raise failed(
                    f"transport error ({type(exc).__name__})", outcome_unknown=True
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _created(
        response: httpx.Response, sid: re.Pattern[str], failed: Failure, what: str
    ) -> tuple[str, dict[str, Any]]:
        """(sid, payload) of a created resource, or ``failed`` with the provider's code."""
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            payload = {}
        status = response.status_code
        if status >= 400 or "sid" not in payload:
            code = payload.get("code")
            error_code = code if isinstance(code, int) and not isinstance(code, bool) else None
            label = f"provider error {error_code}" if error_code else "provider error"
            permanent = 400 <= status < 500 and status not in (408, 429)
            raise failed(f"{label} (HTTP {status})", error_code=error_code, permanent=permanent)
        found = payload["sid"]
        if not isinstance(found, str) or sid.fullmatch(found) is None:
            raise failed(f"provider answered without a {what} sid", outcome_unknown=True)
        return found, payload
