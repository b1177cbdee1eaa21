"""The web page's security, in one place: where it may listen, which host names it answers to,
access and admin tokens (signed, expiring sign-in cookies; a lockout for guessers), CSRF and
same-origin checks on every state-changing request, upload limits, and the response headers
(a Content-Security-Policy that allows no inline script and nothing from elsewhere).

:class:`Security` holds one app's secrets and installs its guard, headers, error answers and
sign-in route (:meth:`Security.install`); tests/test_web.py checks each rule.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time

from consentguard.errors import ConsentGuardError

MAX_UPLOAD_BYTES = 60 * 1024 * 1024
#: Access tokens: shortest accepted; sign-ins last this long; this many wrong tokens from one
#: address within LOCKOUT_SECONDS lock it out for that long.
MIN_TOKEN, SIGN_IN_HOURS, LOCKOUT_AFTER, LOCKOUT_SECONDS = 16, 12, 10, 600
SESSION_COOKIE, AUTH_COOKIE, ADMIN_COOKIE, ACCOUNT_COOKIE = "cg_session", "cg_auth", "cg_admin", "cg_account"
ROLES = ("staff", "approver", "admin")  # each may do what the ones before it may
#: The least role each route needs, when staff sign in with accounts (issue #16): (methods, path
#: pattern, role); None: open to everyone (sign-in, the page's own files). A route no rule names needs
#: admin (fail closed); tests/test_accounts.py checks every route of the app has a rule.
ROLE_RULES: tuple[tuple[frozenset[str], str, str | None], ...] = (
    (frozenset({"GET"}), r"/static/.+", None),
    (frozenset({"POST"}), r"/login|/logout", None),
    (frozenset({"GET"}), r"/|/api/people|/api/today|/review|/api/review", "staff"),
    (frozenset({"POST"}), r"/api/check|/api/caption|/api/safe-copy|/api/posted|/api/video", "staff"),
    (frozenset({"GET"}), r"/api/video/[^/]+(/safe-copy)?", "staff"),
    (frozenset({"POST"}), r"/api/video/[^/]+/(delete|safe-copy)", "staff"),
    (frozenset({"POST"}), r"/api/override|/api/review/[^/]+/decide", "approver"),
    (frozenset({"GET"}), r"/audit|/audit\.csv|/takedown|/api/takedown", "admin"),
    (frozenset({"POST"}), r"/api/review/decisions/\d+/undo|/api/takedown/\d+", "admin"),
)
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ServeError(ConsentGuardError):
    pass


class Security:
    """One app's secret (CSRF tokens and sign-in cookies are derived from it, so they die with the
    server), its tokens, the host names it answers to and the wrong tokens counted per address."""

    def __init__(self, token: str | None, admin_token: str | None, hosts: tuple[str, ...] = (), database=None):
        from itsdangerous import URLSafeTimedSerializer

        #: the request's database connection (given by the app: its state module), for the accounts
        self.database = database
        self.secret = secrets.token_bytes(32)
        self.admin_token = admin_token
        # Sign-in cookies hold a signed, dated grant ("auth" or "admin"), never the token itself, and
        # expire; wrong tokens are counted per address and lock it out for a while.
        self.signer = URLSafeTimedSerializer(self.secret, salt="consentguard-sign-in")
        self.kinds = (("auth", token, AUTH_COOKIE), ("admin", admin_token, ADMIN_COOKIE))
        self.wrong: dict[str, list[float]] = {}
        self.allowed_hosts = LOOPBACK_NAMES | {h.lower() for h in hosts}

    # -- accounts (issue #16) -------------------------------------------------------------------

    def accounts_on(self) -> bool:
        """Staff sign in with their own accounts once the database has an enabled one (cached per
        request: one small query)."""
        from flask import g

        from consentguard.store import users

        if "cg_accounts_on" not in g:
            g.cg_accounts_on = self.database is not None and users.any_enabled(self.database())
        return g.cg_accounts_on

    def account(self):
        """The signed-in account of this request (re-read: a disabled account, or one whose password
        or role changed since the cookie was issued, is signed out), or None."""
        from flask import g, request
        from itsdangerous import BadSignature

        from consentguard.store import users

        if "cg_account" not in g:
            g.cg_account = None
            try:
                grant = self.signer.loads(request.cookies.get(ACCOUNT_COOKIE, ""), max_age=SIGN_IN_HOURS * 3600)
            except BadSignature:
                grant = None
            if isinstance(grant, dict) and "n" in grant:
                found = users.get(self.database(), str(grant["n"]))
                if found is not None and not found.disabled and found.version == grant.get("v"):
                    g.cg_account = found
        return g.cg_account

    def csrf_for(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()

    # -- wrong tokens -------------------------------------------------------------------------

    def source(self) -> str:
        """Who is guessing: the address, or its /64 for IPv6 (one machine has a whole /64)."""
        from flask import request

        address = request.remote_addr or ""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else address

    def locked_out(self) -> bool:
        recent = [t for t in self.wrong.get(self.source(), []) if t > time.monotonic() - LOCKOUT_SECONDS]
        if recent:
            self.wrong[self.source()] = recent
        else:
            self.wrong.pop(self.source(), None)
        return len(recent) >= LOCKOUT_AFTER

    def count_wrong(self) -> None:
        if len(self.wrong) > 10_000:  # bounded memory: forget the oldest sources
            for key in sorted(self.wrong, key=lambda k: self.wrong[k][-1])[:5_000]:
                del self.wrong[key]
        self.wrong.setdefault(self.source(), []).append(time.monotonic())

    def authorised(self, bearer_too: bool = True) -> bool:
        from flask import request
        from itsdangerous import BadSignature

        needed = [kind for kind, value, _ in self.kinds if value and (kind == "auth" or admin_path(request.path))]
        granted = set()
        for kind, _, cookie in self.kinds:
            try:
                if self.signer.loads(request.cookies.get(cookie, ""), max_age=SIGN_IN_HOURS * 3600) == kind:
                    granted.add(kind)
            except BadSignature:
                pass
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ") if bearer_too else ""
        if bearer:
            matched = {kind for kind, value, _ in self.kinds
                       if value and hmac.compare_digest(bearer.encode(), value.encode())}
            if not matched:
                self.count_wrong()
            granted |= matched
        return all(kind in granted for kind in needed)

    # -- the app's guard, headers, error answers and sign-in ---------------------------------------

    def install(self, app) -> None:
        app.before_request(self.guard)
        app.after_request(headers)
        for code in (400, 401, 403, 404, 413, 429, 503):
            app.register_error_handler(code, error)
        app.add_url_rule("/login", "login", self.login, methods=["POST"])
        app.add_url_rule("/logout", "logout", self.logout, methods=["POST"])
        app.context_processor(lambda: {"account": self.account() if self.accounts_on() else None})

    def actor(self, typed: str) -> str:
        """Who made a decision on the page: the signed-in account (a typed name is ignored), or
        without accounts the name typed (single-machine or kiosk use)."""
        account = self.account() if self.accounts_on() else None
        return account.name if account is not None else typed.strip()

    def guard(self):
        from flask import abort, request

        # A page under an attacker's host name that resolves to this machine (DNS rebinding) is
        # same-origin for the browser: only the names this server was started for are answered.
        if host_name(request.host) not in self.allowed_hosts:
            abort(400, f"unknown host name {request.host!r}: this server answers to "
                       f"{', '.join(sorted(self.allowed_hosts))} only (add names with --allow-host)")
        if self.accounts_on():
            return self.account_guard()
        if request.endpoint == "logout":
            abort(404)
        if (self.kinds[0][1] and not is_loopback(request.remote_addr or "")
                and role_needed(request.method, request.path) in ("approver", "admin")
                and not admin_path(request.path)):
            abort(403, "releasing a review needs a personal account: the access token is shared and cannot say "
                       "who decided (ask the admin: consentguard users add NAME --role approver)")
        return self.token_guard()

    def account_guard(self):
        """Accounts: everyone signs in with their own; each route needs a role (:func:`role_needed`)."""
        from flask import abort, make_response, render_template, request

        needed = role_needed(request.method, request.path)
        account = self.account()
        if needed is not None and account is None:
            if request.path.startswith("/api/") or request.path.endswith(".csv"):
                abort(401, "sign in first")
            return make_response(render_template("login.html", error=None, next=login_target(request.path),
                                                 accounts=True), 401)
        if needed is not None and ROLES.index(account.role) < ROLES.index(needed):
            abort(403, f"this needs the {needed} role: signed in as {account.name} ({account.role})")
        if request.method == "POST" and request.endpoint != "login":
            self.check_csrf()
        return None

    def check_csrf(self):
        from flask import abort, request

        session = request.cookies.get(SESSION_COOKIE, "")
        sent = request.headers.get("X-CSRF-Token", "") or request.form.get("csrf", "")
        if not session or not hmac.compare_digest(sent, self.csrf_for(session)):
            abort(403, "missing or wrong CSRF token: reload the page")
        origin = request.headers.get("Origin")
        # the sign-out form is a plain form post, which no-referrer makes "Origin: null"; its CSRF token
        # (checked above) is the page's own
        if origin and origin.rstrip("/") != request.host_url.rstrip("/") and not (
                origin == "null" and request.endpoint == "logout"):
            abort(403, "request from another site refused")

    def token_guard(self):
        from flask import abort, make_response, render_template, request

        signed_in = self.authorised(bearer_too=False)  # staff already signed in are never locked out by a guesser
        if not signed_in:
            if self.locked_out():  # and a locked-out guesser's tokens are not even tried
                abort(429, f"too many wrong access tokens from this address: try again in "
                           f"{LOCKOUT_SECONDS // 60} minutes")
            signed_in = self.authorised()
        if request.endpoint in ("login", "static") or signed_in:
            if request.method == "POST" and request.endpoint != "login":
                self.check_csrf()
            return None
        if request.path.startswith("/api/") or request.path.endswith(".csv"):
            abort(401, "this needs the admin token: sign in on the audit page first"
                  if self.admin_token and admin_path(request.path) else "access token required")
        return make_response(render_template("login.html", error=None, next=login_target(request.path)), 401)

    def login(self):
        from flask import make_response, render_template, request

        target = request.form.get("next", "/")
        target = target if target in ("/", "/audit", "/review", "/takedown") else "/"
        if self.accounts_on():
            return self.account_login(target)
        given = request.form.get("token", "")
        for kind, value, cookie in self.kinds:
            if value and hmac.compare_digest(given.encode(), value.encode()):
                response = make_response("", 303)
                response.headers["Location"] = target
                response.set_cookie(cookie, self.signer.dumps(kind), httponly=True, samesite="Strict",
                                    secure=request.is_secure, max_age=SIGN_IN_HOURS * 3600)
                return response
        self.count_wrong()
        return make_response(render_template("login.html", error="wrong access token", next=target), 401)

    def account_login(self, target: str):
        """Sign in with a name and password: the same answer for an unknown name, a wrong password, a
        disabled or a locked account; wrong passwords count per address (this server) and per account
        (the database: a lockout survives a restart)."""
        from flask import make_response, render_template, request

        from consentguard.store import users

        def refused(message: str, code: int = 401):
            return make_response(render_template("login.html", error=message, next=target, accounts=True), code)

        if self.locked_out():
            return refused(f"too many wrong passwords from this address: try again in {LOCKOUT_SECONDS // 60} "
                           "minutes", 429)
        name = request.form.get("name", "")[:100]
        account = users.sign_in(self.database(), name, request.form.get("password", "")[:1000])
        if account is None:
            self.count_wrong()
            return refused("wrong name or password (or the account is disabled or locked for a while)")
        response = make_response("", 303)
        response.headers["Location"] = target
        response.set_cookie(ACCOUNT_COOKIE, self.signer.dumps({"n": account.name, "v": account.version}),
                            httponly=True, samesite="Strict", secure=request.is_secure, max_age=SIGN_IN_HOURS * 3600)
        return response

    def logout(self):
        from flask import make_response

        response = make_response("", 303)
        response.headers["Location"] = "/"
        for cookie in (ACCOUNT_COOKIE, AUTH_COOKIE, ADMIN_COOKIE):
            response.delete_cookie(cookie)
        return response

    def page_session(self, render) -> object:
        """A page that can send state-changing requests: ``render(csrf)`` made with the CSRF token of
        the browser's session cookie (a new one if it has none), which the response (re)sets."""
        from flask import make_response, request

        session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
        response = make_response(render(self.csrf_for(session)))
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Strict", secure=request.is_secure,
                            max_age=SIGN_IN_HOURS * 3600)
        return response


