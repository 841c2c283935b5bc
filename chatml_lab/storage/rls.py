"""Row-level security on PostgreSQL (issue 13): the database itself refuses writes to others' sessions.

Each person connects as their own database role, named as they are in chatml (``CHATML_USER``,
``JUPYTERHUB_USER`` or the login name). Every table that holds a session's data gets policies:

- everyone reads every row (``SELECT`` is ``true``): the dashboard shows every session;
- a row of ``sessions`` (and of every table that hangs off one: ``conversations``, ``events``,
  ``inbox``, ``leases``, ``session_prs``, ``findings``, ``scorecards``, ``operations``,
  ``branch_updates``, ``requests``) may be inserted, updated or deleted only by the session's owner or a person
  it is shared with (``session_shares``); a row whose session does not exist yet (a ``create``
  operation's journal row) or any more is left to the foreign keys;
- ``owner`` cannot be given away: an update keeps it (an unowned row, from before owners, may be
  claimed by the person who updates it); ``workspaces`` are their owner's to change;
- only a session's owner shares or unshares it.

``FORCE ROW LEVEL SECURITY`` makes the policies hold for the tables' owner too. Superusers and
roles with ``BYPASSRLS`` are not checked: the administrator who runs the migrations (and
:func:`add_person`) is one of them, people are not. The policies name no role, so a person's role
needs only the table privileges that :func:`add_person` grants.

The statements run as migration 8's PostgreSQL part (:mod:`.schema`); they are plain SQL functions
(no statement separators inside a body) so that the migration runner splits them as it splits all.
"""

from __future__ import annotations

import re

#: Tables whose rows belong to a session through ``session_id``.
BY_SESSION = (
    "conversations", "session_prs", "findings", "scorecards", "operations", "branch_updates",
    "requests",  # what one machine asks of another's session: only who may change the session asks
)  # fmt: skip
#: Tables whose rows belong to a session through ``conversation_id``.
BY_CONVERSATION = ("events", "inbox", "leases")

#: A role name :func:`add_person` accepts (the same rule as :func:`chatml_lab.core.owners.check_person`).
ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@-]{0,62}$")

_FUNCTIONS = """
CREATE FUNCTION chatml_session_owner(sid TEXT) RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT owner FROM sessions WHERE id = sid
$$;

CREATE FUNCTION chatml_may_write_session(sid TEXT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT s.owner IN (current_user::text, '') FROM sessions s WHERE s.id = sid), TRUE)
        OR EXISTS (SELECT 1 FROM session_shares h WHERE h.session_id = sid AND h.person = current_user::text)
$$;

CREATE FUNCTION chatml_may_write_conversation(cid TEXT) RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT COALESCE(
        (SELECT chatml_may_write_session(c.session_id) FROM conversations c WHERE c.id = cid), TRUE
    )
$$;
"""


def _secure(table: str) -> str:
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n"
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n"
        f"CREATE POLICY chatml_read ON {table} FOR SELECT USING (true);\n"
    )


def _writes(table: str, check: str) -> str:
    # One policy per command, never FOR ALL: a FOR ALL policy also filters the SELECTs that the
    # check functions make, and they would call themselves again.
    return (
        f"CREATE POLICY chatml_insert ON {table} FOR INSERT WITH CHECK ({check});\n"
        f"CREATE POLICY chatml_update ON {table} FOR UPDATE USING ({check}) WITH CHECK ({check});\n"
        f"CREATE POLICY chatml_delete ON {table} FOR DELETE USING ({check});\n"
    )


def policies(
    by_session: tuple[str, ...] = BY_SESSION, by_conversation: tuple[str, ...] = BY_CONVERSATION
) -> str:
    """The PostgreSQL statements of migration 8: check functions, then each table's policies."""
    me = "current_user::text"
    parts = [
        _FUNCTIONS,
        _secure("workspaces"),
        f"CREATE POLICY chatml_insert ON workspaces FOR INSERT WITH CHECK (owner = {me});\n",
        f"CREATE POLICY chatml_update ON workspaces FOR UPDATE USING (owner IN ({me}, ''))"
        f" WITH CHECK (owner = {me});\n",
        f"CREATE POLICY chatml_delete ON workspaces FOR DELETE USING (owner IN ({me}, ''));\n",
        _secure("sessions"),
        f"CREATE POLICY chatml_insert ON sessions FOR INSERT WITH CHECK (owner = {me});\n",
        # The owner stays what it was (the function reads the row as it was before this update),
        # or an unowned row is claimed by whoever updates it.
        "CREATE POLICY chatml_update ON sessions FOR UPDATE USING (chatml_may_write_session(id))"
        " WITH CHECK (owner = chatml_session_owner(id)"
        f" OR (chatml_session_owner(id) = '' AND owner = {me}));\n",
        "CREATE POLICY chatml_delete ON sessions FOR DELETE USING (chatml_may_write_session(id));\n",
        _secure("session_shares"),
        "CREATE POLICY chatml_insert ON session_shares FOR INSERT"
        f" WITH CHECK (COALESCE(chatml_session_owner(session_id) = {me}, TRUE));\n",
        f"CREATE POLICY chatml_delete ON session_shares FOR DELETE USING (chatml_session_owner(session_id) = {me});\n",
    ]
    for table in by_session:
        parts.append(_secure(table) + _writes(table, "chatml_may_write_session(session_id)"))
    for table in by_conversation:
        parts.append(_secure(table) + _writes(table, "chatml_may_write_conversation(conversation_id)"))
    return "".join(parts)


#: Migration 8's PostgreSQL-only part (see :mod:`.schema`).
MIGRATION_8 = policies()


def check_role(person: str) -> str:
    """``person`` when it can be a role name here, else ValueError."""
    if not ROLE.match(person):
        raise ValueError(f"{person!r} cannot be a person's role name (letters, digits, _ . @ -)")
    return person


def add_person(url: str, person: str, password: str | None = None) -> bool:
    """Create ``person``'s login role (unless it exists) and grant it what a person needs on the
    database of ``url`` (an administrator's URL: a role with ``CREATEROLE`` that owns the tables or
    can grant on them). Returns True when the role was created.

    The grants: read and write every table and use every sequence of the schema, now and in tables
    later migrations create (default privileges of the administrator). Row-level security decides
    which rows a person may write; ``password`` (None: leave it) is for ``md5``/``scram`` logins.
    """
    import psycopg
    from psycopg import sql

    role = sql.Identifier(check_role(person))
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (person,)).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        if password is not None:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
        row = conn.execute("SELECT current_schema()").fetchone()
        schema = sql.Identifier(str(row[0]) if row else "public")
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        for statement in (
            "GRANT CONNECT ON DATABASE {db} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
        ):
            conn.execute(
                sql.SQL(statement).format(db=sql.Identifier(str(database[0])), schema=schema, role=role)
            )
    return found is None
