"""The composition root: builds every adapter the settings name, once, on demand.

Nothing here runs at import time. ``Runtime.build(settings)`` is called by ``create_app``
and by the CLI; tests call it with their own settings and clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from cryptography import x509

from sealwright.channels.keys import ChannelKeys
from sealwright.channels.port import VerificationChannel
from sealwright.clock import Clock, Random, SystemClock, SystemRandom
from sealwright.config import Settings
from sealwright.errors import ConfigurationError
from sealwright.identity.dpop import DPoPVerifier
from sealwright.identity.oidc import OidcClient
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
from sealwright.risk.policy import Policy, load_configured_policy
from sealwright.sealing.pki import LocalPki
from sealwright.sealing.timestamps import TimestampAuthority, http_tsa, local_tsa
from sealwright.services.audit import AuditLog
from sealwright.services.checkpoints import CheckpointPublisher
from sealwright.services.outbox import MailOutbox
from sealwright.services.signer_auth.oidc_client import signer_oidc_client
from sealwright.services.signer_auth.sms_gateway import SmsGateway, sms_gateway
from sealwright.services.token_state import DatabaseReplayCache
from sealwright.services.webhooks.endpoints import EndpointService
from sealwright.services.webhooks.outbox import WebhookOutbox
from sealwright.services.webhooks.sender import resolve as resolve_webhook_host
from sealwright.services.witnessing import WitnessEndpoint, Witnessing
from sealwright.storage.blobs import BlobStore, FilesystemBlobStore
from sealwright.storage.db import Database, make_engine, upgrade

if TYPE_CHECKING:
    from sealwright.services.webhooks.dispatch import WebhookDispatcher

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
    #: Webhooks (G2): the outbox hooked into the audit log, and endpoint management.
    webhooks: WebhookOutbox
    webhook_endpoints: EndpointService
    #: Out-of-band verification (C): assertion and QR signing keys, k_pin, pseudonym key.
    channel_keys: ChannelKeys
    #: The declarative risk policy (D3), checked at start: an invalid file stops start-up.
    risk_policy: Policy
    mail_capture: CaptureSmtpServer | None = None
    #: The identity provider signers may log in at (the ``oidc`` method), when configured.
    signer_oidc: OidcClient | None = None
    #: Where ``sms-otp`` codes go out (the embedded carrier simulator by default).
    sms: SmsGateway | None = None
    worker: Worker | None = field(default=None)
    #: Set by ``jobs.handlers.build_worker`` where a worker runs (its delivery threads).
    webhook_dispatcher: WebhookDispatcher | None = field(default=None)
    #: Out-of-band channels by name, built on first use (services/channel_flow/flow.py).
    verification_channels: dict[str, VerificationChannel] = field(default_factory=dict)

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
        risk_policy = load_configured_policy(settings)  # before anything is created
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
        jobs = JobQueue(
            db,
            clock=clock,
            lease_seconds=settings.job_lease_seconds,
            max_attempts=settings.job_max_attempts,
        )
        audit = AuditLog(clock=clock)
        webhooks = WebhookOutbox(clock=clock, jobs=jobs)
        audit.observers.append(webhooks.on_events)
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
            dpop=DPoPVerifier(clock=clock, replay=DatabaseReplayCache(db)),
            webhooks=webhooks,
            webhook_endpoints=EndpointService(
                clock=clock,
                random=random,
                keyring=keyring,
                audit=audit,
                settings=settings,
                resolver=resolve_webhook_host,
            ),
            channel_keys=ChannelKeys.open(keys_dir, random),
            risk_policy=risk_policy,
            mail_capture=capture,
            signer_oidc=signer_oidc_client(settings, clock),
            sms=sms_gateway(settings, clock, random),
        )

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.webhook_dispatcher is not None:
            self.webhook_dispatcher.close()
        if self.mail_capture is not None:
            self.mail_capture.stop()
        if self.signer_oidc is not None:
            self.signer_oidc.close()
        if self.sms is not None:
            self.sms.close()
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
