"""video recordings

One row per capture uploaded to a video verification run (C3): where its ciphertext lives
in the blob store, its own data key wrapped by the keyring, its hashes, the fingerprint of
an accepted capture (replay check) and its retention (``delete_after``; ``deleted_at`` once
the sweep removed the blob).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "video_recordings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("verification_id", sa.String(length=32), nullable=False),
        sa.Column("envelope_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("blob_key", sa.String(length=200), nullable=False),
        sa.Column("kek_id", sa.String(length=255), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("vid_hash", sa.String(length=64), nullable=True),
        sa.Column("fingerprint", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delete_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["verification_id"], ["channel_verifications.id"]),
        sa.ForeignKeyConstraint(["envelope_id"], ["envelopes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_video_recordings_verification_id", "video_recordings", ["verification_id"]
    )
    op.create_index("ix_video_recordings_envelope_id", "video_recordings", ["envelope_id"])
    op.create_index("ix_video_recordings_status", "video_recordings", ["status"])
    op.create_index("ix_video_recordings_delete_after", "video_recordings", ["delete_after"])


def downgrade() -> None:
    op.drop_index("ix_video_recordings_delete_after", "video_recordings")
    op.drop_index("ix_video_recordings_status", "video_recordings")
    op.drop_index("ix_video_recordings_envelope_id", "video_recordings")
    op.drop_index("ix_video_recordings_verification_id", "video_recordings")
    op.drop_table("video_recordings")
