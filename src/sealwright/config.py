"""Settings: environment variables prefixed ``SEALWRIGHT_``, optionally a TOML file.

Nothing here opens a file or a connection; ``create_app`` and the CLI build what the
settings describe.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from sealwright.errors import ConfigurationError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEALWRIGHT_", extra="forbid")

    data_dir: Path = Path(".sealwright")
    #: SQLAlchemy URL; empty means SQLite in ``data_dir``.
    database_url: str = ""
    #: The URL people reach the service at; used in links sent by mail.
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000

    #: Mail: "capture" runs the local development SMTP capture; "smtp" sends through smtp_*.
    mail_mode: str = "capture"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "Sealwright <no-reply@sealwright.invalid>"

    #: "local" is the built-in RFC 3161 TSA; anything else is the URL of one.
    tsa: str = "local"
    tsa_timeout: float = 10.0
    #: PEM file with the CA certificate(s) an external TSA chains to (required with a URL).
    tsa_roots_file: Path | None = None

    log_origin: str = "sealwright.invalid/log"
    #: Witnesses that cosign checkpoints, as JSON: [{"url": "...", "vkey": "..."}, ...].
    witnesses: list[dict[str, str]] = Field(default_factory=list)
    #: Seconds between scheduled checkpoints (also published whenever an envelope completes).
    checkpoint_interval: int = Field(default=300, ge=5)
    max_document_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    access_token_ttl: int = Field(default=600, gt=0, le=900)
    #: API clients (B1): ``sealwright credentials report`` flags secrets older than this,
    #: and clients (or their scopes and folders) not used within ``client_unused_days``.
    client_secret_max_age_days: int = Field(default=90, ge=1, le=3650)
    client_unused_days: int = Field(default=30, ge=1, le=3650)
    #: Hours a client's previous secret keeps working after a rotation (by default).
    client_secret_overlap_hours: int = Field(default=24, ge=0, le=24 * 30)
    signing_link_ttl: int = Field(default=7 * 24 * 3600, gt=0)
    otp_ttl: int = Field(default=600, ge=60, le=1800)
    otp_max_attempts: int = Field(default=5, ge=1, le=10)
    otp_max_sends: int = Field(default=3, ge=1, le=10)
    signer_session_ttl: int = Field(default=3600, gt=0)
    #: Signer authentication (B5, B6, B8). The default maximum age, in seconds, of a
    #: signer's freshest qualifying verification when they press "sign" (per envelope).
    signer_max_auth_age: int = Field(default=900, ge=30, le=86400)
    #: Lifetime of a passkey challenge or an OIDC login under way.
    signer_challenge_ttl: int = Field(default=300, ge=30, le=900)
    #: Failed code attempts (per recipient, per client IP) before lock-outs start; each
    #: further failure doubles the lock, from ``auth_backoff_base`` up to ``auth_backoff_max``.
    auth_free_attempts: int = Field(default=5, ge=1, le=50)
    auth_backoff_base: int = Field(default=30, ge=1, le=3600)
    auth_backoff_max: int = Field(default=3600, ge=1, le=86400)
    #: Unknown signing links or signer sessions one client IP may present before lock-outs.
    link_guess_free_attempts: int = Field(default=20, ge=1, le=1000)
    #: Requests per minute per client IP on the signer pages and on the token endpoint.
    signer_rate_limit: int = Field(default=300, ge=1)
    token_rate_limit: int = Field(default=60, ge=1)
    #: The OIDC identity provider signers may log in at (the ``oidc`` method); off while
    #: the issuer is empty. The redirect URI is ``public_url`` + ``/s/oidc/callback``.
    signer_oidc_issuer: str = ""
    signer_oidc_client_id: str = ""
    signer_oidc_client_secret: SecretStr | None = None
    #: SMS for the ``sms-otp`` method (docs/identity-providers.md). "simulator" (the
    #: embedded default) runs the local carrier simulator: no text reaches any phone, the
    #: development page /dev/sms shows them. "twilio" sends through Twilio's Messages API
    #: (or a compatible carrier at ``twilio_base_url``) with the twilio_* settings. The
    #: auth token comes from the environment or, preferably, a file readable only by its
    #: owner; it is never logged. Status callbacks arrive at ``public_url`` +
    #: ``/s/sms/status/...`` and must carry Twilio's signature over that exact URL.
    sms_mode: Literal["simulator", "twilio"] = "simulator"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr | None = None
    twilio_auth_token_file: Path | None = None
    #: E.164; in simulator mode, empty means Twilio's test sender +15005550006.
    twilio_from_number: str = ""
    twilio_base_url: str = "https://api.twilio.com"

    #: Out-of-band verification channels (C, docs/channels.md). A recipient may start each
    #: channel at most ``channel_max_runs`` times per envelope. Callback and SMS PINs:
    #: lifetime 60-300 s, digits 6-8, wrong answers before the PIN is locked.
    channel_max_runs: int = Field(default=5, ge=1, le=20)
    pin_ttl: int = Field(default=180, ge=60, le=300)
    pin_digits: int = Field(default=6, ge=6, le=8)
    pin_max_attempts: int = Field(default=3, ge=1, le=10)
    #: How long an escalated verification waits in the reviewers' queue (C5).
    review_ttl_seconds: int = Field(default=3 * 86400, ge=3600, le=30 * 86400)
    #: Video verification (C3, docs/channel-video.md): days an encrypted recording is kept
    #: before the sweep deletes it (its hash stays in the assertion and the ledger).
    video_retention_days: int = Field(default=90, ge=1, le=3650)
    #: Optional face match (C3, docs/channel-video.md "Face match"): "enrol-and-match" enrols
    #: a signer identity's (weak, built-in) face template from its first passing capture,
    #: stored encrypted, and compares later captures with it (a match below the threshold,
    #: 0-100, fails the capture as ``face-mismatch``).
    video_face_match: Literal["off", "enrol-and-match"] = "off"
    video_face_match_threshold: int = Field(default=70, ge=1, le=100)
    #: Signed QR codes (C4, docs/assertions.md §5). The certificate-of-completion codes
    #: must still verify years later, so they live long (10 years by default); partner
    #: organisations' public keys (a JWKS of Ed25519 keys) the online verifier accepts;
    #: the second-device ("qr-device") link's lifetime.
    qr_certificate_ttl_days: int = Field(default=3650, ge=1, le=36500)
    qr_partner_keys_file: Path | None = None
    qr_device_ttl: int = Field(default=300, ge=60, le=900)
    #: Risk policy (D3, docs/risk.md): a policy file; empty uses the built-in default.
    #: ``risk.policy.load_configured_policy`` refuses an invalid file with its location.
    risk_policy_file: str = ""
    #: The operator's offline geolocation database (MaxMind format, .mmdb) the risk
    #: orchestrator reads countries and coordinates from; empty: no geolocation.
    geoip_database: str = ""
    #: Reverse proxies (CIDRs) whose ``X-Forwarded-For`` names the client address; empty:
    #: the header is never trusted (the default).
    trusted_proxies: list[str] = Field(default_factory=list)

    #: Operator console (B7): the OIDC identity provider operators sign in at. The console
    #: is off while the issuer is empty. The client secret comes from the environment
    #: (SEALWRIGHT_CONSOLE_OIDC_CLIENT_SECRET) or a file; it is never written to a config
    #: file that is committed. The redirect URI is ``public_url`` + ``/console/callback``.
    console_oidc_issuer: str = ""
    console_oidc_client_id: str = ""
    console_oidc_client_secret: SecretStr | None = None
    console_oidc_client_secret_file: Path | None = None
    #: Seconds a console session may sit unused, and lives at most (then SSO and the
    #: second factor again).
    console_idle_timeout: int = Field(default=900, ge=60, le=86400)
    console_absolute_timeout: int = Field(default=8 * 3600, ge=300, le=7 * 86400)
    #: Second-factor failures before lock-outs start; each further one doubles the lock.
    console_factor_max_attempts: int = Field(default=5, ge=1, le=10)
    #: Webhooks (G2, docs/webhooks.md). Delays before attempt 1, 2, ... in seconds (the
    #: Standard Webhooks example schedule); past its end the last delay repeats.
    webhook_retry_schedule: list[float] = Field(
        default_factory=lambda: [0.0, 5.0, 3e2, 1.8e3, 7.2e3, 1.8e4, 3.6e4, 5.04e4, 7.2e4, 8.64e4],
        min_length=1,
        max_length=50,
    )
    #: Hard caps per delivery cycle: attempts, and seconds since the cycle began.
    webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    webhook_max_age: float = Field(default=4 * 24 * 3600, gt=0, le=30 * 24 * 3600)
    #: Each retry delay is stretched by up to this fraction, at random.
    webhook_retry_jitter: float = Field(default=0.2, ge=0, le=1)
    #: The longest ``Retry-After`` (429, 503) honoured, in seconds.
    webhook_retry_after_max: float = Field(default=3600, ge=0, le=86400)
    webhook_connect_timeout: float = Field(default=5, gt=0, le=60)
    #: Per read, and for the whole response body.
    webhook_read_timeout: float = Field(default=15, gt=0, le=120)
    #: Bytes of a receiver's response read (the rest is dropped) and kept as an excerpt.
    webhook_max_response_bytes: int = Field(default=4096, ge=0, le=1024 * 1024)
    webhook_excerpt_chars: int = Field(default=200, ge=0, le=1000)
    #: Concurrent deliveries per worker process, and in flight to one endpoint at a time.
    webhook_concurrency: int = Field(default=8, ge=1, le=256)
    webhook_per_endpoint_concurrency: int = Field(default=2, ge=1, le=64)
    #: Allow targets on private, loopback and link-local networks (an intranet, tests).
    webhook_allow_private_networks: bool = False
    #: Default seconds an endpoint's previous secret keeps signing after a rotation.
    webhook_secret_overlap: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)
    webhook_max_endpoints_per_tenant: int = Field(default=20, ge=1, le=1000)
    #: Run the durable-job worker inside the API process (the embedded default).
    inprocess_worker: bool = True
    #: Durable jobs: a claimed job's lease (a worker killed mid-job leaves it to be claimed
    #: again after this), attempts before a job is dead, and how long a worker shutting
    #: down waits for the job in hand before it gives the job back.
    job_lease_seconds: int = Field(default=120, ge=5, le=3600)
    job_max_attempts: int = Field(default=12, ge=1, le=100)
    worker_shutdown_timeout: float = Field(default=30.0, ge=0, le=600)
    worker_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    #: Claiming loops per ``sealwright worker`` process (jobs wait on I/O: a TSA, SMTP).
    worker_threads: int = Field(default=2, ge=1, le=64)
    #: Reminders and expiry (A1): how often the sweep runs, and each envelope's default
    #: expiry and reminder policy (an envelope may set its own on create; ``reminder_max``
    #: 0 = no reminders).
    sweep_interval: int = Field(default=300, ge=1, le=86400)
    envelope_expires_in_days: int = Field(default=30, ge=1, le=365)
    reminder_first_after_hours: int = Field(default=48, ge=1, le=24 * 365)
    reminder_every_hours: int = Field(default=48, ge=1, le=24 * 365)
    reminder_max: int = Field(default=3, ge=0, le=20)
    #: KPIs and metrics (G5, docs/kpi.md). Cost of one channel run, per channel, in any
    #: currency unit; the environment takes JSON: SEALWRIGHT_KPI_UNIT_COSTS='{"video": 0.4}'.
    kpi_unit_costs: dict[str, float] = Field(
        default_factory=lambda: {
            "phone-callback": 0.05,
            "sms-otp": 0.01,
            "video": 0.50,
            "manual-review": 2.00,
        }
    )
    #: The window of the KPI gauges on ``/metrics`` (hours back from the scrape).
    kpi_window_hours: int = Field(default=24, ge=1, le=24 * 366)
    #: ``GET /metrics`` (Prometheus); with a token set, only with ``Bearer <token>``.
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    #: Create a demo tenant and envelope on first start (the embedded default).
    demo: bool = False

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sealwright.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Environment wins over the file; explicit overrides win over both."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        try:
            file_values = tomllib.loads(config_file.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read config file {config_file}: {exc}") from exc
    env_only = Settings()
    merged = {**file_values, **env_only.model_dump(exclude_unset=True), **overrides}
    try:
        return Settings(**merged)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
