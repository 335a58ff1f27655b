"""api client lifecycle, folders as zones, single-use token ids

Clients get a secret creation time, an overlapping previous secret after a rotation, and
an optional folder restriction; envelopes get a folder (existing ones: "general"); spent
single-use token ids, tokens minted by attenuation, and per-client scope/folder usage get
their tables. None of these tables is append-only: expired rows may be purged.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.add_column(sa.Column("secret_created_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("previous_secret_hash", sa.String(length=300), nullable=True))
        batch.add_column(
            sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("folders", sa.Text(), nullable=True))
    op.execute("UPDATE api_clients SET secret_created_at = created_at")
    with op.batch_alter_table("api_clients") as batch:
        batch.alter_column(
            "secret_created_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
    op.add_column(
        "envelopes",
        sa.Column("folder", sa.String(length=50), nullable=False, server_default="general"),
    )
    op.create_table(
        "used_token_ids",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    op.create_index("ix_used_token_ids_expires_at", "used_token_ids", ["expires_at"])
    op.create_table(
        "delegated_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("parent_jti", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    op.create_index("ix_delegated_tokens_expires_at", "delegated_tokens", ["expires_at"])
    op.create_table(
        "api_client_usage",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("item", sa.String(length=80), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"]),
        sa.PrimaryKeyConstraint("client_id", "item"),
    )


def downgrade() -> None:
    op.drop_table("api_client_usage")
    op.drop_index("ix_delegated_tokens_expires_at", table_name="delegated_tokens")
    op.drop_table("delegated_tokens")
    op.drop_index("ix_used_token_ids_expires_at", table_name="used_token_ids")
    op.drop_table("used_token_ids")
    with op.batch_alter_table("envelopes") as batch:
        batch.drop_column("folder")
    with op.batch_alter_table("api_clients") as batch:
        batch.drop_column("folders")
        batch.drop_column("previous_secret_expires_at")
        batch.drop_column("previous_secret_hash")
        batch.drop_column("secret_created_at")
