"""face templates

A signer identity's enrolled face template for the video channel's optional face match
(C3): the ciphertext only (``keys/aead.py`` under the keyring, aad naming the identity), the
run and recording it was enrolled from, and its retention (``delete_after``).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("verification_id", sa.String(length=32), nullable=False),
        sa.Column("recording_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delete_after", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["verification_id"], ["channel_verifications.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identity"),
    )
    op.create_index(
        "ix_face_templates_verification_id", "face_templates", ["verification_id"]
    )
    op.create_index("ix_face_templates_delete_after", "face_templates", ["delete_after"])


def downgrade() -> None:
    op.drop_index("ix_face_templates_delete_after", "face_templates")
    op.drop_index("ix_face_templates_verification_id", "face_templates")
    op.drop_table("face_templates")
