"""verification channel assertions

One row per signed assertion a verification channel's result became (channels/
assertions.py): the compact JWS exactly as issued. Append-only like the ledger that logs
each of them (``system:assertion:issued`` names the id and the SHA-256 of ``compact``).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_assertions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("envelope_id", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("compact", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["envelope_id"], ["envelopes.id"]),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_verification_assertions_envelope_id", "verification_assertions", ["envelope_id"]
    )
    op.create_index(
        "ix_verification_assertions_recipient_id", "verification_assertions", ["recipient_id"]
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER verification_assertions_no_{verb.lower()} BEFORE {verb} "
                "ON verification_assertions "
                "BEGIN SELECT RAISE(ABORT, 'verification_assertions is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER verification_assertions_append_only BEFORE UPDATE OR DELETE OR "
            "TRUNCATE ON verification_assertions FOR EACH STATEMENT "
            "EXECUTE FUNCTION sealwright_append_only()"
        )


def downgrade() -> None:
    op.drop_index("ix_verification_assertions_recipient_id", "verification_assertions")
    op.drop_index("ix_verification_assertions_envelope_id", "verification_assertions")
    op.drop_table("verification_assertions")
