"""channel verifications

One row per run of an out-of-band verification channel (phone callback, SMS, signed QR
second device, video, manual review, human assistance) for a recipient: its nonce, the
channel's state between start and completion, and the assertion its final result became.
Mutable while pending; the evidence is the assertion and the ledger events.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_verifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("envelope_id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("display", sa.JSON(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=80), nullable=True),
        sa.Column("assertion_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["envelope_id"], ["envelopes.id"]),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_channel_verifications_envelope_id", "channel_verifications", ["envelope_id"])
    op.create_index(
        "ix_channel_verifications_recipient_id", "channel_verifications", ["recipient_id"]
    )
    op.create_index("ix_channel_verifications_status", "channel_verifications", ["status"])


def downgrade() -> None:
    op.drop_index("ix_channel_verifications_status", "channel_verifications")
    op.drop_index("ix_channel_verifications_recipient_id", "channel_verifications")
    op.drop_index("ix_channel_verifications_envelope_id", "channel_verifications")
    op.drop_table("channel_verifications")
