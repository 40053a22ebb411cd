"""The decision log and API-key store: SQLAlchemy 2 over SQLite (default) or PostgreSQL.

The store knows nothing of the engine or of HTTP: it keeps what the API hands it (decision records,
hashed API keys) and gives it back exactly. Schema changes are Alembic migrations inside this package
(``painpath.store.migrations``), applied by :func:`open_store` at startup.
"""

from painpath.store.cds import CardRecord, CdsLog, FeedbackRecord, LinkedFeedback, UnknownCards
from painpath.store.database import StoreUnavailable, default_database_url, normalise_url
from painpath.store.decisions import DecisionLog, DecisionRecord
from painpath.store.keys import ApiKeyRecord, KeyStore
from painpath.store.store import Store, open_store
from painpath.store.token_ids import ReplayGuard

__all__ = [
    "ApiKeyRecord",
    "CardRecord",
    "CdsLog",
    "DecisionLog",
    "DecisionRecord",
    "FeedbackRecord",
    "KeyStore",
    "LinkedFeedback",
    "ReplayGuard",
    "Store",
    "StoreUnavailable",
    "UnknownCards",
    "default_database_url",
    "normalise_url",
    "open_store",
]
