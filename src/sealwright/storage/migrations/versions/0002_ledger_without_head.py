"""ledger without a head row; checkpoint timestamp tokens

Appends are serialised by a lock that updates no row (services/audit.py), so the
``ledger_head`` counter goes: no ledger table is ever updated. Checkpoints gain the RFC 3161
token over them, written with the row (the table is append-only).

Both are plain DDL: adding a column neither rewrites nor updates the append-only
``checkpoints`` rows, and on SQLite ``ADD COLUMN`` keeps the table, hence its triggers.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("ledger_head")
    op.add_column("checkpoints", sa.Column("timestamp_token", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Lossy by nature: the tokens go with their column.
    op.drop_column("checkpoints", "timestamp_token")
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        "INSERT INTO ledger_head (id, size) SELECT 1, coalesce(max(idx), -1) + 1 FROM ledger_events"
    )
