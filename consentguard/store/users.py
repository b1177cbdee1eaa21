"""Staff accounts for the page (issue #16): the SQL behind ``consentguard users`` and the sign-in.

Passwords are hashed with argon2id (argon2-cffi's defaults) and never stored or logged; the hash
never leaves this module (:class:`Account` has none). ``version`` changes whenever the password,
the role or the status changes: a sign-in cookie names the version it was issued for, so such a
change ends the account's sessions at their next request. Wrong passwords are counted per account
in the database (a lockout survives a restart of the server)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlite_utils

from consentguard.errors import ConsentGuardError
from consentguard.store.db import now

ROLES = ("staff", "approver", "admin")
MIN_PASSWORD = 12
#: this many wrong passwords in a row lock the account for LOCK_MINUTES
LOCK_AFTER, LOCK_MINUTES = 5, 15


class AccountError(ConsentGuardError):
    """A refused account change or sign-in (one line)."""


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    disabled: bool
    version: int
    locked_until: str | None
    created_at: str
    created_by: str

    def to_json(self) -> dict:
        return dict(self.__dict__)


_COLUMNS = "name, role, disabled, version, locked_until, created_at, created_by"


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: at least {MIN_PASSWORD} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: one of {', '.join(ROLES)}")


def add(db: sqlite_utils.Database, name: str, role: str, password: str, by: str) -> Account:
    name = name.strip()
    if not name or len(name) > 100 or any(c in name for c in "\r\n\t"):
        raise AccountError("an account name is 1 to 100 characters on one line")
    _check_role(role)
    _check_password(password)
    if get(db, name) is not None:
        raise AccountError(f"account {name!r} exists already")
    hashed = _hasher().hash(password)
    _audited(db, name, f"account {name} added as {role}", by, lambda db: db.execute(
        "INSERT INTO users (name, role, password_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
        [name, role, hashed, now(), by]))
    return get(db, name)


def _audited(db, name: str, what: str, by: str, change) -> None:
    """Make ``change(db)`` and record it as an audit event in the same transaction (who changed which
    account, and how; never a password)."""
    import json

    from consentguard.store import audit

    def inside(db) -> dict:
        change(db)
        return {}

    audit._append(db, {"checked_at": now(), "os_user": by, "interface": "cli", "file_name": f"account {name}",
                       "sha256": None, "verdict": "account", "reasons": json.dumps([what]), "student_numbers": "[]",
                       "sync_id": None, "result": "{}", "event": "account", "note": what}, inside)


def get(db: sqlite_utils.Database, name: str) -> Account | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM users WHERE name = ?", [name.strip()]).fetchone()
    return None if row is None else Account(row[0], row[1], bool(row[2]), row[3], row[4], row[5], row[6])


def all_accounts(db: sqlite_utils.Database) -> list[Account]:
    return [Account(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6])
            for r in db.execute(f"SELECT {_COLUMNS} FROM users ORDER BY name COLLATE NOCASE")]


def any_enabled(db: sqlite_utils.Database) -> bool:
    return db.execute("SELECT 1 FROM users WHERE disabled = 0 LIMIT 1").fetchone() is not None


def _existing(db, name: str) -> Account:
    account = get(db, name)
    if account is None:
        raise AccountError(f"no account {name!r}")
    return account


def set_disabled(db: sqlite_utils.Database, name: str, disabled: bool, by: str) -> Account:
    account = _existing(db, name)
    _audited(db, account.name, f"account {account.name} {'disabled' if disabled else 'enabled'}", by,
             lambda db: db.execute("UPDATE users SET disabled = ?, version = version + 1, failed = 0, "
                                   "locked_until = NULL WHERE name = ?", [int(disabled), account.name]))
    return get(db, name)


def set_role(db: sqlite_utils.Database, name: str, role: str, by: str) -> Account:
    _check_role(role)
    account = _existing(db, name)
    _audited(db, account.name, f"account {account.name}: role {account.role} -> {role}", by,
             lambda db: db.execute("UPDATE users SET role = ?, version = version + 1 WHERE name = ?",
                                   [role, account.name]))
    return get(db, name)


def set_password(db: sqlite_utils.Database, name: str, password: str, by: str) -> Account:
    _check_password(password)
    account = _existing(db, name)
    hashed = _hasher().hash(password)
    _audited(db, account.name, f"account {account.name}: password changed", by,
             lambda db: db.execute("UPDATE users SET password_hash = ?, version = version + 1, failed = 0, "
                                   "locked_until = NULL WHERE name = ?", [hashed, account.name]))
    return get(db, name)


def sign_in(db: sqlite_utils.Database, name: str, password: str) -> Account | None:
    """The account if ``password`` is its password and it may sign in now, else None (the caller says
    the same for an unknown name, a wrong password, a disabled or a locked account). A wrong password
    counts toward the account's lockout; a right one resets it (and rehashes an old-parameter hash)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    row = db.execute("SELECT name, password_hash, disabled, locked_until FROM users WHERE name = ?",
                     [name.strip()]).fetchone()
    if row is None:
        _hasher().hash(password)  # about the same time as a real check: names cannot be told by timing
        return None
    account_name, stored, disabled, locked_until = row
    if locked_until and datetime.fromisoformat(locked_until) > datetime.now(timezone.utc):
        return None
    hasher = _hasher()
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        failed = db.execute("SELECT failed FROM users WHERE name = ?", [account_name]).fetchone()[0] + 1
        until = ((datetime.now(timezone.utc) + timedelta(minutes=LOCK_MINUTES)).isoformat()
                 if failed >= LOCK_AFTER else None)
        db.execute("UPDATE users SET failed = ?, locked_until = ? WHERE name = ?",
                   [0 if until else failed, until, account_name])
        return None
    if disabled:
        return None
    new_hash = hasher.hash(password) if hasher.check_needs_rehash(stored) else stored
    db.execute("UPDATE users SET failed = 0, locked_until = NULL, password_hash = ? WHERE name = ?",
               [new_hash, account_name])
    return get(db, account_name)


def locked(db: sqlite_utils.Database, name: str) -> bool:
    account = get(db, name)
    return bool(account and account.locked_until
                and datetime.fromisoformat(account.locked_until) > datetime.now(timezone.utc))
