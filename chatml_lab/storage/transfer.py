"""Copying a whole store into another one: from the SQLite file of one machine into the
PostgreSQL database every machine will share (``chatml db copy URL``), or back.

Generic over the schema: the tables and columns are read from the databases themselves, so the
tables and columns later migrations add are copied too. Parents before children (foreign keys),
rows in insertion order, every row in one transaction of the target: a copy that fails leaves the
target as empty as it was.
"""

from __future__ import annotations

from .database import Database

#: Rows sent to the target per statement batch.
BATCH = 1000


def tables(db: Database) -> list[str]:
    """The store's tables, each after the tables its foreign keys name."""
    if db.engine == "sqlite":
        names = [r[0] for r in db.query_tuples(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )]  # fmt: skip
        parents = {
            name: {str(r[2]) for r in db.query_tuples(f'PRAGMA foreign_key_list("{name}")')} for name in names
        }
    else:
        names = [r[0] for r in db.query_tuples(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename <> 'chatml_schema' ORDER BY tablename"
        )]  # fmt: skip
        parents = {name: set() for name in names}
        for child, parent in db.query_tuples(
            "SELECT tc.table_name, ccu.table_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.constraint_column_usage ccu"
            " ON ccu.constraint_name = tc.constraint_name AND ccu.constraint_schema = tc.constraint_schema"
            " WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()"
        ):
            parents.setdefault(child, set()).add(parent)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] - {n} <= set(ordered)]
        ordered += ready or [n for n in names if n not in ordered]  # a cycle: keep the rest in name order
    return ordered


def columns(db: Database, table: str) -> list[str]:
    """The columns of ``table``, in order."""
    if db.engine == "sqlite":
        return [str(r[1]) for r in db.query_tuples(f'PRAGMA table_info("{table}")')]
    return [str(r[0]) for r in db.query_tuples(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )]  # fmt: skip


def copy_rows(source: Database, target: Database) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; rows copied per table.

    Both must be migrated to the same version (opening a store migrates it). The target keeps
    its own insertion-order columns (PostgreSQL's ``rowid``), filled in the source's order, and
    its key counters continue after the copied keys.
    """
    from ..errors import StorageError

    if source.schema_version() != target.schema_version():
        raise StorageError(
            f"{source.location} is at schema {source.schema_version()} and {target.location} at"
            f" {target.schema_version()}: open both with this version of chatml_lab first"
        )
    present = set(tables(target))
    order = [t for t in tables(source) if t in present]
    copied: dict[str, int] = {}
    with target._transaction() as conn:
        for table in order:
            if conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is not None:
                raise StorageError(
                    f"{target.location} already holds rows (table {table}): copy into an empty database"
                )
        for table in order:
            mine = columns(target, table)
            shared = [c for c in columns(source, table) if c in mine and c != "rowid"]
            listed = ", ".join(f'"{c}"' for c in shared)
            by = "rowid" if source.engine == "sqlite" or "rowid" in columns(source, table) else "1"
            rows = source.query_tuples(f'SELECT {listed} FROM "{table}" ORDER BY {by}')
            marks = ", ".join("?" for _ in shared)
            for start in range(0, len(rows), BATCH):
                conn.executemany(
                    f'INSERT INTO "{table}" ({listed}) VALUES ({marks})', rows[start : start + BATCH]
                )
            copied[table] = len(rows)
        if target.engine == "postgresql":
            for table, key in target._identity_columns().items():
                if table in copied:
                    conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'),"
                        f" COALESCE((SELECT max({key}) FROM {table}), 0) + 1, false)"
                    )
    return copied
