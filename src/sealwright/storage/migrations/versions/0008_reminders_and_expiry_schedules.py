"""reminders and expiry schedules

``envelopes.reminders`` is an envelope's own reminder policy (JSON: first_after_hours,
every_hours, max; null means the settings' defaults). ``recipient_reminders`` records each
reminder sent, keyed by (recipient, reminder number): the key is what makes two workers
sweeping at once unable to send the same reminder twice. An index on ``envelopes.status``
keeps the sweep (services/reminders.py) to the envelopes still out for signature.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("envelopes") as batch:
        batch.add_column(sa.Column("reminders", sa.JSON(), nullable=True))
    op.create_index(op.f("ix_envelopes_status"), "envelopes", ["status"], unique=False)
    op.create_table(
        "recipient_reminders",
        sa.Column("recipient_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("envelope_id", sa.String(length=32), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"]),
        sa.ForeignKeyConstraint(["envelope_id"], ["envelopes.id"]),
        sa.PrimaryKeyConstraint("recipient_id", "number"),
    )
    op.create_index(
        op.f("ix_recipient_reminders_envelope_id"),
        "recipient_reminders",
        ["envelope_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_recipient_reminders_envelope_id"), table_name="recipient_reminders")
    op.drop_table("recipient_reminders")
    op.drop_index(op.f("ix_envelopes_status"), table_name="envelopes")
    with op.batch_alter_table("envelopes") as batch:
        batch.drop_column("reminders")
