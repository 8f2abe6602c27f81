"""`/console`: log in with an admin API key, see the bus, replay dead letters.

Every answer is an HTML page — errors too (a clear 4xx page, never a problem document or a traceback) — sent with
`Cache-Control: no-store` and a Content-Security-Policy that allows nothing but the page's own inline style and
forms posting back to it: the console loads nothing from anywhere and runs no script.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from core.api import audit_trail
from core.api.state import app_state
from core.bus.service import NotReplayable, replay
from core.console import session as sessions
from core.console import views
from core.security.clients import Principal
from core.security.keys import key_id
from core.security.scopes import allowed
from identity.clock import as_utc, today_wib, utcnow

router = APIRouter(prefix="/console", include_in_schema=False)

FORM_MAX_BYTES = 4096
KEY_MAX = 500
APP_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _when(value: Any) -> str:
    """Times in UTC, to the second (SQLite hands them back without a zone: they are UTC)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return "–"
    return as_utc(value).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
TEMPLATES.filters["when"] = _when


class ConsoleError(Exception):
    """Raise to answer with an error page: `ConsoleError(403, "Not allowed", "why")`."""

    def __init__(self, status: int, title: str, detail: str, *, login: bool = False):
        super().__init__(title)
        self.status, self.title, self.detail, self.login = status, title, detail, login


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("principal", None)
    context.setdefault("csrf", None)
    return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status, headers=HEADERS)


def error_page(error: ConsoleError) -> HTMLResponse:
    if error.login:
        return login_page(error.status, error.detail)
    return page("message.html", error.status, title=error.title, detail=error.detail)


def login_page(status: int = 200, error: str | None = None, *, clear: bool = False) -> HTMLResponse:
    response = page("login.html", status, error=error)
    if clear:
        forget(response)
    return response


def forget(response: Response) -> None:
    response.delete_cookie(sessions.COOKIE, path="/console", httponly=True, samesite="strict")


def _key(request: Request) -> bytes:
    return sessions.session_key(app_state(request.app).secrets)


async def signed_in(request: Request) -> tuple[sessions.ConsoleSession, Principal] | None:
    """The session and its principal, re-checked now; None when there is none or it no longer holds."""
    found = sessions.read(_key(request), request.cookies.get(sessions.COOKIE))
    if found is None or await run_in_threadpool(sessions.ended, app_state(request.app).sessions, found):
        return None
    principal = await sessions.principal_by_digest(app_state(request.app), found.digest)
    return None if principal is None else (found, principal)


