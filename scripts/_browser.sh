# Sourced by scripts/test: the page's end-to-end tests drive a real headless Chromium (Debian's
# chromium and chromium-driver). System packages are installed only when asked
# (INSTALL_BROWSER=1, set by scripts/test --install-browser); otherwise this says what is missing,
# and the browser tests skip with the same advice (under CI=true they fail instead).
BROWSER_PACKAGES="chromium chromium-driver"
browser_missing() {
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null || printf 'chromium '
    command -v chromedriver >/dev/null || printf 'chromedriver '
}
MISSING="$(browser_missing)"
if [ -n "$MISSING" ] && [ "${INSTALL_BROWSER:-}" = 1 ]; then
    echo "installing $BROWSER_PACKAGES for the browser tests (--install-browser)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    APT_LOG="$(mktemp)"
    { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $BROWSER_PACKAGES; } \
        >"$APT_LOG" 2>&1 || { tail -n 20 "$APT_LOG" >&2; echo "could not install $BROWSER_PACKAGES" >&2; }
    MISSING="$(browser_missing)"
fi
if [ -n "$MISSING" ]; then
    if [ "${CI:-}" = true ]; then OUTCOME="fail (CI=true)"; else OUTCOME="be skipped"; fi
    echo "missing for the browser tests: ${MISSING% }. Install with: apt-get install $BROWSER_PACKAGES" \
         "(or run scripts/test --install-browser). Until then the browser tests will $OUTCOME." >&2
fi
