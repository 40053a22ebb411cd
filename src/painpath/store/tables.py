"""The tables, as SQLAlchemy Core. Migrations in ``migrations/versions`` must produce exactly these."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)

decisions = Table(
    "decisions",
    metadata,
    Column("decision_id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("caller_key_id", String(64), nullable=False, comment="API key id of the caller; never a patient id"),
    Column("status", String(32), nullable=False),
    Column("engine_version", String(32), nullable=False),
    Column("ruleset_name", String(128), nullable=False),
    Column("ruleset_version", String(32), nullable=False),
    Column("ruleset_hash", String(64), nullable=False),
    Column("parameters", Text, nullable=False, comment="JSON: parameter values, sources and citations"),
    Column("input_facts", Text, nullable=False, comment="the request body exactly as received"),
    Column("output_json", Text, nullable=False, comment="the decision exactly as issued"),
    Column("output_sha256", String(64), nullable=False),
    # The worklist's columns (migration 0003): computed from the Decision when it is recorded, so the
    # triage worklist filters and sorts without decoding every decision. Null in manual-review rows.
    Column("patient_ref", String(128), nullable=True, comment="the caller's patient reference; shown, never logged"),
    Column("highest_urgency", String(16), nullable=True, comment="most urgent red flag or safety alert"),
    Column("urgency_rank", Integer, nullable=True, comment="0 emergency .. 3 routine, 4 none (for sorting)"),
    Column("red_flag_status", String(16), nullable=True, comment="present | absent | incomplete"),
    Column("pmp_status", String(32), nullable=True),
    Column("pmp_setting", String(32), nullable=True),
    Column("referrals_requested", String(255), nullable=True, comment="space-separated referral codes, sorted"),
    Column(
        "payload",
        LargeBinary,
        nullable=True,
        comment="compressed JSON (zstd or zlib, first byte says which) of the input, parameters and decision as "
        "issued (store/replay.py); the three text columns are then empty. Null once pruned (or for rows "
        "written before 0005)",
    ),
    Column("pruned_at", DateTime(timezone=True), nullable=True, comment="set when retention removed the content"),
    Index("ix_decisions_created_at", "created_at"),
    Index("ix_decisions_ruleset_hash", "ruleset_hash"),
    Index("ix_decisions_caller_key_id", "caller_key_id"),
    Index("ix_decisions_urgency_rank", "urgency_rank", "created_at"),
    Index("ix_decisions_pmp_status", "pmp_status"),
    Index("ix_decisions_patient_ref", "patient_ref"),
)

rulesets = Table(
    "rulesets",
    metadata,
    Column("content_hash", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("version", String(32), nullable=False),
    Column("archived_at", DateTime(timezone=True), nullable=False),
    Column("files", LargeBinary, nullable=False, comment="zlib-compressed JSON: relative path -> file text"),
    Column("zdict", LargeBinary, nullable=True, comment="preset zlib dictionary for this ruleset's decisions"),
    Column(
        "zstd_dict",
        LargeBinary,
        nullable=True,
        comment="zstd raw-content dictionary for this ruleset's decisions (payloads marked Z)",
    ),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_sha256", String(64), nullable=False, comment="sha256 of the token; the token is never stored"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

cds_cards = Table(
    "cds_cards",
    metadata,
    Column("card_uuid", String(36), primary_key=True),
    Column("decision_id", String(36), nullable=False, comment="the decision the card was built from"),
    Column("service_id", String(64), nullable=False),
    Column("hook_instance", String(64), nullable=False),
    Column("rule_id", String(128), nullable=True, comment="null for cards not resting on one rule (missing data)"),
    Column("rule_version", String(32), nullable=True),
    Column("indicator", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column(
        "caller_key_id",
        String(64),
        nullable=True,
        comment="the client the card was issued to (null: issued before 0004, no feedback accepted)",
    ),
    Index("ix_cds_cards_decision_id", "decision_id"),
)

cds_feedback = Table(
    "cds_feedback",
    metadata,
    Column("feedback_id", String(36), primary_key=True),
    Column("card_uuid", String(36), nullable=False),
    Column("service_id", String(64), nullable=False),
    Column("outcome", String(16), nullable=False, comment="accepted | overridden"),
    Column("accepted_suggestions", Text, nullable=False, comment="JSON array of accepted suggestion uuids"),
    Column("override_system", String(255), nullable=True),
    Column("override_code", String(128), nullable=True),
    Column("override_comment", Text, nullable=True, comment="the clinician's comment; stored, never logged"),
    Column("outcome_timestamp", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("caller_key_id", String(64), nullable=False, comment="API key id or CDS client; never a patient id"),
    Index("ix_cds_feedback_card_uuid", "card_uuid"),
)

triage_outcomes = Table(
    "triage_outcomes",
    metadata,
    Column("outcome_id", String(36), primary_key=True),
    Column("decision_id", String(36), ForeignKey("decisions.decision_id"), nullable=False),
    Column("outcome", String(16), nullable=False, comment="accepted | redirected | returned (triage/codes.yaml)"),
    Column("service", String(64), nullable=True, comment="accepted: the service"),
    Column("setting", String(32), nullable=True, comment="accepted: the setting"),
    Column("redirected_to", String(64), nullable=True),
    Column("returned_reason", String(64), nullable=True, comment="a code from triage/codes.yaml"),
    Column("advice", String(64), nullable=False, comment="the advice rule the outcome was compared with"),
    Column("departs_from_advice", Boolean, nullable=False),
    Column("reason_text", Text, nullable=True, comment="the triager's reason; stored, never logged"),
    Column("actor_key_id", String(64), nullable=False, comment="API key id of who recorded it"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_triage_outcomes_decision_id", "decision_id", "created_at"),
    comment="append-only: a later outcome supersedes an earlier one, which stays",
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("session_sha256", String(64), primary_key=True, comment="sha256 of the cookie; the cookie is never stored"),
    Column("key_id", String(32), nullable=False, comment="the API key signed in with"),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_web_sessions_key_id", "key_id"),
)

cds_jwt_ids = Table(
    "cds_jwt_ids",
    metadata,
    Column("jti_sha256", String(64), primary_key=True, comment="sha256 of issuer and jti; never the token"),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_cds_jwt_ids_expires_at", "expires_at"),
)
