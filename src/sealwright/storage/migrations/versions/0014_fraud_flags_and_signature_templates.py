"""fraud flags and signature templates

``fraud_flags``: flags raised on a signer identity (a reviewer's denial, an operator), the
risk engine's "past fraud flags" signal (D1). ``signature_templates``: the encrypted
motion template of each drawn signature a risk-based signer signed with (D5), for replay
detection and similarity to the first (enrolled) one.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fraud_flags",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fraud_flags_identity", "fraud_flags", ["identity"])
    op.create_table(
        "signature_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signature_templates_identity", "signature_templates", ["identity"])


def downgrade() -> None:
    op.drop_index("ix_signature_templates_identity", "signature_templates")
    op.drop_table("signature_templates")
    op.drop_index("ix_fraud_flags_identity", "fraud_flags")
    op.drop_table("fraud_flags")
