"""Mail goes out through the durable job queue, encrypted at rest: a queued message may hold
a one-time link or a code, so the job row holds only ciphertext."""

from __future__ import annotations

import base64
import json
import uuid

from sqlalchemy.orm import Session

from sealwright.jobs.queue import JobQueue
from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.keys.keyring import Keyring
from sealwright.mail.message import MailMessage
from sealwright.mail.sender import Mailer

KIND = "mail.send"


class MailOutbox:
    def __init__(self, *, jobs: JobQueue, keyring: Keyring, mailer: Mailer) -> None:
        self._jobs = jobs
        self._keyring = keyring
        self._mailer = mailer

    def queue(self, session: Session, message: MailMessage) -> None:
        job_key = uuid.uuid4().hex
        plain = json.dumps(
            {"to": message.to, "subject": message.subject, "text": message.text}
        ).encode()
        sealed = encrypt_bytes(plain, keyring=self._keyring, aad=_aad(job_key))
        self._jobs.enqueue(
            session,
            KIND,
            {"key": job_key, "message": base64.b64encode(sealed).decode()},
            key=job_key,
        )

    def deliver(self, payload: dict[str, object]) -> None:
        job_key = str(payload["key"])
        sealed = base64.b64decode(str(payload["message"]))
        fields = json.loads(decrypt_bytes(sealed, keyring=self._keyring, aad=_aad(job_key)))
        self._mailer.send(
            MailMessage(to=fields["to"], subject=fields["subject"], text=fields["text"])
        )


def _aad(job_key: str) -> bytes:
    return f"sealwright:mail:{job_key}".encode()
