"""Saved settings: the values a district chose with ``consentguard config set``, kept in the database.

A saved value replaces a setting's default for every command that opens the database (check,
scan, serve, redact, sync); a command-line option still wins (:func:`policy_in_force`). Every
change is an event in the audit trail (who, when, old -> new), written in the same transaction as
the change, so the trail and the table cannot disagree. Values are stored as JSON, checked against
the setting's limits (and the whole policy: ``block_distance`` may not exceed ``review_distance``)
before they are saved, and again when they are read: a saved value this version refuses is an
error naming it, never silently the default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from consentguard.policy import DEFAULTS, SETTINGS, Policy, SettingError, setting
from consentguard.store.db import now, os_user


@dataclass(frozen=True)
class Saved:
    value: object
    set_by: str
    set_at: str


@dataclass(frozen=True)
class InForce:
    """A setting's value in force and where it came from (``default`` or ``saved``)."""

    name: str
    value: object
    default: object
    source: str
    set_by: str | None = None
    set_at: str | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "value": self.value, "default": self.default, "source": self.source,
                "set_by": self.set_by, "set_at": self.set_at}


@dataclass(frozen=True)
class Change:
    name: str
    old: object | None  # the saved value before (None: the default was in force)
    new: object | None  # the saved value after (None: unset, the default is in force)
    audit_id: int | None  # None: nothing changed, nothing recorded
    #: what a change did besides (e.g. turning face recognition off deleted encodings), in words
    also: str | None = None


def saved(db: sqlite_utils.Database) -> dict[str, Saved]:
    """Every saved setting, by name."""
    return {name: Saved(json.loads(value), set_by, set_at) for name, value, set_by, set_at in
            db.execute("SELECT name, value, set_by, set_at FROM settings ORDER BY name")}


def saved_values(db: sqlite_utils.Database) -> dict[str, object]:
    return {name: s.value for name, s in saved(db).items()}


def without_face_recognition_if_off(db: sqlite_utils.Database, policy: Policy) -> Policy:
    """``policy``, with face recognition off if the district saved it off: a saved "off" wins over
    any policy a caller builds (a library call with the defaults, a stale server), so nothing
    biometric is computed while it is off."""
    if policy.face_recognition and saved_values(db).get("face_recognition") is False:
        return policy.with_(face_recognition=False)
    return policy


def policy_in_force(db: sqlite_utils.Database, **options) -> Policy:
    """The policy a command runs with: its command-line ``options`` (None: not given) over the
    saved settings over the defaults. A saved value refused is a :class:`SettingError`."""
    return Policy.saved(saved_values(db)).with_(**options)


def in_force(db: sqlite_utils.Database | None) -> list[InForce]:
    """Every setting (declared order) with its value in force (without command-line options);
    ``db`` None (no database yet): the defaults."""
    rows = saved(db) if db is not None else {}
    policy = Policy.saved({name: s.value for name, s in rows.items()})
    return [InForce(s.name, getattr(policy, s.name), s.default, "saved" if s.name in rows else "default",
                    rows[s.name].set_by if s.name in rows else None, rows[s.name].set_at if s.name in rows else None)
            for s in SETTINGS]


def save(db: sqlite_utils.Database, name: str, text: str, by: str | None = None, interface: str = "cli",
         then=None) -> Change:
    """Save ``text`` as setting ``name`` (parsed and checked as the option would be) and record the
    change in the audit trail. Setting the value already saved changes and records nothing.
    ``then(db, value)``: more to do in the same transaction (returns what it did, in words)."""
    value = setting(name).check_saved(setting(name).parse(text))
    return _change(db, name, value, by, interface, then)


def unset(db: sqlite_utils.Database, name: str, by: str | None = None, interface: str = "cli") -> Change:
    """Remove a saved setting (its default is in force again), recorded in the audit trail. A saved
    name this version does not know (a setting since removed) can be removed too: it stops every command."""
    if name not in saved(db):
        setting(name)
    return _change(db, name, None, by, interface)


def _change(db: sqlite_utils.Database, name: str, value: object | None, by: str | None, interface: str,
            then=None) -> Change:
    from consentguard.store import audit

    old = saved_values(db).get(name)
    if old == value and (value is None) == (name not in saved_values(db)):
        return Change(name, old, value, None)
    by = by or os_user()
    result: dict = {}

    def write(db) -> dict:
        """Inside the audit row's transaction: check the whole policy with the new value, then write it."""
        values = saved_values(db)
        before = values.get(name)
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
        try:
            Policy(**values)  # each value is checked; this refuses a combination (block_distance above review_distance)
        except ValueError as exc:
            raise SettingError(f"{name}: {_shown(value, name)} refused with the other settings in force: {exc}") from exc
        if value is None:
            db.execute("DELETE FROM settings WHERE name = ?", [name])
        else:
            db.execute("INSERT OR REPLACE INTO settings (name, value, set_by, set_at) VALUES (?, ?, ?, ?)",
                       [name, json.dumps(value), by, now()])
        result["old"] = before
        if then is not None:
            result["also"] = then(db, value)
        return {"reasons": json.dumps([f"setting {name}: {_shown(before, name)} -> {_shown(value, name)}"]),
                "result": json.dumps({"setting": name, "old": before, "new": value, "default": DEFAULTS.get(name)})}

    audit_id = audit._append(db, {
        "checked_at": now(), "os_user": by, "interface": interface, "file_name": f"setting {name}",
        "sha256": None, "verdict": "setting", "student_numbers": "[]", "sync_id": None,
        "event": "setting"}, write)
    return Change(name, result.get("old"), value, audit_id, result.get("also"))


def _shown(value: object | None, name: str) -> str:
    """A saved value as a reason shows it; None: the default (named)."""
    return f"{DEFAULTS.get(name, 'none')} (default)" if value is None else json.dumps(value)
