"""Triage worklist: index columns on the decision log, triage outcomes (append-only), web sessions.

The new decision columns are filled for decisions recorded before this migration from their stored
JSON (the decision as issued, and the request body for the referrals requested), so the worklist
shows old referrals too. The code here is frozen with the migration: it does not import painpath.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_RANK = {"emergency": 0, "urgent": 1, "soon": 2, "routine": 3}
_NONE_RANK = 4
_BATCH = 500


def _summary(output_json: str, input_facts: str) -> dict[str, Any]:
    """The worklist columns of one stored decision (as ``painpath.triage.summary`` computes them)."""
    try:
        doc = json.loads(output_json)
    except ValueError:
        return {}
    out: dict[str, Any] = {"patient_ref": doc.get("patient_id")}
    if doc.get("status") != "ok":
        return out
    urgencies = [f.get("urgency") for f in (doc.get("red_flags") or {}).get("findings", [])]
    urgencies += [a.get("urgency") for a in doc.get("safety_alerts") or []]
    ranks = [_RANK[u] for u in urgencies if u in _RANK]
    rank = min(ranks, default=_NONE_RANK)
    out["urgency_rank"] = rank
    out["highest_urgency"] = next((u for u, r in _RANK.items() if r == rank), None)
    out["red_flag_status"] = (doc.get("red_flags") or {}).get("status")
    pmp = doc.get("pmp") or {}
    out["pmp_status"] = pmp.get("status")
    out["pmp_setting"] = pmp.get("setting")
    try:
        facts = json.loads(input_facts)
    except ValueError:
        facts = None
    care = facts.get("care") if isinstance(facts, dict) else None
    referrals = care.get("referrals_requested") if isinstance(care, dict) else None
    if isinstance(referrals, list) and all(isinstance(r, str) for r in referrals):
        out["referrals_requested"] = " ".join(sorted(set(referrals)))[:255] or None
    return out


def _backfill() -> None:
    conn = op.get_bind()
    decisions = sa.table(
        "decisions",
        sa.column("decision_id", sa.String),
        sa.column("output_json", sa.Text),
        sa.column("input_facts", sa.Text),
        sa.column("patient_ref", sa.String),
        sa.column("highest_urgency", sa.String),
        sa.column("urgency_rank", sa.Integer),
        sa.column("red_flag_status", sa.String),
        sa.column("pmp_status", sa.String),
        sa.column("pmp_setting", sa.String),
        sa.column("referrals_requested", sa.String),
    )
    last = ""
    while True:
        rows = conn.execute(
            sa.select(decisions.c.decision_id, decisions.c.output_json, decisions.c.input_facts)
            .where(decisions.c.decision_id > last)
            .order_by(decisions.c.decision_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for decision_id, output_json, input_facts in rows:
            values = _summary(output_json, input_facts)
            if values.get("patient_ref") is not None:
                values["patient_ref"] = str(values["patient_ref"])[:128]
            if values:
                conn.execute(decisions.update().where(decisions.c.decision_id == decision_id).values(**values))
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(
            sa.Column(
                "patient_ref",
                sa.String(128),
                nullable=True,
                comment="the caller's patient reference; shown, never logged",
            )
        )
        batch.add_column(
            sa.Column("highest_urgency", sa.String(16), nullable=True, comment="most urgent red flag or safety alert")
        )
        batch.add_column(
            sa.Column(
                "urgency_rank", sa.Integer(), nullable=True, comment="0 emergency .. 3 routine, 4 none (for sorting)"
            )
        )
        batch.add_column(
            sa.Column("red_flag_status", sa.String(16), nullable=True, comment="present | absent | incomplete")
        )
        batch.add_column(sa.Column("pmp_status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("pmp_setting", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column(
                "referrals_requested", sa.String(255), nullable=True, comment="space-separated referral codes, sorted"
            )
        )
    op.create_index("ix_decisions_urgency_rank", "decisions", ["urgency_rank", "created_at"])
    op.create_index("ix_decisions_pmp_status", "decisions", ["pmp_status"])
    op.create_index("ix_decisions_patient_ref", "decisions", ["patient_ref"])
    _backfill()
    op.create_table(
        "triage_outcomes",
        sa.Column("outcome_id", sa.String(36), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column(
            "outcome", sa.String(16), nullable=False, comment="accepted | redirected | returned (triage/codes.yaml)"
        ),
        sa.Column("service", sa.String(64), nullable=True, comment="accepted: the service"),
        sa.Column("setting", sa.String(32), nullable=True, comment="accepted: the setting"),
        sa.Column("redirected_to", sa.String(64), nullable=True),
        sa.Column("returned_reason", sa.String(64), nullable=True, comment="a code from triage/codes.yaml"),
        sa.Column("advice", sa.String(64), nullable=False, comment="the advice rule the outcome was compared with"),
        sa.Column("departs_from_advice", sa.Boolean(), nullable=False),
        sa.Column("reason_text", sa.Text(), nullable=True, comment="the triager's reason; stored, never logged"),
        sa.Column("actor_key_id", sa.String(64), nullable=False, comment="API key id of who recorded it"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.decision_id"], name="fk_triage_outcomes_decision_id_decisions"
        ),
        sa.PrimaryKeyConstraint("outcome_id", name="pk_triage_outcomes"),
        comment="append-only: a later outcome supersedes an earlier one, which stays",
    )
    op.create_index("ix_triage_outcomes_decision_id", "triage_outcomes", ["decision_id", "created_at"])
    op.create_table(
        "web_sessions",
        sa.Column(
            "session_sha256",
            sa.String(64),
            nullable=False,
            comment="sha256 of the cookie; the cookie is never stored",
        ),
        sa.Column("key_id", sa.String(32), nullable=False, comment="the API key signed in with"),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_sha256", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_key_id", "web_sessions", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_key_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index("ix_triage_outcomes_decision_id", table_name="triage_outcomes")
    op.drop_table("triage_outcomes")
    op.drop_index("ix_decisions_patient_ref", table_name="decisions")
    op.drop_index("ix_decisions_pmp_status", table_name="decisions")
    op.drop_index("ix_decisions_urgency_rank", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        for column in (
            "referrals_requested",
            "pmp_setting",
            "pmp_status",
            "red_flag_status",
            "urgency_rank",
            "highest_urgency",
            "patient_ref",
        ):
            batch.drop_column(column)
