"""L1 storage: SQLite (WAL, numbered migrations); every SQL statement of the package lives here."""
