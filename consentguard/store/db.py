"""The one SQLite database: where it lives, its schema and its migrations.

The database holds face encodings of minors, so it is created owner-only
(0600, in a 0700 folder when we create the folder). Schema versions are kept
in ``PRAGMA user_version``; each migration runs once, in order, in a
transaction. A database of a newer schema than this code knows is refused.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click
import sqlite_utils

from consentguard.errors import DatabaseError
from consentguard.store.chain import chain_rows, write_anchor
from consentguard.store.connection import database_file, now, os_user, transaction  # noqa: F401 (shared helpers)

ENV_DB = "CONSENTGUARD_DB"
#: Whose portraits the face index keeps (see :mod:`consentguard.match.index`), and the policy of a
#: new database (and of a sync without --index on a database never synced).
INDEX_POLICIES = ("restricted", "all")
DEFAULT_INDEX_POLICY = "all"
DB_FILENAME = "consentguard.db"


def default_db_path() -> Path:
    """``$CONSENTGUARD_DB``, else the per-user application folder."""
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env)
    return Path(click.get_app_dir("consentguard")) / DB_FILENAME


MIGRATIONS: list = [  # SQL scripts, or functions for what SQL alone cannot do
    # 1: the spine
    """
    CREATE TABLE sync_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        os_user TEXT NOT NULL,
        source TEXT NOT NULL,
        source_sha256 TEXT,
        photos TEXT,
        status TEXT NOT NULL,          -- ok | refused | failed
        students INTEGER,
        restricted INTEGER,
        portraits_encoded INTEGER,
        report TEXT                    -- JSON: counts, changes, problems
    );
    CREATE TABLE students (
        student_number TEXT PRIMARY KEY,
        first_name TEXT NOT NULL,
        middle_name TEXT,
        last_name TEXT NOT NULL,
        grade_level TEXT,
        school_id TEXT,
        enroll_status TEXT,
        photo_restricted INTEGER NOT NULL,
        name_restricted INTEGER NOT NULL,
        consent_raw TEXT,              -- JSON of the export's consent values
        first_sync_id INTEGER REFERENCES sync_runs(id),
        last_seen_sync_id INTEGER REFERENCES sync_runs(id)
    );
    CREATE TABLE portraits (
        id INTEGER PRIMARY KEY,
        student_number TEXT NOT NULL REFERENCES students(student_number),
        sha256 TEXT NOT NULL,
        source TEXT NOT NULL,
        box TEXT,                      -- JSON [left, top, right, bottom]
        encoding BLOB,                 -- 128 float64, only for indexed students
        status TEXT NOT NULL,          -- encoded | no_face | many_faces | unreadable
        sync_id INTEGER REFERENCES sync_runs(id),
        UNIQUE (student_number, sha256)
    );
    CREATE TABLE checks (
        id INTEGER PRIMARY KEY,
        checked_at TEXT NOT NULL,
        os_user TEXT NOT NULL,
        interface TEXT NOT NULL,       -- cli | scan | web
        file_name TEXT NOT NULL,
        sha256 TEXT,
        verdict TEXT NOT NULL,
        reasons TEXT NOT NULL,         -- JSON list of strings
        student_numbers TEXT NOT NULL, -- JSON list
        sync_id INTEGER REFERENCES sync_runs(id),
        result TEXT NOT NULL           -- JSON of the public result document
    );
    """,
    # 2: consent per scope and channel, history of every student change, run metadata
    """
    CREATE TABLE consents (
        student_number TEXT NOT NULL REFERENCES students(student_number),
        scope TEXT NOT NULL,           -- photo | name
        channel TEXT NOT NULL,         -- social | website | yearbook | news | video
        restricted INTEGER NOT NULL,
        until TEXT,                    -- ISO date a permission ends (restricted after it)
        PRIMARY KEY (student_number, scope, channel)
    );
    WITH ch(channel) AS (VALUES ('social'), ('website'), ('yearbook'), ('news'), ('video'))
    INSERT INTO consents SELECT s.student_number, 'photo', ch.channel, s.photo_restricted, NULL
    FROM students s, ch;
    WITH ch(channel) AS (VALUES ('social'), ('website'), ('yearbook'), ('news'), ('video'))
    INSERT INTO consents SELECT s.student_number, 'name', ch.channel, s.name_restricted, NULL
    FROM students s, ch;
    CREATE TABLE student_changes (
        id INTEGER PRIMARY KEY,
        sync_id INTEGER NOT NULL REFERENCES sync_runs(id),
        student_number TEXT NOT NULL,
        before TEXT,                   -- JSON snapshot, NULL when the student was new
        after TEXT NOT NULL
    );
    CREATE INDEX student_changes_sync ON student_changes (sync_id);
    ALTER TABLE students ADD COLUMN legal_first_name TEXT;
    ALTER TABLE students ADD COLUMN legal_last_name TEXT;
    ALTER TABLE sync_runs ADD COLUMN mapping TEXT;
    ALTER TABLE sync_runs ADD COLUMN message TEXT
    """,
    # 3: batch scan results, cached by file content and what the verdict depends on
    """
    CREATE TABLE scan_cache (
        sha256 TEXT NOT NULL,
        version TEXT NOT NULL,         -- roster run, channel and policy (Checker.version)
        result TEXT NOT NULL,          -- JSON of the public result document
        thumbnail BLOB,                -- small JPEG with the face boxes drawn, for the HTML report
        PRIMARY KEY (sha256, version)
    )
    """,
    # 4: which students' faces are indexed, and the district's consent model, per sync run
    """
    ALTER TABLE sync_runs ADD COLUMN index_policy TEXT NOT NULL DEFAULT 'restricted';
    ALTER TABLE sync_runs ADD COLUMN consent_policy TEXT NOT NULL DEFAULT 'opt-out'
    """,
    # 5: the audit trail becomes an append-only hash chain (checks and overrides)
    lambda db: _audit_chain(db),
    # 6: the review queue (issue #12): items staff decide, and their decisions per face
    """
    CREATE TABLE review_items (
        id TEXT PRIMARY KEY,           -- stable: the same faces (or photo and problem) give the same id
        kind TEXT NOT NULL,            -- person | photo
        status TEXT NOT NULL,          -- open | decided
        summary TEXT NOT NULL,         -- one line a person reads
        item TEXT NOT NULL,            -- JSON (people.ReviewItem.to_json)
        encodings BLOB,                -- the item's face encodings (biometric: purged with portraits)
        closeups TEXT,                 -- JSON list of base64 JPEG close-ups of its faces (purged with them)
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );
    CREATE TABLE face_decisions (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,          -- the photo's content hash
        box TEXT,                      -- JSON [left, top, right, bottom], NULL for a photo-level decision
        view TEXT,                     -- the frame, page or embedded picture the box is in (NULL: the photo)
        decision TEXT NOT NULL,        -- is | not | cleared
        student_number TEXT,           -- is / not: the student decided about
        item_id TEXT,
        note TEXT,
        decided_by TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        audit_id INTEGER,              -- the audit row that records it
        undone_by TEXT,
        undone_at TEXT,
        undo_audit_id INTEGER
    );
    CREATE INDEX face_decisions_photo ON face_decisions (sha256)
    """,
    # 7: each cached scan result keeps the evidence it was decided from (issue #12): a cached photo is
    # decided again with its batch and the staff decisions in force. Results cached before have none,
    # so they could never be reused: dropped. evidence: JSON (scan.evidence_to_json), biometric: emptied
    # by purge_all with the portraits' encodings.
    """
    ALTER TABLE scan_cache ADD COLUMN evidence TEXT;
    DELETE FROM scan_cache
    """,
    # 8: settings saved with 'consentguard config set' (store/settings.py); each change is an audit event
    """
    CREATE TABLE settings (
        name TEXT PRIMARY KEY,         -- a setting declared in policy.SETTINGS
        value TEXT NOT NULL,           -- JSON
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL
    )
    """,
    # 9: staff accounts for the page (issue #16, store/users.py): argon2 hashes, never passwords;
    # version changes with the password, role or status, ending the account's sessions
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        role TEXT NOT NULL,            -- staff | approver | admin
        password_hash TEXT NOT NULL,   -- argon2id (argon2-cffi)
        disabled INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 1,
        failed INTEGER NOT NULL DEFAULT 0,   -- wrong passwords in a row
        locked_until TEXT,                   -- ISO time (UTC) until which sign-in is refused
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    )
    """,
]


