"""The storage layer: every SQL statement of consentguard lives in this package (tests/test_layout.py
fails on SQL anywhere else), behind functions named by what they mean.

- :mod:`.connection`: one IMMEDIATE transaction, the file behind a connection, row stamps (the base layer)
- :mod:`.db`: where the database lives, its schema and migrations, the roster writer lock
- :mod:`.chain`: the audit trail's hash chain and anchor file
- :mod:`.audit`: the audit trail (checks, overrides, review events), its verification and export
- :mod:`.roster`: students, consents, sync runs and their changes
- :mod:`.portraits`: portraits and review references, their encodings and purges
- :mod:`.review`: review items and staff decisions
- :mod:`.scan_cache`: cached scan results and their evidence

Imports go one way: connection <- chain <- db, audit; roster <- portraits.
"""