def headers(response):
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def error(exc):
    from flask import jsonify, request

    message = getattr(exc, "description", str(exc))
    if exc.code == 413 and request.path in ("/api/check", "/api/safe-copy"):
        message = f"photo too large: at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB per photo"
    elif exc.code == 413 and request.path == "/api/video":
        from flask import current_app
        message = video_too_large(current_app.extensions["consentguard"].policy.video_max_upload_mb)
    return jsonify({"error": message}), exc.code


def video_too_large(mb: int) -> str:
    """The answer to a clip over ``video_max_upload_mb`` (the page says the same before uploading)."""
    return (f"video too large: at most {mb} MB per video (the setting video_max_upload_mb); "
            "check a longer clip with 'consentguard check'")


def role_needed(method: str, path: str) -> str | None:
    """The least role a request needs (:data:`ROLE_RULES`; admin when no rule names it)."""
    import re

    method = "GET" if method == "HEAD" else method
    for methods, pattern, role in ROLE_RULES:
        if method in methods and re.fullmatch(pattern, path):
            return role
    return "admin"


def has_rule(method: str, path: str) -> bool:
    """Whether a rule names this route (for the test that every route has one)."""
    import re

    return any(method in methods and re.fullmatch(pattern, path) for methods, pattern, _ in ROLE_RULES)


