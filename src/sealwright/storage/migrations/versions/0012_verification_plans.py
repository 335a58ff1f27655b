"""verification plans and signer observations

The risk orchestrator (D4): one plan per risk-based recipient (its state machine's current
value as JSON, ``risk/plan.py``) and the request signals observed for a recipient when its
address, country or device changed -- the address only as an HMAC under the service's
pepper, coordinates rounded to 0.1 degree.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_plans",
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("envelope_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"]),
        sa.ForeignKeyConstraint(["envelope_id"], ["envelopes.id"]),
        sa.PrimaryKeyConstraint("recipient_id"),
    )
    op.create_index("ix_verification_plans_envelope_id", "verification_plans", ["envelope_id"])
    op.create_table(
        "signer_observations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip_ref", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signer_observations_recipient_id", "signer_observations", ["recipient_id"])
    op.create_index("ix_signer_observations_identity", "signer_observations", ["identity"])


def downgrade() -> None:
    op.drop_index("ix_signer_observations_identity", "signer_observations")
    op.drop_index("ix_signer_observations_recipient_id", "signer_observations")
    op.drop_table("signer_observations")
    op.drop_index("ix_verification_plans_envelope_id", "verification_plans")
    op.drop_table("verification_plans")
