"""The mailer port and the SMTP adapter that delivers through a real mail server."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

from sealwright.clock import Clock, SystemClock
from sealwright.errors import ConfigurationError, DeliveryFailed
from sealwright.mail.message import MailMessage


class Mailer(Protocol):
    def send(self, message: MailMessage) -> None:
        """Hand the message to the mail system; raises ``DeliveryFailed`` if it is refused."""
        ...


class SmtpMailer:
    """Sends each message over a fresh SMTP connection (``smtplib``).

    With ``starttls`` the session is upgraded before anything else is sent, with certificate
    and host-name verification; a server that does not offer STARTTLS is an error, never a
    silent fall-back to plain text. Credentials are only accepted together with
    ``starttls``, so a password is never sent in the clear.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
        ssl_context: ssl.SSLContext | None = None,
        clock: Clock | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ConfigurationError("SMTP username and password must be given together")
        if username is not None and not starttls:
            raise ConfigurationError("SMTP credentials require starttls=True")
        if "@" not in sender:
            raise ConfigurationError(f"SMTP sender {sender!r} is not an email address")
        self._host = host
        self._port = port
        self._sender = sender
        self._starttls = starttls
        self._username = username
        self._password = password
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._clock = clock if clock is not None else SystemClock()

    def send(self, message: MailMessage) -> None:
        email = self._build(message)
        where = f"{self._host}:{self._port}"
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    # Created per send, not at construction: nothing built before it is needed.
                    context = self._ssl_context or ssl.create_default_context()
                    smtp.starttls(context=context)
                if self._username is not None and self._password is not None:
                    smtp.login(self._username, self._password)
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(
                f"SMTP server {where} refused the recipient (codes {codes})",
                permanent=all(code >= 500 for code in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            reply = _reply_text(exc.smtp_error)
            raise DeliveryFailed(
                f"SMTP server {where} replied {exc.smtp_code} {reply}",
                permanent=exc.smtp_code >= 500,
            ) from exc
        except smtplib.SMTPException as exc:
            raise DeliveryFailed(
                f"SMTP delivery via {where} failed: {type(exc).__name__}: {exc}"
            ) from exc
        except OSError as exc:  # refused, unreachable, timeout, TLS failure (ssl.SSLError)
            raise DeliveryFailed(
                f"cannot reach SMTP server {where}: {type(exc).__name__}: {exc}"
            ) from exc

    def _build(self, message: MailMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Date"] = format_datetime(self._clock.now())
        # An explicit domain: without one make_msgid asks DNS for this host's FQDN.
        email["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2])
        email.set_content(message.text)
        if message.html is not None:
            email.add_alternative(message.html, subtype="html")
        return email

    def __repr__(self) -> str:
        return (
            f"SmtpMailer(host={self._host!r}, port={self._port}, sender={self._sender!r}, "
            f"starttls={self._starttls}, username={self._username!r})"
        )


def _reply_text(raw: bytes | str) -> str:
    # The server's own words help operators ("5.1.1 user unknown"); bounded, one line.
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())[:200]
