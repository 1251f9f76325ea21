"""The officers' web app: a small Starlette (ASGI) app with its own Kafka reader.

Pages: worklist (live, per office and lane), declaration page (+ record outcome),
annotation, rules. Templates autoescape every value; a Content-Security-Policy allows
scripts only from ``/static``; every write needs a logged-in officer and the session's
CSRF token and is written to the audit log.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from zeikan.images.errors import ImageError
from zeikan.images.store import open_store
from zeikan.images.scorer import ImageScorerSettings
from zeikan.streams.errors import RulesError
from zeikan.ui.audit import AuditLog
from zeikan.ui.errors import FormError, UiError
from zeikan.ui.feed import Feed
from zeikan.ui.imaging import ANNOTATION_CLASSES, AnnotationQueue, ImageModel, heatmap_overlay_png, officer_label, scan_png
from zeikan.ui.index import LANES, Case, WorklistIndex
from zeikan.ui.outcomes import FINDING_SLOTS, inspection_record, new_inspection_id, symbols
from zeikan.ui.rules_admin import RulesAdmin
from zeikan.ui.security import (
    Forbidden,
    LoginRequired,
    check_csrf,
    csrf_token,
    current_officer,
    require_officer,
    start_session,
)
from zeikan.ui.settings import UiSettings
from zeikan.ui.users import Officer, Users

HERE = Path(__file__).resolve().parent
_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_SHA = re.compile(r"[0-9a-f]{64}")
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"


def _age(ms: int | None) -> str:
    if not ms:
        return "?"
    seconds = max(0, int(time.time() - ms / 1000))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC") if ms else "?"


def templates() -> Jinja2Templates:
    """Templates with autoescaping on for every file (values are text, never markup)."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.filters.update(age=_age, when=_when)
    env.globals.update(lanes=LANES)
    return Jinja2Templates(env=env)


class UiState:
    """What the request handlers share: settings, users, index, feed, stores, audit log."""

    def __init__(self, settings: UiSettings, users: Users) -> None:
        data = Path(settings.data_dir)
        self.settings = settings
        self.users = users
        self.index = WorklistIndex()
        self.feed = Feed(settings.bootstrap, self.index, int(settings.horizon_days * 86_400_000))
        self.audit = AuditLog(data / "audit.jsonl")
        self.rules = RulesAdmin(Path(settings.rules_path) if settings.rules_path else None, data / "rules")
        self.store = open_store(settings.image_store)
        self.model = ImageModel(ImageScorerSettings.from_env())
        self.queue = AnnotationQueue(self.store, self.model)
        self.published: set[str] = set()
        self.templates = templates()


