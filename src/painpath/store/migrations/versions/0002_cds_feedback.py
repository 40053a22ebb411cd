"""CDS Hooks cards and feedback.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_cards",
        sa.Column("card_uuid", sa.String(36), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False, comment="the decision the card was built from"),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.String(64), nullable=False),
        sa.Column(
            "rule_id", sa.String(128), nullable=True, comment="null for cards not resting on one rule (missing data)"
        ),
        sa.Column("rule_version", sa.String(32), nullable=True),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("card_uuid", name="pk_cds_cards"),
    )
    op.create_index("ix_cds_cards_decision_id", "cds_cards", ["decision_id"])
    op.create_table(
        "cds_feedback",
        sa.Column("feedback_id", sa.String(36), nullable=False),
        sa.Column("card_uuid", sa.String(36), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False, comment="accepted | overridden"),
        sa.Column("accepted_suggestions", sa.Text(), nullable=False, comment="JSON array of accepted suggestion uuids"),
        sa.Column("override_system", sa.String(255), nullable=True),
        sa.Column("override_code", sa.String(128), nullable=True),
        sa.Column(
            "override_comment", sa.Text(), nullable=True, comment="the clinician's comment; stored, never logged"
        ),
        sa.Column("outcome_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "caller_key_id",
            sa.String(64),
            nullable=False,
            comment="API key id or CDS client; never a patient id",
        ),
        sa.PrimaryKeyConstraint("feedback_id", name="pk_cds_feedback"),
    )
    op.create_index("ix_cds_feedback_card_uuid", "cds_feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_index("ix_cds_feedback_card_uuid", table_name="cds_feedback")
    op.drop_table("cds_feedback")
    op.drop_index("ix_cds_cards_decision_id", table_name="cds_cards")
    op.drop_table("cds_cards")
