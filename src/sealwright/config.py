"""Settings: environment variables prefixed ``SEALWRIGHT_``, optionally a TOML file.

Nothing here opens a file or a connection; ``create_app`` and the CLI build what the
settings describe.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field
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
    signing_link_ttl: int = Field(default=7 * 24 * 3600, gt=0)
    otp_ttl: int = Field(default=600, ge=60, le=1800)
    otp_max_attempts: int = Field(default=5, ge=1, le=10)
    otp_max_sends: int = Field(default=3, ge=1, le=10)
    signer_session_ttl: int = Field(default=3600, gt=0)
    #: Run the durable-job worker inside the API process (the embedded default).
    inprocess_worker: bool = True
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
