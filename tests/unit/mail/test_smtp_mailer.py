"""SmtpMailer without a network: configuration checks and error translation."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest

from sealwright.errors import ConfigurationError, DeliveryFailed
from sealwright.mail.message import MailMessage
from sealwright.mail.sender import Mailer, SmtpMailer

MESSAGE = MailMessage("alice@example.org", "Please sign", "https://sign.example/x")


def test_credentials_need_each_other_and_starttls() -> None:
    with pytest.raises(ConfigurationError, match="together"):
        SmtpMailer("mx", 587, "noreply@example.org", starttls=True, username="u")
    with pytest.raises(ConfigurationError, match="starttls"):
        SmtpMailer("mx", 25, "noreply@example.org", username="u", password="p")
    with pytest.raises(ConfigurationError):
        SmtpMailer("mx", 25, "not-an-address")
    SmtpMailer("mx", 587, "noreply@example.org", starttls=True, username="u", password="p")


def test_repr_hides_the_password() -> None:
    mailer = SmtpMailer(
        "mx", 587, "noreply@example.org", starttls=True, username="u", password="hunter2"
    )
    assert "hunter2" not in repr(mailer)


class _FakeSmtp:
    """Stands in for smtplib.SMTP, failing at the step a test chooses."""

    failure: BaseException | None = None

    def __init__(self, host: str, port: int, timeout: float) -> None:
        pass

    def __enter__(self) -> _FakeSmtp:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        pass

    def send_message(self, message: Any) -> None:
        if self.failure is not None:
            raise self.failure


@pytest.mark.parametrize(
    ("failure", "permanent"),
    [
        (smtplib.SMTPRecipientsRefused({"alice@example.org": (550, b"no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"alice@example.org": (451, b"try later")}), False),
        (smtplib.SMTPSenderRefused(553, b"sender rejected", "noreply@example.org"), True),
        (smtplib.SMTPDataError(452, b"mailbox full"), False),
        (smtplib.SMTPServerDisconnected("gone"), False),
        (TimeoutError("timed out"), False),
        (ConnectionResetError("reset"), False),
    ],
)
def test_library_errors_become_delivery_failed(
    monkeypatch: pytest.MonkeyPatch, failure: BaseException, permanent: bool
) -> None:
    monkeypatch.setattr(smtplib, "SMTP", _FakeSmtp)
    monkeypatch.setattr(_FakeSmtp, "failure", failure)
    mailer: Mailer = SmtpMailer("mx", 25, "noreply@example.org")
    with pytest.raises(DeliveryFailed) as caught:
        mailer.send(MESSAGE)
    assert caught.value.permanent is permanent
    assert caught.value.__cause__ is failure
    assert "mx:25" in str(caught.value)
