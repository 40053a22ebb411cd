"""Decision log and API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "caller_key_id", sa.String(64), nullable=False, comment="API key id of the caller; never a patient id"
        ),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("engine_version", sa.String(32), nullable=False),
        sa.Column("ruleset_name", sa.String(128), nullable=False),
        sa.Column("ruleset_version", sa.String(32), nullable=False),
        sa.Column("ruleset_hash", sa.String(64), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False, comment="JSON: parameter values, sources and citations"),
        sa.Column("input_facts", sa.Text(), nullable=False, comment="the request body exactly as received"),
        sa.Column("output_json", sa.Text(), nullable=False, comment="the decision exactly as issued"),
        sa.Column("output_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])
    op.create_index("ix_decisions_ruleset_hash", "decisions", ["ruleset_hash"])
    op.create_index("ix_decisions_caller_key_id", "decisions", ["caller_key_id"])
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column(
            "token_sha256", sa.String(64), nullable=False, comment="sha256 of the token; the token is never stored"
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_index("ix_decisions_caller_key_id", table_name="decisions")
    op.drop_index("ix_decisions_ruleset_hash", table_name="decisions")
    op.drop_index("ix_decisions_created_at", table_name="decisions")
    op.drop_table("decisions")
