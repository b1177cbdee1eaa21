"""The package's own exception types.

Library code raises these; the CLI and the web layer turn them into one-line
messages. Every message names the file (or setting) and the problem.
"""


class ConsentGuardError(Exception):
    """Base class for every error consentguard raises on purpose."""


class ModelError(ConsentGuardError):
    """A face model file is missing or cannot be loaded."""


class ImageError(ConsentGuardError):
    """An image could not be read or decoded completely."""


class RosterError(ConsentGuardError):
    """An SIS export or portrait folder cannot be imported safely."""


class SyncRefused(RosterError):
    """A sync was refused by a safety guard; nothing was changed."""


class DatabaseError(ConsentGuardError):
    """The consentguard database is missing, unreadable or of a newer schema."""
