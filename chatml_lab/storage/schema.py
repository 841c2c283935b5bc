"""Numbered migrations, one list for both engines. Index ``i`` brings the schema version (SQLite's
``PRAGMA user_version``, PostgreSQL's ``chatml_schema`` row) from ``i`` to ``i + 1``.

An entry is SQLite-dialect SQL that both engines run (PostgreSQL's text is translated by
:mod:`.dialect`: ``INTEGER`` → ``BIGINT``, ``REAL`` → ``DOUBLE PRECISION``, ``AUTOINCREMENT`` →
an identity, ``json_extract(c, '$.k')`` → ``(c::json ->> 'k')``), or a :class:`Migration` that adds
statements for one engine only (row-level security policies are PostgreSQL's alone). Write the
shared part in portable SQL: TEXT, INTEGER, REAL, ``ON CONFLICT``, partial and expression indexes.

Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from .rls import MIGRATION_8


@dataclass(frozen=True)
class Migration:
    """One numbered migration with statements for one engine only.

    ``both`` runs on both engines (translated for PostgreSQL); ``postgres`` runs on PostgreSQL
    only, as written (native SQL, after ``both``); ``sqlite`` on SQLite only.
    """

    both: str = ""
    postgres: str = ""
    sqlite: str = ""


def migration_text(entry: str | Migration, engine: str) -> tuple[str, str]:
    """``(shared SQL, engine-only SQL)`` of one entry for ``engine`` (``"sqlite"`` or ``"postgresql"``)."""
    if isinstance(entry, str):
        return entry, ""
    return entry.both, entry.postgres if engine == "postgresql" else entry.sqlite


MIGRATIONS: list[str | Migration] = [
    # 1: the whole schema of DESIGN §2-§3. PostgreSQL has no ``rowid``: the tables ordered by it
    # (insertion order breaks ties of equal timestamps) get a serial column of that name.
    Migration(
        both="""
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
        postgres="""
    ALTER TABLE workspaces ADD COLUMN rowid BIGSERIAL;
    ALTER TABLE sessions ADD COLUMN rowid BIGSERIAL;
    ALTER TABLE conversations ADD COLUMN rowid BIGSERIAL;
    """,
    ),
    # 2: per-conversation backend state (transcript, SDK session id) and per-session agent options.
    """
    ALTER TABLE conversations ADD COLUMN backend_state TEXT;
    ALTER TABLE sessions ADD COLUMN agent_options TEXT;
    """,
    # 3: pull requests (issue 9): what GitHub says of each session's PR, where a session pushes,
    # when task status last moved by itself or by hand, ETags of conditional requests (never the
    # token), the GitHub repository of a workspace, and the branch update under way per session.
    """
    ALTER TABLE workspaces ADD COLUMN github_repo TEXT;

    CREATE TABLE session_prs (
        session_id      TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        title           TEXT,
        head            TEXT,
        head_sha        TEXT,
        base            TEXT,
        draft           INTEGER NOT NULL DEFAULT 0,
        checks          TEXT NOT NULL DEFAULT 'none',
        checks_sha      TEXT,
        checks_at       REAL,
        mergeable       TEXT,
        updated         TEXT,
        polled_at       REAL,
        push_url        TEXT,
        push_branch     TEXT,
        push_blocked    TEXT,
        status_auto_at  REAL,
        status_hand_at  REAL
    );

    CREATE TABLE github_etags (
        key        TEXT PRIMARY KEY,
        etag       TEXT NOT NULL,
        payload    TEXT NOT NULL,
        stored_at  REAL NOT NULL
    );

    CREATE TABLE branch_updates (
        session_id    TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        method        TEXT NOT NULL,
        onto          TEXT NOT NULL,
        branch        TEXT NOT NULL,
        old_head      TEXT NOT NULL,
        head_ref      TEXT NOT NULL,
        snapshot_ref  TEXT,
        started_at    REAL NOT NULL
    );
    """,
    # 4: review findings and scorecards (issue 10), per-conversation agent options (a review runs
    # read-only with the review model and instructions of its own).
    """
    ALTER TABLE conversations ADD COLUMN options TEXT;

    CREATE TABLE findings (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id       TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        number           INTEGER NOT NULL,
        conversation_id  TEXT REFERENCES conversations(id) ON DELETE SET NULL,
        file_path        TEXT NOT NULL,
        line_number      INTEGER,
        title            TEXT NOT NULL,
        content          TEXT NOT NULL,
        severity         TEXT NOT NULL,
        source           TEXT NOT NULL DEFAULT 'agent',
        status           TEXT NOT NULL DEFAULT 'open',
        resolution_note  TEXT,
        resolved_by      TEXT,
        created_at       REAL NOT NULL,
        resolved_at      REAL,
        UNIQUE (session_id, number)
    );
    CREATE INDEX findings_session ON findings(session_id, status);

    CREATE TABLE scorecards (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id       TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        conversation_id  TEXT REFERENCES conversations(id) ON DELETE SET NULL,
        review_kind      TEXT NOT NULL,
        scores           TEXT NOT NULL,
        summary          TEXT NOT NULL,
        created_at       REAL NOT NULL
    );
    CREATE INDEX scorecards_session ON scorecards(session_id);
    """,
    # 5: the operation journal of DESIGN §7 (storage/operations.py). No foreign key: a create's row
    # comes before its session's, and a delete's outlives it.
    Migration(
        both="""
    CREATE TABLE operations (
        id            TEXT PRIMARY KEY,
        kind          TEXT NOT NULL,
        session_id    TEXT NOT NULL,
        workspace_id  TEXT NOT NULL,
        session_name  TEXT NOT NULL,
        plan          TEXT NOT NULL,
        step          TEXT NOT NULL,
        state         TEXT NOT NULL DEFAULT 'open',
        pid           INTEGER NOT NULL,
        pid_started   REAL NOT NULL,
        started_at    REAL NOT NULL,
        updated_at    REAL NOT NULL,
        finished_at   REAL,
        note          TEXT
    );
    CREATE INDEX operations_state ON operations(state, session_id);
    CREATE INDEX operations_session ON operations(session_id, kind);
    """,
        postgres="ALTER TABLE operations ADD COLUMN rowid BIGSERIAL;",
    ),
    # 6: approvals found without reading the log: the unanswered requests of a conversation are
    # an index look-up per request, however long the log (partial indexes: only approval events).
    """
    CREATE INDEX events_approval_requests ON events(conversation_id, json_extract(data, '$.id'))
        WHERE type = 'approval_request';
    CREATE INDEX events_approval_responses ON events(conversation_id, json_extract(data, '$.id'))
        WHERE type = 'approval_response';
    """,
    # 7: machines (issue 13). Each machine that opens the store is a row, its runner host's heartbeat
    # tells whether it is reachable; sessions, workspaces, leases, operations and inbox items carry
    # the machine they belong to (a session's: the one holding its worktree); ``requests`` are git
    # operations one machine asks of another. Rows written before this migration get the machine
    # of the first process that opens the store after it (storage/machines.py: adopt_unowned).
    """
    CREATE TABLE machines (
        name          TEXT PRIMARY KEY,
        host_name     TEXT NOT NULL,
        host_pid      INTEGER,
        version       TEXT,
        started_at    REAL NOT NULL,
        seen_at       REAL NOT NULL,
        heartbeat_at  REAL
    );

    ALTER TABLE sessions ADD COLUMN machine TEXT;
    ALTER TABLE workspaces ADD COLUMN machine TEXT;
    ALTER TABLE leases ADD COLUMN machine TEXT;
    ALTER TABLE operations ADD COLUMN machine TEXT;
    ALTER TABLE inbox ADD COLUMN sender TEXT;
    CREATE INDEX sessions_machine ON sessions(machine);
    CREATE INDEX inbox_unconsumed ON inbox(conversation_id) WHERE consumed_at IS NULL;

    CREATE TABLE requests (
        id            TEXT PRIMARY KEY,
        machine       TEXT NOT NULL,
        from_machine  TEXT NOT NULL,
        session_id    TEXT,
        action        TEXT NOT NULL,
        args          TEXT NOT NULL,
        state         TEXT NOT NULL,
        result        TEXT,
        error_kind    TEXT,
        error         TEXT,
        pid           INTEGER,
        created_at    REAL NOT NULL,
        started_at    REAL,
        finished_at   REAL
    );
    CREATE INDEX requests_machine_state ON requests(machine, state);
    """,
    # 8: owners (issue 13): who created each workspace and session, and whom a session is shared
    # with. Rows from before have no owner ('') until the first process that opens the store claims
    # them for its user (Store.claim_ownerless). PostgreSQL also gets row-level security (storage/rls.py):
    # the database itself refuses writes to a session by anyone but its owner and whom it is shared with.
    Migration(
        both="""
    ALTER TABLE workspaces ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    ALTER TABLE sessions ADD COLUMN owner TEXT NOT NULL DEFAULT '';

    CREATE TABLE session_shares (
        session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        person      TEXT NOT NULL,
        shared_at   REAL NOT NULL,
        PRIMARY KEY (session_id, person)
    );
    CREATE INDEX session_shares_person ON session_shares(person);
    """,
        postgres=MIGRATION_8,
    ),
]
