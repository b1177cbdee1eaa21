"""Properties of sync over generated sequences of exports (real SQLite files).

1. After any sequence of accepted syncs, every student's restrictions are those
   of the latest export that listed them: absence never clears, presence is exact.
2. A refused sync (empty, header only, missing consent column, or a guarded
   drop) leaves students and consents exactly as they were.
"""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentguard import open_db, sync_roster
from consentguard.errors import SyncRefused
from consentguard.roster.sync import current_snapshots

from conftest import HEADER, student, write_export

FLAG = st.sampled_from(["", "Y", "N", "yes", "1", "X", "0"])
IDS = [f"{i:04d}" for i in range(12)]
ROW = st.tuples(FLAG, FLAG, FLAG)
EXPORT = st.dictionaries(st.sampled_from(IDS), ROW, min_size=1, max_size=len(IDS))
YES = {"y", "yes", "1", "x"}


def write(path: Path, export: dict) -> Path:
    return write_export(path, [student(n, f"F{n}", f"L{n}", media=m, photo=p, name=nm)
                               for n, (m, p, nm) in sorted(export.items())])


def expected(row) -> tuple[int, int]:
    media, photo, name = (v.lower() in YES for v in row)
    return int(media or photo), int(media or name)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(EXPORT, min_size=1, max_size=6))
def test_latest_listing_decides_and_absence_never_clears(exports):
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "cg.db")
        latest: dict[str, tuple[int, int]] = {}
        for i, export in enumerate(exports):
            sync_roster(db, write(Path(tmp) / f"{i}.csv", export), accept_drop=True)
            latest.update({n: expected(row) for n, row in export.items()})
            state = {r["student_number"]: (r["photo_restricted"], r["name_restricted"])
                     for r in db.query("SELECT * FROM students")}
            assert state == latest


BAD = st.sampled_from(["empty", "header_only", "no_consent_column", "big_drop"])


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(EXPORT, BAD)
def test_refused_sync_changes_nothing(export, bad):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        full = {n: ("Y", "", "") for n in IDS} | export  # 12 students, some restricted
        db = open_db(tmp / "cg.db")
        sync_roster(db, write(tmp / "a.csv", full), accept_drop=True)
        before = current_snapshots(db)
        path = tmp / "bad.csv"
        if bad == "empty":
            path.write_text("")
        elif bad == "header_only":
            write_export(path, [])
        elif bad == "no_consent_column":
            write_export(path, [student(n, "A", "B") for n in IDS], header=[h for h in HEADER if h != "Media_Opt_Out"])
        else:
            write(path, {IDS[0]: ("", "", "")})  # 11 of 12 students vanish
        try:
            sync_roster(db, path)
        except SyncRefused:
            pass
        else:
            raise AssertionError(f"{bad} export was not refused")
        assert current_snapshots(db) == before
