"""witness cosignatures of checkpoints

One row per (checkpoint size, witness key): the C2SP tlog-cosignature line the witness
returned. Append-only like the checkpoints they cosign.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_cosignatures",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=300), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["size"], ["checkpoints.size"]),
        sa.PrimaryKeyConstraint("size", "witness"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER checkpoint_cosignatures_no_{verb.lower()} BEFORE {verb} "
                "ON checkpoint_cosignatures "
                "BEGIN SELECT RAISE(ABORT, 'checkpoint_cosignatures is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER checkpoint_cosignatures_append_only BEFORE UPDATE OR DELETE OR "
            "TRUNCATE ON checkpoint_cosignatures FOR EACH STATEMENT "
            "EXECUTE FUNCTION sealwright_append_only()"
        )


def downgrade() -> None:
    op.drop_table("checkpoint_cosignatures")
