"""Smaller payloads: a zstd dictionary per archived ruleset (payloads marked ``Z``, store/replay.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PAYLOAD_BEFORE = (
    "zlib-compressed JSON of the input, parameters and decision as issued (store/replay.py); "
    "the three text columns are then empty. Null once pruned (or for rows written before 0005)"
)
PAYLOAD_AFTER = (
    "compressed JSON (zstd or zlib, first byte says which) of the input, parameters and decision as "
    "issued (store/replay.py); the three text columns are then empty. Null once pruned (or for rows "
    "written before 0005)"
)


def upgrade() -> None:
    with op.batch_alter_table("rulesets") as batch:
        batch.add_column(
            sa.Column(
                "zstd_dict",
                sa.LargeBinary(),
                nullable=True,
                comment="zstd raw-content dictionary for this ruleset's decisions (payloads marked Z)",
            )
        )
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("payload", existing_type=sa.LargeBinary(), existing_nullable=True, comment=PAYLOAD_AFTER)


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("payload", existing_type=sa.LargeBinary(), existing_nullable=True, comment=PAYLOAD_BEFORE)
    with op.batch_alter_table("rulesets") as batch:
        batch.drop_column("zstd_dict")