def check_operator(principal: Principal) -> None:
    """The console is for `admin` holders whose agreement is in force."""
    refusal = principal.agreement_state(today_wib())
    if refusal is not None:
        raise ConsoleError(403, "Agreement not in force", f"The client's agreement is not in force ({refusal}).")
    if not allowed(principal.scopes, "admin"):
        raise ConsoleError(
            403, "Not an operator key", "This API key is valid but lacks the admin scope the console requires."
        )


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form (no multipart: the console sends none); 4xx for anything else."""
    body = await request.body()
    if not body:
        return {}
    if len(body) > FORM_MAX_BYTES:
        raise ConsoleError(413, "Form too large", f"At most {FORM_MAX_BYTES} bytes.")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ConsoleError(415, "Unsupported form", "The console accepts only its own HTML forms.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ConsoleError(400, "Malformed form", "The form could not be read.") from None
    return {name: values[0] for name, values in fields.items()}


@router.get("", response_class=HTMLResponse)
async def console(request: Request, replayed: str | None = None) -> Response:
    """The dashboard, or the login form."""
    current = await signed_in(request)
    if current is None:
        stale = sessions.COOKIE in request.cookies
        return login_page(error="Your session has ended; log in again." if stale else None, clear=stale)
    found, principal = current
    try:
        check_operator(principal)
    except ConsoleError as error:
        response = error_page(error)
        forget(response)
        return response
    data = await views.gather(request)
    notice = f"Application {replayed} was sent again." if replayed and APP_ID.match(replayed) else None
    return page(
        "dashboard.html",
        principal=principal,
        csrf=sessions.csrf_token(_key(request), found),
        notice=notice,
        now=utcnow(),
        **data,
    )


@router.get("/login", response_class=HTMLResponse)
async def login_form() -> Response:
    return RedirectResponse("/console", status_code=303, headers=HEADERS)


def same_site(request: Request) -> bool:
    """Whether a form post comes from this site's own page. A login posted from another site would sign the
    victim's browser in as the attacker (login CSRF), and the cookie's SameSite does not stop a login, which needs
    no cookie. A browser says where the post comes from in `Sec-Fetch-Site`, or else in `Origin` (only the host is
    compared: a TLS-terminating proxy makes the scheme differ; the console's `Referrer-Policy: no-referrer` makes
    Chromium send `Origin: null`, which is why `Sec-Fetch-Site` is asked first). Neither header: not a browser."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower() != ""


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the key as bearer authentication would; on success a session cookie (never the key itself)."""
    try:
        if not same_site(request):
            raise ConsoleError(403, "Cross-site login refused", "Log in from the console's own page.", login=True)
        key = (await read_form(request)).get("key", "").strip()
        if not key:
            raise ConsoleError(400, "Key missing", "Enter an API key.", login=True)
        if len(key) > KEY_MAX or not key.isprintable():
            raise ConsoleError(400, "Key invalid", "That is not an API key.", login=True)
        digest, principal = await sessions.principal_by_key(app_state(request.app), key)
        if principal is None:
            raise ConsoleError(401, "Key not valid", "The API key is not valid.", login=True)
        check_operator(principal)
    except ConsoleError as error:
        return error_page(error)
    await audit_trail.write(request, "admin.console_login", client=principal.name, detail={"key_id": key_id(key)})
    response = RedirectResponse("/console", status_code=303, headers=HEADERS)
    response.set_cookie(
        sessions.COOKIE,
        sessions.issue(_key(request), digest),
        max_age=sessions.LIFETIME_S,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request) -> Response:
    current = await signed_in(request)
    if current is not None:
        try:
            form = await read_form(request)
        except ConsoleError as error:
            return error_page(error)
        if not sessions.csrf_ok(_key(request), current[0], form.get("csrf")):
            return error_page(csrf_refused())
        await run_in_threadpool(sessions.end, app_state(request.app).sessions, current[0])
        await audit_trail.write(request, "admin.console_logout", client=current[1].name)
    response = RedirectResponse("/console", status_code=303, headers=HEADERS)
    forget(response)
    return response


def csrf_refused() -> ConsoleError:
    return ConsoleError(
        403,
        "Form refused",
        "The form did not come from this console session (CSRF check failed). Reload the console and try again.",
    )


@router.post("/applications/{application_id}/replay", response_class=HTMLResponse)
async def replay_application(application_id: str, request: Request) -> Response:
    """Replay a failed application through the admin API's own function (same audit entry, same new outbox row)."""
    state = app_state(request.app)
    try:
        current = await signed_in(request)
        if current is None:
            raise ConsoleError(401, "Not logged in", "Log in to the console first.", login=True)
        found, principal = current
        check_operator(principal)
        form = await read_form(request)
        if not sessions.csrf_ok(_key(request), found, form.get("csrf")):
            raise csrf_refused()
        if not APP_ID.match(application_id):
            raise ConsoleError(404, "No such application", "That is not an application id.")

        def run() -> None:
            with state.sessions() as session:
                replay(session, application_id, state.policy, operator=principal.name)

        try:
            await run_in_threadpool(run)
        except LookupError:
            raise ConsoleError(404, "No such application", f"There is no application {application_id}.") from None
        except NotReplayable as exc:
            raise ConsoleError(409, "Not replayable", str(exc)) from None
    except ConsoleError as error:
        return error_page(error)
    if state.dispatcher is not None:
        state.dispatcher.wake()
    return RedirectResponse(f"/console?replayed={application_id}#dead", status_code=303, headers=HEADERS)
