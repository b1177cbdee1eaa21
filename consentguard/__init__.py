"""consentguard: stop school photos that show or name a student whose guardian refused media release.

Pipeline, one module per stage::

    roster.py  → sync.py → index.py → image.py → faces.py → names.py
    → decide.py → report.py → audit.py          (check.py wires them together)

Heavy parts (dlib and its models) load on first use, never at import.
"""

__version__ = "0.1.0"

import sys as _sys  # noqa: E402

# sqlite-utils imports pandas when it is installed (Ray's data extra installs it, for `scan --engine ray`):
# measured +0.4 s at every start (each command, each worker process) and +80 MB per process, for
# column types consentguard never uses. It is hidden from sqlite-utils unless Ray, which needs it, is
# already loaded (a Ray worker); runners/cluster.py lets it back before importing Ray.
if "ray" not in _sys.modules and "pandas" not in _sys.modules:
    _sys.modules["pandas"] = None  # type: ignore[assignment]

from consentguard.decide import exit_status  # noqa: E402
from consentguard.errors import ConsentGuardError  # noqa: E402
from consentguard.policy import Policy  # noqa: E402
from consentguard.roster.sync import sync_roster  # noqa: E402
from consentguard.runners.check import Checker, CheckResult  # noqa: E402
from consentguard.store.db import open_db  # noqa: E402

__all__ = ["Checker", "CheckResult", "ConsentGuardError", "Policy", "exit_status", "open_db",
           "sync_roster", "__version__"]
