# Sourced by scripts/demo and scripts/test: make .venv (once) and install the
# package with its test extras whenever pyproject.toml changed: one pip
# install, models included (they ship inside the package, consentguard/weights/).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "consentguard needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))" >&2
    exit 2
fi
VENV="${CONSENTGUARD_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment in $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
STAMP="$VENV/.consentguard-installed"
WANT="$(cat pyproject.toml scripts/_venv.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    echo "installing consentguard and its dependencies into $VENV" >&2
    LOG="$VENV/install.log"
    if ! { "$VENV/bin/python" -m pip install --upgrade pip && "$VENV/bin/python" -m pip install -e ".[test,cluster]"; } >"$LOG" 2>&1 \
        || ! "$VENV/bin/python" -c "import consentguard, dlib"; then
        grep -v "is ignored" "$LOG" | tail -n 30 >&2
        echo "install failed; full log: $LOG" >&2
        exit 1
    fi
    echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
