"""The storage layer: the SQLite database (schema, migrations, queries) and the audit trail."""