def admin_path(path: str) -> bool:
    """Paths that need the admin token (when one is set): the audit trail, the takedown list (names
    restricted students and where their photos were posted) and marking a takedown, and undoing a
    review decision (it can lift a block a colleague decided)."""
    return (path.startswith(("/audit", "/takedown", "/api/takedown"))
            or (path.startswith("/api/review/decisions/") and path.endswith("/undo")))


def login_target(path: str) -> str:
    """Where the sign-in form returns to."""
    return next((page for page in ("/audit", "/review", "/takedown") if path.startswith(page)), "/")


def host_name(host: str) -> str:
    """The name in a Host header, without the port: "[::1]:8765" -> "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def served_names(host: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Host names a server bound to ``host`` answers to, besides loopback: the address itself, or
    for a wildcard bind this machine's names and addresses; plus ``extra`` (--allow-host)."""
    import socket

    names = set(extra)
    if host in ("0.0.0.0", "::", ""):
        names |= {socket.gethostname(), socket.getfqdn()}
        try:
            names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
        except OSError:
            pass
    else:
        names.add(host)
    return tuple(sorted(n.lower() for n in names if n))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, accounts: bool = False) -> None:
    """Refuse to listen beyond this machine without staff accounts or an access token."""
    if not is_loopback(host) and not token and not accounts:
        raise ServeError(f"refusing to listen on {host} without staff accounts or an access token: anyone on the "
                         "network could see check results; add accounts ('consentguard users add NAME --role "
                         "admin'), or set CONSENTGUARD_TOKEN (or --token) for a kiosk, or use 127.0.0.1")
    if token is not None and len(token) < MIN_TOKEN:
        raise ServeError(f"the access token is too short: use at least {MIN_TOKEN} random characters "
                         "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(24))')")
