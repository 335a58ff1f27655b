"""signer authentication methods and verifications

Per-recipient authentication methods (``recipients.auth``) and a per-envelope maximum
authentication age (``envelopes.max_auth_age``); the verifications a signer passed, the
server-side challenges of a signer session, TOTP and passkey enrolments of signer
identities, and the shared brute-force / rate-limit counters (``auth_throttle``).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.add_column(sa.Column("auth", sa.JSON(), nullable=True))
    with op.batch_alter_table("envelopes") as batch:
        batch.add_column(sa.Column("max_auth_age", sa.Integer(), nullable=True))
    op.create_table(
        "signer_verifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"]),
        sa.ForeignKeyConstraint(["session_hash"], ["signer_sessions.token_hash"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_signer_verifications_session_hash"), "signer_verifications", ["session_hash"]
    )
    op.create_index(
        op.f("ix_signer_verifications_recipient_id"), "signer_verifications", ["recipient_id"]
    )
    op.create_table(
        "signer_challenges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["session_hash"], ["signer_sessions.token_hash"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_signer_challenges_session_hash"), "signer_challenges", ["session_hash"]
    )
    op.create_table(
        "signer_totp",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "identity"),
    )
    op.create_table(
        "signer_passkeys",
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.JSON(), nullable=False),
        sa.Column("aaguid", sa.String(length=64), nullable=False),
        sa.Column("user_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("credential_id"),
    )
    op.create_index(op.f("ix_signer_passkeys_identity"), "signer_passkeys", ["identity"])
    op.create_table(
        "auth_throttle",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )


def downgrade() -> None:
    op.drop_table("auth_throttle")
    op.drop_index(op.f("ix_signer_passkeys_identity"), table_name="signer_passkeys")
    op.drop_table("signer_passkeys")
    op.drop_table("signer_totp")
    op.drop_index(op.f("ix_signer_challenges_session_hash"), table_name="signer_challenges")
    op.drop_table("signer_challenges")
    op.drop_index(op.f("ix_signer_verifications_recipient_id"), table_name="signer_verifications")
    op.drop_index(op.f("ix_signer_verifications_session_hash"), table_name="signer_verifications")
    op.drop_table("signer_verifications")
    with op.batch_alter_table("envelopes") as batch:
        batch.drop_column("max_auth_age")
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("auth")
