"""CDS Hooks security: JWT ids seen (replay protection across restarts and workers), card owners.

``cds_jwt_ids`` holds the sha256 of each accepted client JWT's issuer and ``jti`` until the token
expires, so a replayed token is refused by every service process, also after a restart.
``cds_cards.caller_key_id`` records the client (API key id, or ``cds:`` and a digest of the JWT
issuer) a card was issued to: only that client may give feedback on it.

Revision ID: 0004
Revises: 0002 (the web helper's 0003 is re-chained in between at merge)
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_jwt_ids",
        sa.Column("jti_sha256", sa.String(64), nullable=False, comment="sha256 of issuer and jti; never the token"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti_sha256", name="pk_cds_jwt_ids"),
    )
    op.create_index("ix_cds_jwt_ids_expires_at", "cds_jwt_ids", ["expires_at"])
    with op.batch_alter_table("cds_cards") as batch:
        batch.add_column(
            sa.Column(
                "caller_key_id",
                sa.String(64),
                nullable=True,
                comment="the client the card was issued to (null: issued before 0004, no feedback accepted)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("cds_cards") as batch:
        batch.drop_column("caller_key_id")
    op.drop_index("ix_cds_jwt_ids_expires_at", table_name="cds_jwt_ids")
    op.drop_table("cds_jwt_ids")
