"""A development SMTP server that captures mail instead of delivering it.

FOR DEVELOPMENT, DEMOS AND TESTS. Every message sent to it -- to any recipient -- is accepted
and stored as an ``.eml`` file in one directory, where developers (and end-to-end tests) read
the sign-in links and one-time codes that a real deployment would email. Nothing is
delivered anywhere; it logs a warning saying so when started. It is a real SMTP server
(aiosmtpd, on its own thread), so :class:`~sealwright.mail.sender.SmtpMailer` is exercised
exactly as in production.

Each stored file is the message as received, preceded by trace headers::

    X-Sealwright-Received-At: 2025-01-01T12:00:00.000000Z
    X-Sealwright-Envelope-From: <MAIL FROM address>
    X-Sealwright-Envelope-To: <RCPT TO address>        one per recipient
"""

from __future__ import annotations

import asyncio
import builtins
import ipaddress
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.controller import Controller

from sealwright.clock import Clock, Random, SystemClock, SystemRandom, parse_rfc3339, rfc3339
from sealwright.errors import NotFound

_log = structlog.get_logger(__name__)

_ID = re.compile(r"[0-9]{8}T[0-9]{12}Z-[0-9a-f]{8}")
_RECEIVED_AT = "X-Sealwright-Received-At"
_ENVELOPE_FROM = "X-Sealwright-Envelope-From"
_ENVELOPE_TO = "X-Sealwright-Envelope-To"


@dataclass(frozen=True, slots=True)
class CapturedMail:
    """One captured message. ``to`` holds the SMTP envelope recipients."""

    id: str
    sender: str
    to: tuple[str, ...]
    subject: str
    received_at: datetime
    text: str
    html: str | None

    def __repr__(self) -> str:
        return f"CapturedMail(id={self.id!r}, to={self.to!r}, subject={self.subject!r})"


class CaptureSmtpServer:
    """Listens on ``host:port`` (``port=0``: any free port) and stores mail in ``directory``.

    Pass an IP address as ``host``: with a name that resolves to several addresses and
    ``port=0``, each address would get a different port.
    """

    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Clock | None = None,
        random: Random | None = None,
    ) -> None:
        self._directory = directory
        self._host = host
        self._port = port
        self._clock = clock if clock is not None else SystemClock()
        self._random = random if random is not None else SystemRandom()
        self._controller: _Controller | None = None

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def port(self) -> int:
        """The bound port; only while started."""
        if self._controller is None:
            raise RuntimeError("capture SMTP server is not running")
        return int(self._controller.port)

    def start(self) -> int:
        """Start serving on a background thread; returns the bound port."""
        if self._controller is not None:
            raise RuntimeError("capture SMTP server already started")
        # Captured mail holds sign-in links and codes: owner-only, like any secret.
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        controller = _Controller(
            _Handler(self._store),
            hostname=self._host,
            port=self._port,
            # Fixed banner name: the default asks DNS for this host's FQDN, which can stall.
            server_hostname="sealwright-mail-capture",
        )
        controller.start()
        self._controller = controller
        _log.warning(
            "DEVELOPMENT MAIL CAPTURE: mail sent to this SMTP server is NOT delivered to "
            "anyone; it is stored on disk for developers to read. Do not use in production.",
            host=self._host,
            port=controller.port,
            directory=str(self._directory),
        )
        if not _is_loopback(self._host):
            _log.warning(
                "development mail capture listens beyond loopback and accepts mail from anyone",
                host=self._host,
            )
        return int(controller.port)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> CaptureSmtpServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def list(self) -> list[CapturedMail]:
        """All captured mail, oldest first."""
        mails = [self._read(path) for path in self._directory.glob("*.eml")]
        return sorted(mails, key=lambda mail: (mail.received_at, mail.id))

    def get(self, mail_id: str) -> CapturedMail:
        # The id becomes a file name: only the generated shape may reach the filesystem.
        if not _ID.fullmatch(mail_id):
            raise NotFound(f"no captured mail {mail_id!r}")
        try:
            return self._read(self._directory / f"{mail_id}.eml")
        except FileNotFoundError as exc:
            raise NotFound(f"no captured mail {mail_id!r}") from exc

    def _store(self, mail_from: str, rcpt_tos: builtins.list[str], content: bytes) -> str:
        now = self._clock.now()
        mail_id = f"{now.strftime('%Y%m%dT%H%M%S%f')}Z-{self._random.token_bytes(4).hex()}"
        trace = [f"{_RECEIVED_AT}: {rfc3339(now)}", f"{_ENVELOPE_FROM}: {mail_from}"]
        trace += [f"{_ENVELOPE_TO}: {rcpt}" for rcpt in rcpt_tos]
        data = "".join(line + "\r\n" for line in trace).encode("utf-8") + content
        temporary = self._directory / f".tmp-{secrets.token_hex(8)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # Renamed into place whole, so list() never parses a half-written file.
        os.replace(temporary, self._directory / f"{mail_id}.eml")
        _log.info("mail captured", mail_id=mail_id, recipients=len(rcpt_tos))
        return mail_id

    def _read(self, path: Path) -> CapturedMail:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)  # guaranteed by policy.default
        return CapturedMail(
            id=path.stem,
            sender=str(message.get(_ENVELOPE_FROM, "")),
            to=tuple(str(rcpt) for rcpt in message.get_all(_ENVELOPE_TO, [])),
            subject=str(message.get("Subject", "")),
            received_at=parse_rfc3339(str(message[_RECEIVED_AT])),
            text=_body(message, "plain") or "",
            html=_body(message, "html"),
        )

    def __repr__(self) -> str:
        return f"CaptureSmtpServer(directory={str(self._directory)!r}, host={self._host!r})"


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    # Bodies travel with CRLF line ends; tests and developers want plain "\n".
    return content.replace("\r\n", "\n") if isinstance(content, str) else None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class _Handler:
    """aiosmtpd handler: accepts every message and stores it."""

    def __init__(self, store: Callable[[str, list[str], bytes], str]) -> None:
        self._store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        mail_id = self._store(str(envelope.mail_from), list(envelope.rcpt_tos), content)
        return f"250 Message accepted for delivery (captured as {mail_id})"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # With port 0 the OS picks the port; aiosmtpd's start-up probe must learn it first.
        server = self.server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]