def _audit_chain(db: sqlite_utils.Database) -> None:
    """Rebuild ``checks`` with AUTOINCREMENT ids (a deleted last row leaves a gap that
    ``audit verify`` sees), event/override columns and a hash chain; chain the rows
    already there; forbid UPDATE and DELETE."""
    db.execute("ALTER TABLE checks RENAME TO checks_v4")
    db.execute("""
    CREATE TABLE checks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        checked_at TEXT NOT NULL,
        os_user TEXT NOT NULL,
        interface TEXT NOT NULL,       -- cli | scan | web | redact
        file_name TEXT NOT NULL,
        sha256 TEXT,
        verdict TEXT NOT NULL,         -- a check's verdict; for an override, the verdict it sets
        reasons TEXT NOT NULL,         -- JSON list of strings
        student_numbers TEXT NOT NULL, -- JSON list
        sync_id INTEGER REFERENCES sync_runs(id),
        result TEXT NOT NULL,          -- JSON of the public result document ('{}' for an override)
        event TEXT NOT NULL DEFAULT 'check',  -- check | override
        ref_id INTEGER,                -- override: the check it overrides
        note TEXT,                     -- override: the staff member's written reason
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""")
    rows = [dict(zip([c[0] for c in cur.description], r)) for cur in [db.execute("SELECT * FROM checks_v4 ORDER BY id")]
            for r in cur.fetchall()]
    for row in chain_rows(rows):
        db["checks"].insert(row)
    db.execute("DROP TABLE checks_v4")
    db.execute("CREATE TRIGGER checks_append_only_update BEFORE UPDATE ON checks "
               "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
    db.execute("CREATE TRIGGER checks_append_only_delete BEFORE DELETE ON checks "
               "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
    last = db.execute("SELECT id, hash FROM checks ORDER BY id DESC LIMIT 1").fetchone()
    if last:  # the chained rows get their anchor at once
        write_anchor(db, last[0], last[1])

SCHEMA_VERSION = len(MIGRATIONS)


def _create_private(path: Path) -> None:
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        os.close(fd)


def open_db(path: str | Path | None = None, create: bool = True) -> sqlite_utils.Database:
    """Open (and create or migrate) the database at ``path``."""
    path = Path(path) if path is not None else default_db_path()
    if not path.exists():
        if not create:
            raise DatabaseError(f"{path}: no consentguard database here; run 'consentguard sync' first")
        try:
            _create_private(path)
        except OSError as exc:
            raise DatabaseError(f"{path}: cannot create database: {exc.strerror or exc}") from exc
    try:
        conn = sqlite3.connect(str(path), isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 60000")  # a writer waits for another (a sync during a scan)
        # Deleted content (purged face encodings) is overwritten with zeros, not left in free pages.
        conn.execute("PRAGMA secure_delete = ON")
        db = sqlite_utils.Database(conn)
        migrate(db, path)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path}: not a usable consentguard database: {exc}") from exc
    return db


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database, path: Path | str = "database") -> None:
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"{path}: database schema {version} is newer than this consentguard "
            f"(schema {SCHEMA_VERSION}); upgrade consentguard"
        )
    for number in range(version, SCHEMA_VERSION):
        with transaction(db):
            if callable(MIGRATIONS[number]):
                MIGRATIONS[number](db)
            else:
                for statement in _statements(MIGRATIONS[number]):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")