def create_app(settings: UiSettings, users: Users, follow: bool = True) -> Starlette:
    """The ASGI app; ``follow=False`` leaves Kafka alone (tests fill ``app.state.ui.index`` themselves)."""
    ui = UiState(settings, users)

    def officer(request: Request) -> Officer:
        return require_officer(request, ui.users, settings.auth_mode, settings.header_name)

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        who = current_officer(request, ui.users, settings.auth_mode, settings.header_name)
        context.update(officer=who, csrf=csrf_token(request), auth_mode=settings.auth_mode)
        return ui.templates.TemplateResponse(request, name, context, status_code=status_code)

    async def form_of(request: Request) -> dict[str, str]:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def allowed_case(request: Request, did: str) -> tuple[Officer, Case]:
        who = officer(request)
        case = ui.index.case(did) if _ID.fullmatch(did) else None
        if case is None or case.office_id not in who.offices:
            raise HTTPException(404, "no such declaration in your offices")
        return who, replace(case, importer_history=[r for r in case.importer_history if r.office_id in who.offices],
                            declarant_history=[r for r in case.declarant_history if r.office_id in who.offices])

    # --- login ---------------------------------------------------------------------------------

    async def login_page(request: Request) -> Response:
        return render(request, "login.html", next=_safe_next(request.query_params.get("next")))

    async def login(request: Request) -> Response:
        form = await form_of(request)
        check_csrf(request, form)
        user_id = form.get("user", "")[:64]
        who = ui.users.authenticate(user_id, form.get("password", "")[:1024])
        if who is None:
            ui.audit.record(user_id or "-", "login-failed", "session")
            return render(request, "login.html", status_code=401, error="wrong user name or password",
                          next=_safe_next(form.get("next")))
        start_session(request, who)
        ui.audit.record(who.user_id, "login", "session")
        return RedirectResponse(_safe_next(form.get("next")), status_code=303)

    async def logout(request: Request) -> Response:
        form = await form_of(request)
        check_csrf(request, form)
        who = officer(request)
        request.session.clear()
        ui.audit.record(who.user_id, "logout", "session")
        return RedirectResponse("/login", status_code=303)

    # --- worklist ------------------------------------------------------------------------------

    def worklist_context(request: Request) -> dict[str, Any]:
        who = officer(request)
        q = request.query_params
        office = q.get("office") or None
        lane = q.get("lane") or None
        if office is not None and office not in who.offices:
            raise HTTPException(404, "not one of your offices")
        if lane is not None and lane not in LANES:
            raise HTTPException(400, f"lane must be one of {', '.join(LANES)}")
        try:
            page_no = int(q.get("page", "1"))
        except ValueError:
            page_no = 1
        text = q.get("q", "")[:64]
        page = ui.index.worklist(who.offices, office, lane, text, page_no, settings.page_size)
        return {"page": page, "office": office or "", "lane": lane or "", "q": text,
                "offices": sorted(who.offices)}

    async def worklist(request: Request) -> Response:
        return render(request, "worklist.html", **worklist_context(request))

    async def worklist_rows(request: Request) -> Response:
        return render(request, "_rows.html", **worklist_context(request))

    # --- declaration page ----------------------------------------------------------------------

    async def declaration(request: Request) -> Response:
        did = request.path_params["did"]
        _, case = allowed_case(request, did)
        physics = {}
        for sid, scan in case.scans.items():
            try:
                physics[sid] = ui.model.physics(str(scan["image_uri"]), case.declaration) if case.declaration else None
            except (ImageError, UiError, KeyError, ValueError):
                physics[sid] = None
        current = case.decisions[-1] if case.decisions else None
        return render(request, "declaration.html", case=case, current=current, physics=physics,
                      inspection_id=new_inspection_id(secrets.token_hex(16)),
                      types=symbols("inspection_type"), outcomes=symbols("outcome"),
                      kinds=symbols("findings.kind"), slots=range(FINDING_SLOTS),
                      recorded=request.query_params.get("recorded"), error=None, form={})

    def evidence_uri(case: Case, scan_id: str, heat: bool) -> str:
        for decision in case.decisions:
            for e in decision.get("image_evidence", ()):
                if e["scan_id"] == scan_id:
                    if heat:
                        return str(e.get("heatmap_uri") or "")
                    return str(case.scans.get(scan_id, {}).get("image_uri", ""))
        return ""

    def scan_image(heat: bool) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            _, case = allowed_case(request, request.path_params["did"])
            uri = evidence_uri(case, request.path_params["scan_id"], heat)
            if not uri:
                raise HTTPException(404, "no such image")
            try:
                data = heatmap_overlay_png(uri) if heat else scan_png(uri)
            except ImageError as exc:
                raise HTTPException(404, str(exc)) from None
            return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
        return handler

    async def record_outcome(request: Request) -> Response:
        form = await form_of(request)
        check_csrf(request, form)
        who, case = allowed_case(request, request.path_params["did"])
        if case.declaration is None:
            raise HTTPException(409, "the declaration itself has not been read yet: try again in a moment")
        current = case.decisions[-1] if case.decisions else None
        try:
            record = inspection_record(form, case.declaration, current, who.user_id)
        except FormError as exc:
            return render(request, "declaration.html", status_code=400, case=case, current=current, physics={},
                          inspection_id=form.get("inspection_id", ""), types=symbols("inspection_type"),
                          outcomes=symbols("outcome"), kinds=symbols("findings.kind"), slots=range(FINDING_SLOTS),
                          recorded=None, error=str(exc), form=form)
        iid = record["inspection_id"]
        already = iid in ui.published or iid in ui.index.inspections.get(case.declaration_id, {})
        if not already:
            ui.published.add(iid)
            await ui.feed.publish("inspection-results", record)
        ui.audit.record(who.user_id, "outcome-duplicate" if already else "outcome", case.declaration_id,
                        inspection_id=iid, outcome=record["outcome"], inspection_type=record["inspection_type"])
        return RedirectResponse(f"/declarations/{case.declaration_id}?recorded={iid}", status_code=303)

    # --- annotation ----------------------------------------------------------------------------

    async def annotate_page(request: Request) -> Response:
        officer(request)
        task = ui.queue.next()
        saved = request.query_params.get("saved")
        return render(request, "annotate.html", task=task, classes=ANNOTATION_CLASSES,
                      waiting=ui.queue.size(), saved=saved if saved and _SHA.fullmatch(saved) else None, error=None)

    async def annotate_image(request: Request) -> Response:
        officer(request)
        sha = request.path_params["sha"]
        if not _SHA.fullmatch(sha) or sha not in ui.store:
            raise HTTPException(404, "no such image")
        return Response(scan_png(f"{ui.store.url}/{ui.store.key_of(sha)}"), media_type="image/png")

    async def annotate(request: Request) -> Response:
        form = await form_of(request)
        check_csrf(request, form)
        who = officer(request)
        sha = form.get("sha256", "")
        if not _SHA.fullmatch(sha) or sha not in ui.store:
            raise HTTPException(404, "no such image")
        try:
            boxes = json.loads(form.get("boxes") or "[]")
            label = officer_label(ui.store.get(sha), sha, form.get("verdict", ""), form.get("cls", ""), boxes,
                                  who.user_id, int(time.time() * 1000))
        except (FormError, json.JSONDecodeError) as exc:
            task = ui.queue.next()
            return render(request, "annotate.html", status_code=400, task=task, classes=ANNOTATION_CLASSES,
                          waiting=ui.queue.size(), saved=None, error=str(exc))
        ui.store.put_label(label)
        ui.audit.record(who.user_id, "annotate", sha, verdict=label.verdict, cls=label.cls, boxes=len(label.boxes),
                        label_id=label.label_id)
        return RedirectResponse(f"/annotate?saved={sha}", status_code=303)

    # --- rules ---------------------------------------------------------------------------------

    def rules_page(request: Request, status_code: int = 200, error: str | None = None, text: str | None = None,
                   saved: str | None = None) -> Response:
        officer(request)
        return render(request, "rules.html", status_code=status_code, book=ui.rules.book(),
                      stats=ui.index.rule_stats(), text=ui.rules.text() if text is None else text,
                      versions=ui.rules.versions()[:20], error=error, saved=saved,
                      configured=ui.rules.path is not None)

    async def rules(request: Request) -> Response:
        return rules_page(request, saved=request.query_params.get("saved"))

    async def save_rules(request: Request) -> Response:
        form = await form_of(request)
        check_csrf(request, form)
        who = officer(request)
        text = form.get("text", "")
        try:
            version = ui.rules.save(text, who.user_id)
        except RulesError as exc:
            ui.audit.record(who.user_id, "rules-refused", "rules", reason=str(exc))
            return rules_page(request, status_code=400, error=str(exc), text=text)
        ui.audit.record(who.user_id, "rules", "rules", number=version.number, book_version=version.book_version)
        return RedirectResponse(f"/rules?saved={version.number}", status_code=303)

    # --- plumbing ------------------------------------------------------------------------------

    async def home(request: Request) -> Response:
        return RedirectResponse("/worklist", status_code=303)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"records_read": dict(ui.index.records_read), "skipped": dict(ui.feed.skipped),
                             "held": ui.index.size(), "forgotten": ui.feed.forgotten})

    async def login_required(request: Request, exc: Exception) -> Response:
        if request.method == "GET":
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return JSONResponse({"error": "login required"}, status_code=403)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=403)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return render(request, "error.html", status_code=exc.status_code, message=exc.detail)

    async def ui_error(request: Request, exc: Exception) -> Response:
        return render(request, "error.html", status_code=400, message=str(exc))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if follow:
            await ui.feed.start()
        try:
            yield
        finally:
            if follow:
                await ui.feed.stop()
            ui.model.close()

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            Route("/login", login_page, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/worklist", worklist),
            Route("/worklist/rows", worklist_rows),
            Route("/declarations/{did}", declaration, methods=["GET"]),
            Route("/declarations/{did}/outcome", record_outcome, methods=["POST"]),
            Route("/declarations/{did}/scans/{scan_id}.png", scan_image(heat=False)),
            Route("/declarations/{did}/heatmaps/{scan_id}.png", scan_image(heat=True)),
            Route("/annotate", annotate_page, methods=["GET"]),
            Route("/annotate", annotate, methods=["POST"]),
            Route("/annotate/images/{sha}.png", annotate_image),
            Route("/rules", rules, methods=["GET"]),
            Route("/rules", save_rules, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[
            Middleware(SessionMiddleware, secret_key=settings.secret or secrets.token_urlsafe(32),
                       session_cookie="zeikan_session", max_age=settings.session_max_age_s, same_site="strict"),
            Middleware(SecurityHeaders),
        ],
        exception_handlers={LoginRequired: login_required, Forbidden: forbidden, HTTPException: http_error,
                            UiError: ui_error},
        lifespan=lifespan,
    )
    app.state.ui = ui
    return app


def _safe_next(target: str | None) -> str:
    """A local path to return to after login (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and _PATH.fullmatch(target):
        return target
    return "/worklist"


_PATH = re.compile(r"/[A-Za-z0-9/._:-]{0,200}")


class SecurityHeaders:
    """ASGI middleware adding the Content-Security-Policy and friends to every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                                       (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]
            await send(message)

        await self.app(scope, receive, with_headers)
