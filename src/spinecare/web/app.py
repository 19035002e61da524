"""The ASGI application: ``create_app()`` wires settings, store, middleware, routes and errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from spinecare.errors import InputError, describe_validation_error
from spinecare.services.errors import NotFoundError, PermissionDeniedError
from spinecare.settings import Settings, get_settings
from spinecare.store import Store, open_store
from spinecare.store.faults import TRANSIENT, FaultKind, StoreFault, classify
from spinecare.web.config import WebSettings, secret_key
from spinecare.web.deps import (
    CsrfRejected,
    CurrentUser,
    LoginRequired,
    PasswordChangePending,
    WebContext,
)
from spinecare.web.device import TableOnTheWire
from spinecare.web.live import LiveRegistry

HERE = Path(__file__).parent
SESSION_COOKIE = "spinecare_session"
API_PREFIX = "/api/v1"


# The interpreter's thread switch interval for the server: a relay thread that has ticks to pass
# on waits at most this long for the interpreter lock held by a request handler (CPython's
# default is 5 ms; engineering choice, see bench/b6_web.py).
SWITCH_INTERVAL_S = 0.001
# The server's threads (the event loop that sends the telemetry, the relay threads, the request
# workers, and the session processes they start) run at this nice value where the system permits
# it (root or CAP_SYS_NICE): on a busy machine the monitor keeps its latency goal. A session's
# loop runs SCHED_FIFO above all of it (web/worker.py). Engineering choice: -10 weighs the server
# about nine times a process at 0 (the kernel's weight table), bench/b6_web.py.
SERVER_NICE = -10


def tune_interpreter() -> bool:
    """Call once, in the main thread, before serving (``spinecare serve``): threads and
    processes started later inherit the nice value. True when the raised priority was granted."""
    import os
    import sys

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, SERVER_NICE)
    except (OSError, AttributeError):
        return False
    return True


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _back_to(request: Request) -> str:
    """The page a refused form came from: the Referer's path on this server, else the start."""
    from urllib.parse import urlsplit

    ref = urlsplit(request.headers.get("referer", ""))
    same = ref.netloc in ("", request.url.netloc) and ref.path.startswith("/")
    if not same or ref.path.startswith("//") or "\\" in ref.path:
        return "/login" if request.url.path == "/login" else "/"
    return ref.path + (f"?{ref.query}" if ref.query else "")


def create_app(
    settings: Settings | None = None,
    *,
    web: WebSettings | None = None,
    store: Store | None = None,
    table: TableOnTheWire | None = None,
) -> FastAPI:
    """The app; ``table`` is the probed table on the wire its sessions drive (None: the
    simulated table)."""
    settings = settings or get_settings()
    web = web or WebSettings()
    store = store or open_store(settings)
    data_dir = Path(settings.data_dir)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    ctx = WebContext(
        settings=settings,
        web=web,
        store=store,
        live=LiveRegistry(web.max_live_sessions),
        templates=templates,
        data_dir=data_dir,
        table=table,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # The server is going away: every running session gets the stop (controlled release).
        ctx.live.stop_all("server shutdown")

    app = FastAPI(
        title="spinecare",
        version="1",
        summary="Clinic web app and REST API (research software, not a medical device)",
        lifespan=lifespan,
        # The schema and its browser are served below, to a signed-in user only.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ctx = ctx
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(web, data_dir),
        session_cookie=SESSION_COOKIE,
        max_age=web.session_max_age_s,
        same_site="strict",
        https_only=web.cookie_secure,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from spinecare.web.api import router as api_router
    from spinecare.web.orthosis import router as orthosis_router
    from spinecare.web.pages import router as pages_router

    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(pages_router)
    app.include_router(orthosis_router)
    _described(app)
    _errors(app)
    return app


def _described(app: FastAPI) -> None:
    """The API's OpenAPI schema and its Swagger page: like every face but the login and the
    static files, for a signed-in user (a 401 otherwise). And the browser's favicon."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import FileResponse, HTMLResponse

    @app.get(f"{API_PREFIX}/openapi.json", include_in_schema=False)
    def openapi(user: CurrentUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs(user: CurrentUser) -> HTMLResponse:
        # Vendored (swagger-ui-dist from npm, static/vendor): a clinic's network may be
        # offline, and the page must not load code from a CDN.
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title="spinecare API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")


def _errors(app: FastAPI) -> None:
    def problem(request: Request, status: int, detail: Any, key: str) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": detail}, status_code=status)
        from spinecare.web.deps import optional_user
        from spinecare.web.render import page

        ctx: WebContext = request.app.state.ctx
        user = None
        # the database may be what failed
        with contextlib.suppress(Exception), ctx.store.session() as db:
            user = optional_user(request, db)
        return page(request, "error.html", user, status_code=status, key=key, detail=detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # No route, a method a route does not take: the German page, not the framework's JSON.
        if _is_api(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        key = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return problem(request, exc.status_code, "", key)

    @app.exception_handler(StoreFault)
    async def _store_fault(request: Request, exc: StoreFault) -> Response:
        return _fault_page(request, exc)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        """Anything else: a database fault in words, or an internal error naming only the
        exception's type (its text may hold a record's values). The server's log keeps the
        traceback, which never holds a statement's values (``store.engine``)."""
        ctx: WebContext = request.app.state.ctx
        fault = classify(exc, ctx.store.url_masked)
        if fault is not None:
            return _fault_page(request, fault)
        return problem(request, 500, type(exc).__name__, "internal_error")

    def _fault_page(request: Request, fault: StoreFault) -> Response:
        if fault.kind is FaultKind.REFUSED:
            return problem(request, 422, fault.message, "error")
        status = 503 if fault.kind in TRANSIENT else 500
        key = "store_busy" if fault.kind in TRANSIENT else "store_fault"
        return problem(request, status, fault.message, key)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": "not signed in"},
                status_code=401,
                headers={"WWW-Authenticate": "Cookie"},
            )
        from spinecare.web.render import redirect

        return redirect(f"/login?next={request.url.path}")

    @app.exception_handler(PasswordChangePending)
    async def _change_password(request: Request, exc: PasswordChangePending) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": "change the one-time password first (/account)"}, status_code=403
            )
        from spinecare.web.render import redirect

        return redirect("/account")

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, exc: CsrfRejected) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "CSRF token missing or wrong"}, status_code=403)
        # A form left open past the cookie's lifetime is the common case: a page that says so,
        # in the page's language, and leads back to where the form was (a fresh token).
        from spinecare.web.deps import optional_user
        from spinecare.web.render import page

        ctx: WebContext = request.app.state.ctx
        with ctx.store.session() as db:
            user = optional_user(request, db)
        return page(
            request,
            "error.html",
            user,
            status_code=403,
            key="csrf_failed",
            detail="",
            back=_back_to(request),
        )

    @app.exception_handler(PermissionDeniedError)
    async def _forbidden(request: Request, exc: PermissionDeniedError) -> Response:
        return problem(request, 403, str(exc), "forbidden")

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
        return problem(request, 404, str(exc), "not_found")

    @app.exception_handler(InputError)
    async def _bad_input(request: Request, exc: InputError) -> Response:
        return problem(request, 422, str(exc), "error")

    @app.exception_handler(ValidationError)
    async def _invalid(request: Request, exc: ValidationError) -> Response:
        return problem(request, 422, describe_validation_error(exc), "error")

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        if _is_api(request):
            return JSONResponse({"detail": errors}, status_code=422)
        text = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors)
        return problem(request, 422, text, "error")