def _statements(script: str) -> list[str]:
    """Split a migration into statements (our migrations hold no ';' in strings)."""
    return [s.strip() for s in script.split(";") if s.strip() and not s.strip().startswith("--")]


def latest_sync_id(db: sqlite_utils.Database) -> int | None:
    row = db.execute("SELECT max(id) FROM sync_runs WHERE status = 'ok'").fetchone()
    return row[0] if row else None


def policy_sync(db: sqlite_utils.Database) -> tuple[int, str, str] | None:
    """(sync id, index_policy, consent_policy) of the latest sync that set the policies (not a
    rollback), or None before the first sync."""
    row = db.execute("SELECT id, index_policy, consent_policy FROM sync_runs WHERE status = 'ok' "
                     "AND source NOT LIKE 'rollback to #%' ORDER BY id DESC LIMIT 1").fetchone()
    return (row[0], row[1], row[2]) if row else None


def roster_policies(db: sqlite_utils.Database) -> tuple[str, str]:
    """(index_policy, consent_policy) of the latest sync that set them (not a rollback); before
    the first sync, the defaults."""
    row = policy_sync(db)
    return (row[1], row[2]) if row else (DEFAULT_INDEX_POLICY, "opt-out")


class writer_lock:
    """``with writer_lock(db, "sync"):`` holds an exclusive lock for a whole roster change (a sync
    or a rollback, from reading the previous state to the last write), so two of them never
    interleave and write stale history. The lock is an flock on the database file itself (SQLite's
    own locks are separate), so it cannot be lifted by deleting a lock file; ``<db>.lock`` only says
    who holds it. A second writer waits up to ``wait`` seconds, then raises
    :class:`~consentguard.errors.SyncRefused` naming the holder."""

    def __init__(self, db: sqlite_utils.Database, what: str, wait: float | None = None):
        self.db, self.what = db, what
        self.wait = float(os.environ.get("CONSENTGUARD_LOCK_WAIT", "600")) if wait is None else wait
        self.fd: int | None = None
        self.info: Path | None = None

    def __enter__(self):
        import fcntl
        import time

        from consentguard.errors import SyncRefused

        path = database_file(self.db)
        if path is None:  # an in-memory database: nothing else can write to it
            return self
        self.fd, self.info = os.open(path, os.O_RDONLY), Path(f"{path}.lock")
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(self.fd)
                    self.fd = None
                    try:
                        holder = self.info.read_text().strip() or "another process"
                    except OSError:
                        holder = "another process"
                    raise SyncRefused(f"{path}: another roster change is running ({holder}); this {self.what} "
                                      f"waited {self.wait:.0f} s and changed nothing: run it again later")
                time.sleep(0.2)
        try:
            fd = os.open(self.info, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(f"{self.what} by pid {os.getpid()} since {now()}")
        except OSError:
            pass
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None
        return False

