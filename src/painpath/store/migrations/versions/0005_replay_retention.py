"""Replayable, compact decisions: compressed payloads, the rulesets they used, retention tombstones.

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(
            sa.Column(
                "payload",
                sa.LargeBinary(),
                nullable=True,
                comment="zlib-compressed JSON of the input, parameters and decision as issued (store/replay.py); "
                "the three text columns are then empty. Null once pruned (or for rows written before 0005)",
            )
        )
        batch.add_column(
            sa.Column(
                "pruned_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="set when retention removed the content",
            )
        )
    op.create_table(
        "rulesets",
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "files", sa.LargeBinary(), nullable=False, comment="zlib-compressed JSON: relative path -> file text"
        ),
        sa.Column(
            "zdict", sa.LargeBinary(), nullable=True, comment="preset zlib dictionary for this ruleset's decisions"
        ),
        sa.PrimaryKeyConstraint("content_hash", name="pk_rulesets"),
    )


def downgrade() -> None:
    op.drop_table("rulesets")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("pruned_at")
        batch.drop_column("payload")
