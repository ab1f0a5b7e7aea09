"""The profile store: its SQL schema, the versioned migrations that create and upgrade it, and the store that
reads and writes a user's profile in one transaction per call (SQLite by default, PostgreSQL by setting)."""
