"""The composition root: builds every adapter the settings name, once, on demand.

Nothing here runs at import time. ``Runtime.build(settings)`` is called by ``create_app``
and by the CLI; tests call it with their own settings and clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from cryptography import x509

from sealwright.clock import Clock, Random, SystemClock, SystemRandom
from sealwright.config import Settings
from sealwright.errors import ConfigurationError
from sealwright.identity.dpop import DPoPVerifier, InMemoryReplayCache
from sealwright.identity.tokens import TokenService
from sealwright.jobs.queue import JobQueue
from sealwright.jobs.worker import Worker
from sealwright.keys.files import create_private_file, ensure_private_directory, read_private_file
from sealwright.keys.keyring import Keyring
from sealwright.keys.local_keyring import LocalKeyring
from sealwright.keys.signing import SigningKeys
from sealwright.ledger.checkpoint import NoteSigner
from sealwright.mail.capture import CaptureSmtpServer
from sealwright.mail.sender import Mailer, SmtpMailer
from sealwright.sealing.pki import LocalPki
from sealwright.sealing.timestamps import TimestampAuthority, http_tsa, local_tsa
from sealwright.services.audit import AuditLog
from sealwright.services.checkpoints import CheckpointPublisher
from sealwright.services.outbox import MailOutbox
from sealwright.services.witnessing import WitnessEndpoint, Witnessing
from sealwright.storage.blobs import BlobStore, FilesystemBlobStore
from sealwright.storage.db import Database, make_engine, upgrade

log = structlog.get_logger("sealwright")


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    random: Random
    db: Database
    blobs: BlobStore
    keyring: Keyring
    token_keys: SigningKeys
    evidence_keys: SigningKeys
    checkpoint_keys: SigningKeys
    pki: LocalPki
    tsa: TimestampAuthority
    mailer: Mailer
    audit: AuditLog
    checkpoints: CheckpointPublisher
    witnessing: Witnessing
    tokens: TokenService
    jobs: JobQueue
    outbox: MailOutbox
    otp_pepper: bytes
    dpop: DPoPVerifier
    mail_capture: CaptureSmtpServer | None = None
    worker: Worker | None = field(default=None)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        random: Random | None = None,
        mailer: Mailer | None = None,
        tsa: TimestampAuthority | None = None,
    ) -> Runtime:
        clock = clock or SystemClock()
        random = random or SystemRandom()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.sqlalchemy_url)
        upgrade(engine)
        db = Database(engine)
        keys_dir = settings.keys_dir
        ensure_private_directory(keys_dir)
        keyring = LocalKeyring.open(keys_dir / "kek", random=random)
        token_keys = SigningKeys.open(keys_dir / "signing", "tokens")
        evidence_keys = SigningKeys.open(keys_dir / "signing", "evidence")
        checkpoint_keys = SigningKeys.open(keys_dir / "signing", "checkpoints")
        pki = LocalPki.load_or_create(keys_dir / "pki", clock=clock)
        if tsa is None:
            tsa = local_tsa(pki, clock) if settings.tsa == "local" else _http_tsa(settings)
        capture: CaptureSmtpServer | None = None
        if mailer is None:
            if settings.mail_mode == "capture":
                capture = CaptureSmtpServer(settings.mail_dir)
                port = capture.start()
                mailer = SmtpMailer("127.0.0.1", port, settings.mail_from)
            else:
                mailer = SmtpMailer(
                    settings.smtp_host,
                    settings.smtp_port,
                    settings.mail_from,
                    starttls=settings.smtp_starttls,
                    username=settings.smtp_username,
                    password=settings.smtp_password,
                )
        jobs = JobQueue(db, clock=clock)
        audit = AuditLog(clock=clock)
        checkpoints = CheckpointPublisher(
            clock=clock,
            origin=settings.log_origin,
            note_signer=NoteSigner(settings.log_origin, checkpoint_keys.private_key_for_current()),
            log_keys=checkpoint_keys.keys,
            tsa=tsa,
            copies_dir=settings.data_dir / "ledger" / "checkpoints",
        )
        return cls(
            settings=settings,
            clock=clock,
            random=random,
            db=db,
            blobs=FilesystemBlobStore(settings.blobs_dir),
            keyring=keyring,
            token_keys=token_keys,
            evidence_keys=evidence_keys,
            checkpoint_keys=checkpoint_keys,
            pki=pki,
            tsa=tsa,
            mailer=mailer,
            audit=audit,
            checkpoints=checkpoints,
            witnessing=Witnessing(db, _witnesses(settings), clock=clock),
            tokens=TokenService(
                keys=token_keys,
                clock=clock,
                issuer=settings.public_url,
                ttl=settings.access_token_ttl,
            ),
            jobs=jobs,
            outbox=MailOutbox(jobs=jobs, keyring=keyring, mailer=mailer),
            otp_pepper=_otp_pepper(settings, random),
            dpop=DPoPVerifier(clock=clock, replay=InMemoryReplayCache(clock=clock)),
            mail_capture=capture,
        )

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.mail_capture is not None:
            self.mail_capture.stop()
        self.db.engine.dispose()


def _witnesses(settings: Settings) -> list[WitnessEndpoint]:
    try:
        return [WitnessEndpoint(url=w["url"], vkey=w["vkey"]) for w in settings.witnesses]
    except KeyError as exc:
        raise ConfigurationError(
            'SEALWRIGHT_WITNESSES must be a JSON list of {"url": ..., "vkey": ...}'
        ) from exc


def _http_tsa(settings: Settings) -> TimestampAuthority:
    if settings.tsa_roots_file is None:
        raise ConfigurationError(
            "SEALWRIGHT_TSA names a URL: set SEALWRIGHT_TSA_ROOTS_FILE to the PEM file of the "
            "CA certificate(s) its tokens chain to"
        )
    try:
        roots = x509.load_pem_x509_certificates(settings.tsa_roots_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read TSA roots from {settings.tsa_roots_file}") from exc
    return http_tsa(settings.tsa, timeout=settings.tsa_timeout, trust_roots=roots)


def _otp_pepper(settings: Settings, random: Random) -> bytes:
    """A server-side secret keyed into OTP hashes, so a stolen database alone cannot be
    brute-forced for the six-digit codes it holds."""
    path = settings.keys_dir / "otp-pepper"
    if not path.exists():
        create_private_file(path, random.token_bytes(32))
    return read_private_file(path)
