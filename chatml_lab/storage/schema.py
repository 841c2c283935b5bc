"""Numbered migrations. Index ``i`` brings ``PRAGMA user_version`` from ``i`` to ``i + 1``.

Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the whole schema of DESIGN §2-§3.
    """
    CREATE TABLE workspaces (
        id              TEXT PRIMARY KEY,
        name            TEXT NOT NULL UNIQUE,
        path            TEXT NOT NULL UNIQUE,
        default_branch  TEXT NOT NULL,
        remote          TEXT,
        branch_prefix   TEXT,
        created_at      REAL NOT NULL,
        last_fetch_at   REAL
    );

    CREATE TABLE sessions (
        id                     TEXT PRIMARY KEY,
        workspace_id           TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        name                   TEXT NOT NULL,
        branch                 TEXT NOT NULL,
        worktree_path          TEXT NOT NULL UNIQUE,
        base_ref               TEXT NOT NULL,
        base_commit            TEXT NOT NULL,
        created_at             REAL NOT NULL,
        updated_at             REAL NOT NULL,
        priority               TEXT NOT NULL DEFAULT 'none',
        task_status            TEXT NOT NULL DEFAULT 'in_progress',
        pinned                 INTEGER NOT NULL DEFAULT 0,
        archived               INTEGER NOT NULL DEFAULT 0,
        archive_summary        TEXT,
        archive_summary_state  TEXT NOT NULL DEFAULT 'none',
        snapshot_ref           TEXT,
        pr_status              TEXT NOT NULL DEFAULT 'none',
        pr_number              INTEGER,
        pr_url                 TEXT,
        auto_named             INTEGER NOT NULL DEFAULT 0,
        agent_backend          TEXT,
        model                  TEXT,
        permission_mode        TEXT NOT NULL DEFAULT 'default',
        cost_usd               REAL DEFAULT 0,
        input_tokens           INTEGER NOT NULL DEFAULT 0,
        output_tokens          INTEGER NOT NULL DEFAULT 0,
        port_base              INTEGER NOT NULL UNIQUE,
        ahead                  INTEGER,
        behind                 INTEGER,
        drift_checked_at       REAL,
        health                 TEXT NOT NULL DEFAULT 'ok',
        UNIQUE (workspace_id, name),
        UNIQUE (workspace_id, branch)
    );

    CREATE TABLE conversations (
        id                TEXT PRIMARY KEY,
        session_id        TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        kind              TEXT NOT NULL,
        title             TEXT NOT NULL,
        agent_state       TEXT NOT NULL DEFAULT 'idle',
        agent_session_id  TEXT,
        created_at        REAL NOT NULL,
        updated_at        REAL NOT NULL
    );
    CREATE INDEX conversations_session ON conversations(session_id);

    CREATE TABLE events (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id  TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        type             TEXT NOT NULL,
        data             TEXT NOT NULL,
        created_at       REAL NOT NULL
    );
    CREATE INDEX events_conversation_seq ON events(conversation_id, seq);

    CREATE TABLE inbox (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id  TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        kind             TEXT NOT NULL,
        data             TEXT NOT NULL,
        created_at       REAL NOT NULL,
        consumed_at      REAL
    );
    CREATE INDEX inbox_pending ON inbox(conversation_id, consumed_at, id);

    CREATE TABLE leases (
        conversation_id  TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
        pid              INTEGER NOT NULL,
        token            TEXT NOT NULL,
        started_at       REAL NOT NULL,
        heartbeat_at     REAL NOT NULL
    );

    CREATE TABLE settings (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    """,
    # 2: per-conversation backend state (transcript, SDK session id) and per-session agent options.
    """
    ALTER TABLE conversations ADD COLUMN backend_state TEXT;
    ALTER TABLE sessions ADD COLUMN agent_options TEXT;
    """,
    # 3: approvals found without reading the log: the unanswered requests of a conversation are
    # an index look-up per request, however long the log (partial indexes: only approval events).
    """
    CREATE INDEX events_approval_requests ON events(conversation_id, json_extract(data, '$.id'))
        WHERE type = 'approval_request';
    CREATE INDEX events_approval_responses ON events(conversation_id, json_extract(data, '$.id'))
        WHERE type = 'approval_response';
    """,
]
