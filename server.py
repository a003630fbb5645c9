"""JobLand over HTTP: thin FastAPI routes over the graph, runs in the background, events over SSE.

Start it with `jobland serve`, or `uvicorn jobland.server:create_app --factory`. OpenAPI docs are at /docs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import fastapi_offline
from fastapi import APIRouter, Body, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse
from starlette.datastructures import UploadFile

from jobland.api_runs import BackgroundRuns, Event, Progress, ThreadRun
from jobland.browser_safety import SecurityHeaders, redact_tokens_in_access_log
from jobland.browser_sessions import CSRF_HEADER, SESSION_COOKIE, BrowserSessions
from jobland.chat import (
    ask_again,
    decisions_said,
    looks_like_a_decision,
    outcome_summary,
    read_review_reply,
    review_summary,
)
from jobland.deliveries import DeadLetterResolved, mark_delivered, open_dead_letter, retry_delivery
from jobland.domain.models import (
    SETTABLE_STATUSES,
    ApplicationLogEntry,
    ApplicationPackage,
    ApplicationStatus,
    DeadLetter,
    Profile,
    ProfilingJob,
    ProfilingStatus,
    SearchRequest,
    SourceFailure,
    StatusChange,
    ThreadRecord,
    UnsupportedLine,
    WebhookCall,
)
from jobland.domain.repository import RecordNotFound
from jobland.domain.review import ACCEPTED_SHAPES, requested_package_ids
from jobland.domain.text import slug
from jobland.profiling import CV_TYPES, ProfilingJobs, TooManyUploads, stored_upload
from jobland.request_limits import BodySizeLimit
from jobland.service import (
    Context,
    CVImportError,
    DecisionRefused,
    ServiceError,
    Session,
    ThreadBusy,
    UnsafeURLError,
    WebhookURLError,
    check_decisions,
    check_posting_url,
    master_cv_markdown,
    new_thread_id,
    open_session,
    pending_review,
    read_answer,
    resume_input,
    review_command,
    review_requests,
    stage_of,
)
from jobland.settings import ApiUser, Settings
from jobland.templates import TEMPLATES_DIR, render
from jobland.tracking import ReplyProposal, apply_reply, find_replies_for, sync_after_change
from jobland.watches import (
    NAME_PATTERN,
    SavedSearch,
    WatchBusy,
    WatchExists,
    WatchInputError,
    WatchNotFound,
    WatchRuns,
    WatchView,
    add_watch,
    find_watch,
    hold_watch,
    remove_watch,
    run_held,
    watch_view,
    watch_views,
)
from jobland.webhooks import announce_segment, check_run_webhook
from jobland.workers import WorkerQueue, broker_configured

THREAD_ID = r"^[A-Za-z0-9_-]{1,64}$"
CV_ID = r"^[0-9a-f]{16}$"
PACKAGE_FILES = {
    "cv.pdf": "application/pdf",
    "cover_letter.pdf": "application/pdf",
    "cv.md": "text/markdown; charset=utf-8",
    "cover_letter.md": "text/markdown; charset=utf-8",
    "cv.tex": "application/x-tex; charset=utf-8",
    "message.eml": "message/rfc822",
}
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"  # Swagger UI 5, installed rather than from a CDN
STATIC_FILES = {
    "page.js": TEMPLATES_DIR / "page.js",
    "home.js": TEMPLATES_DIR / "home.js",
    "home.css": TEMPLATES_DIR / "home.css",
    "review.js": TEMPLATES_DIR / "review.js",
    "review.css": TEMPLATES_DIR / "review.css",
    "sign_in.js": TEMPLATES_DIR / "sign_in.js",
    "docs.js": TEMPLATES_DIR / "docs.js",
    "swagger-ui-bundle.js": SWAGGER_UI / "swagger-ui-bundle.js",
    "swagger-ui.css": SWAGGER_UI / "swagger-ui.css",
}
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

Stage = Literal["running", "awaiting_review", "delivering", "finished", "interrupted", "failed"]


# ----------------------------------------------------------------------------- request and response models


class CVUploaded(BaseModel):
    cv_id: str
    name: str
    sections: list[str]
    highlights: int = Field(description="How many highlights (claims) were read from the CV.")


class ProfilingAccepted(BaseModel):
    profile_id: str = Field(description="The file's content hash; POST /api/threads takes it as cv_id.")
    status: ProfilingStatus
    status_url: str
    result_url: str


class ProfilingJobStatus(ProfilingJob):
    result_url: str = Field(description="The Profile, once the status is completed.")


class ThreadCreate(BaseModel):
    cv_id: str = Field(pattern=CV_ID, description="From POST /api/cv.")
    message: str | None = Field(default=None, max_length=2000, description='In words: "senior Python, Berlin".')
    query: str | None = Field(default=None, max_length=2000)
    locations: list[str] | None = None
    max_packages: int | None = Field(default=None, ge=1, le=100)
    posting_url: str | None = Field(
        default=None, max_length=2000, description="One posting's web page to screen instead of the jobs folder."
    )
    posting_text: str | None = Field(
        default=None, max_length=200_000, description="One posting's text to screen instead of the jobs folder."
    )
    webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="Called (signed POST) when packages await review, the run completes, or it fails.",
    )


class ThreadCreated(BaseModel):
    thread_id: str
    status_url: str
    events_url: str


class Accepted(BaseModel):
    status_url: str


class PackageSummary(BaseModel):
    package_id: str
    posting_id: str
    title: str
    company: str
    status: str
    error: str | None = Field(description="Why it failed or timed out.")
    history: list[StatusChange] = Field(description="Every status it went through, timestamped.")
    match_score: int
    probability: str
    flagged_claims: list[str]
    version: int = Field(description="The documents' version: 1 as built, one more for each edit.")
    unsupported_lines: list[UnsupportedLine] = Field(
        description="Lines of an edit the master CV does not support: the package is sent only once each is "
        "confirmed by id (confirm_unsupported)."
    )

    @classmethod
    def of(cls, pkg: ApplicationPackage) -> PackageSummary:
        return cls(
            package_id=pkg.id,
            posting_id=pkg.posting_id,
            title=pkg.title,
            company=pkg.company,
            status=pkg.status.value,
            error=pkg.error,
            history=pkg.history,
            match_score=pkg.screening.match_score,
            probability=pkg.screening.probability,
            flagged_claims=pkg.flagged_claims,
            version=len(pkg.versions) + 1,
            unsupported_lines=pkg.unsupported_lines,
        )


class ProgressOut(BaseModel):
    postings: int
    screened: int
    high: int
    packages_built: int
    delivered: int


class ThreadStatus(BaseModel):
    thread_id: str
    stage: Stage
    error: str | None = None
    progress: ProgressOut
    packages: list[PackageSummary]
    awaiting_review: list[str] = Field(description="Package ids waiting for a decision, in the request's order.")
    missing: list[str] = Field(
        description="Packages that failed or timed out while being built; decide 'retry' (or 'reject') for them."
    )
    dead_letters: list[DeadLetter] = Field(description="Approved packages whose delivery did not go through.")
    source_failures: list[SourceFailure] = Field(
        default_factory=list, description="Job sources that gave up in the latest search; the run went on without them."
    )


class ThreadListItem(BaseModel):
    thread_id: str
    created_at: datetime
    stage: Stage
    query: str


class PackageDetail(ApplicationPackage):
    master_cv_markdown: str = Field(description="The master CV laid out like the tailored one, for a diff.")


ReviewAnswer = Annotated[
    dict[str, Any] | list[Any],
    Body(
        description=f"The person's decisions, in one of these shapes: {ACCEPTED_SHAPES}.",
        examples=[{"decisions": [{"package_id": "pkg_...", "action": "accept"}], "done": False}],
    ),
]


class ApplicationStatusUpdate(BaseModel):
    status: ApplicationStatus = Field(description=f"One of: {', '.join(SETTABLE_STATUSES)}.")
    note: str | None = Field(default=None, max_length=2000, description="Kept with this change.")


class ChatRequest(BaseModel):
    thread_id: str | None = Field(default=None, pattern=THREAD_ID)
    cv_id: str | None = Field(default=None, pattern=CV_ID, description="For a new thread.")
    message: str = Field(min_length=1, max_length=2000)


# ----------------------------------------------------------------------------- dependencies


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Session:
    return request.app.state.session


def get_runs(request: Request) -> BackgroundRuns:
    return request.app.state.runs


def get_profiling(request: Request) -> ProfilingJobs:
    return request.app.state.profiling


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
RunsDep = Annotated[BackgroundRuns, Depends(get_runs)]
ProfilingDep = Annotated[ProfilingJobs, Depends(get_profiling)]
_bearer = HTTPBearer(auto_error=False, description="An API token (JOBLAND_API_TOKEN or JOBLAND_API_TOKENS).")


def user_for_token(settings: Settings, token: str | None) -> ApiUser | None:
    found = None
    for known, user in settings.api_users().items():
        if token and secrets.compare_digest(known.encode(), token.encode()):
            found = user
    return found


def browser_sessions(request: Request) -> BrowserSessions:
    settings = get_settings(request)
    return BrowserSessions(get_session(request).records.store, settings.api_users(), settings.browser_session_s)


async def page_user(request: Request) -> ApiUser | None:
    """Who the review page's session cookie signs in; a change it asks for must carry the page's CSRF token.

    SameSite=Strict does not stop a page on another port of the same host: only the token, which no
    other page can read, tells the page's own requests from a form or fetch elsewhere.
    """
    signed_in = await browser_sessions(request).find(request.cookies.get(SESSION_COOKIE))
    if signed_in is None:
        return None
    if request.method not in SAFE_METHODS and not secrets.compare_digest(
        request.headers.get(CSRF_HEADER, "").encode(), signed_in.csrf_token.encode()
    ):
        raise HTTPException(403, f"a change from a JobLand page needs its {CSRF_HEADER} header; reload the page")
    return signed_in.user


async def current_user(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiUser:
    # A bearer token needs no CSRF token: no other site's page can make a browser send that header.
    user = user_for_token(settings, credentials.credentials) if credentials else await page_user(request)
    if user is None:
        raise HTTPException(
            401, "a valid API token is needed: send `Authorization: Bearer <token>`", {"WWW-Authenticate": "Bearer"}
        )
    return user


UserDep = Annotated[ApiUser, Depends(current_user)]


async def owned_thread(
    thread_id: Annotated[str, Field(pattern=THREAD_ID)], user: UserDep, s: SessionDep
) -> ThreadRecord:
    record = await s.records.thread(thread_id)
    if record is None or record.owner != user.user_id:  # another user's thread does not exist for you
        raise HTTPException(404, f"no thread {thread_id!r}; GET /api/threads lists yours")
    return record


ThreadDep = Annotated[ThreadRecord, Depends(owned_thread)]


def user_context(settings: Settings, user: ApiUser) -> Context:
    return dataclasses.replace(settings.context(), user_id=user.user_id, user_email=user.email, user_name=user.name)


# ----------------------------------------------------------------------------- thread state


async def thread_status(s: Session, run: ThreadRun | None, thread_id: str) -> ThreadStatus:
    """Where a thread stands; run=None reads the checkpoint only (as after a restart)."""
    snapshot = await s.graph.aget_state(s.config(thread_id))
    values = snapshot.values
    if run is not None and run.running:
        stage, progress = ("delivering" if run.delivering else "running"), run.progress
    else:
        progress = Progress.from_values(values)
        stage = stage_of(snapshot)
        if stage == "interrupted" and await s.guards.held_by(thread_id):
            stage = "running"  # another process advances it now: a worker, another server, the CLI
        elif stage == "interrupted" and run is not None and run.error:
            stage = "failed"
    stored = {p.id: p for p in await s.records.packages(thread_id)}
    packages = [PackageSummary.of(stored[r.package_id]) for r in values.get("packages", []) if r.package_id in stored]
    _, requests = review_requests(snapshot)  # the snapshot read above; no second read
    record = await s.records.thread(thread_id)
    return ThreadStatus(
        thread_id=thread_id,
        stage=stage,
        error=run.error if run is not None else None,
        progress=ProgressOut(**progress.counts()),
        packages=packages,
        awaiting_review=requested_package_ids(requests),
        missing=requested_package_ids(requests, missing=True),
        dead_letters=await s.records.dead_letters(thread_id=thread_id, open_only=False),
        source_failures=record.source_failures if record is not None else [],
    )


async def closing_events(s: Session, thread_id: str) -> list[Event]:
    """What a subscriber hears when a run stops: the approval request, or the deliveries; then "done"."""
    status = await thread_status(s, None, thread_id)
    events: list[Event] = []
    if status.stage == "awaiting_review":
        interrupt_id, requests = await pending_review(s, thread_id)
        by_id = {p.package_id: p for p in status.packages}
        events.append(
            {
                "event": "approval_request",
                "data": {
                    "thread_id": thread_id,
                    "interrupt_id": interrupt_id,
                    "progress": status.progress.model_dump(),
                    "packages": [by_id[pid].model_dump(mode="json") for pid in status.awaiting_review],
                    "missing": [by_id[pid].model_dump(mode="json") for pid in status.missing],
                    "requests": requests,
                    "handles": [p.package_id for p in status.packages],  # chat numbers packages by these
                },
            }
        )
    elif status.progress.delivered:
        sent = [p.model_dump(mode="json") for p in status.packages if p.status == "sent"]
        events.append({"event": "delivered", "data": {"thread_id": thread_id, "packages": sent}})
        if (record := await s.records.thread(thread_id)) is not None:  # JOBLAND_SHEET_ID: the sheet follows
            await sync_after_change(s, dataclasses.replace(s.settings.context(), user_id=record.owner))
    events.append({"event": "done", "data": status.model_dump(mode="json")})
    return events


def check_run_budget(request: Request, user: ApiUser) -> None:
    """429 when the user has as many runs going on this server as they may."""
    limit = request.app.state.settings.runs_per_user
    if request.app.state.runs.running_for(user.user_id) >= limit:
        raise HTTPException(
            429, f"you have {limit} runs going already; wait for one to pause or finish", headers={"Retry-After": "30"}
        )


async def hold_thread(s: Session, thread_id: str) -> AsyncExitStack:
    """The thread's lease for this server process, kept until the run it guards ends; 409 if another holds it."""
    lease = AsyncExitStack()
    try:
        await lease.enter_async_context(s.advancing(thread_id))
    except ThreadBusy as exc:
        raise HTTPException(409, str(exc)) from exc
    return lease


async def start_run(
    request: Request,
    thread_id: str,
    payload: Any,
    user: ApiUser,
    *,
    delivering: bool = False,
    lease: AsyncExitStack | None = None,
) -> None:
    """Run the thread in the background under its lease (taken here unless the caller holds it already)."""
    state = request.app.state
    try:
        check_run_budget(request, user)
    except HTTPException:
        if lease is not None:
            await lease.aclose()
        raise
    lease = lease or await hold_thread(state.session, thread_id)
    try:
        state.runs.start(
            thread_id,
            payload,
            user_context(state.settings, user),
            lambda tid: closing_events(state.session, tid),
            delivering=delivering,
            lease=lease,
        )
    except BaseException:
        await lease.aclose()
        raise


def status_url(thread_id: str) -> str:
    return f"/api/threads/{thread_id}"


async def submit_decisions(
    request: Request, s: Session, runs: BackgroundRuns, user: ApiUser, thread_id: str, answer: Any
) -> None:
    """Resume the review interrupt once: the per-thread lock and the pending check make a second try a 409."""
    run = runs.of(thread_id)
    async with run.lock:
        if run.running:
            raise HTTPException(
                409, f"thread {thread_id} is busy with a run; wait for it (GET {status_url(thread_id)})"
            )
        lease = await hold_thread(s, thread_id)  # another server, CLI or worker may be on it: checked under the lease
        try:
            await _resume_review(request, s, user, thread_id, answer, lease)
        except BaseException:
            await lease.aclose()
            raise


async def _resume_review(
    request: Request, s: Session, user: ApiUser, thread_id: str, answer: Any, lease: AsyncExitStack
) -> None:
    """Validate the decisions against what the thread waits on now, then resume it once."""
    interrupt_id, requests = await pending_review(s, thread_id)
    if interrupt_id is None:
        raise HTTPException(409, f"thread {thread_id} is not waiting for review; GET {status_url(thread_id)}")
    try:
        decisions, done = read_answer(answer, requests)
        await check_decisions(s, thread_id, requests, decisions)
    except DecisionRefused as exc:
        raise HTTPException(409 if exc.conflict else 422, str(exc)) from exc
    resume = review_command(interrupt_id, decisions, done=done)
    await start_run(request, thread_id, resume, user, delivering=True, lease=lease)


def uploaded_cv(settings: Settings, user: ApiUser, cv_id: str) -> Path:
    """The stored upload named by cv_id (a content hash, never a path the caller chose)."""
    path = stored_upload(settings.home, user.user_id, cv_id)
    if path is None:
        raise HTTPException(422, f"no uploaded CV {cv_id!r}; upload it first with POST /api/cv or POST /api/profiles")
    return path


# ----------------------------------------------------------------------------- routes

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@dataclasses.dataclass(frozen=True)
class CVFile:
    """An uploaded CV that passed the checks every upload route makes."""

    name: str  # as the user gave it, without folders
    data: bytes


# The upload routes read their multipart body themselves, after authentication (a declared File parameter
# would be read, and spooled to disk, before any dependency runs): this documents the body they take.
CV_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary", "description": "The CV file."}},
                }
            }
        },
    }
}


async def checked_cv_file(request: Request, user: UserDep, settings: SettingsDep) -> CVFile:
    """The upload's type, size and content, checked before anything is stored or parsed; only a signed-in
    user's body is read at all."""
    async with request.form(max_files=1, max_fields=8) as form:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise HTTPException(422, "send the CV as the multipart/form-data field `file`")
        return await _checked_cv(file, settings)


async def _checked_cv(file: UploadFile, settings: Settings) -> CVFile:
    given_name = Path(file.filename or "cv").name
    if Path(given_name).suffix.lower() not in CV_TYPES:
        raise HTTPException(415, f"{given_name}: upload your CV as one of {', '.join(CV_TYPES)}")
    data = await file.read(settings.upload_max_bytes + 1)
    if len(data) > settings.upload_max_bytes:
        limit = settings.upload_max_bytes // (1024 * 1024)
        raise HTTPException(
            413, f"{given_name} is over the {limit} MB limit for a CV; remove images or upload a .docx/.md"
        )
    if not data.strip():
        raise HTTPException(422, f"{given_name} is empty; upload the file that holds your CV")
    return CVFile(given_name, data)


CVFileDep = Annotated[CVFile, Depends(checked_cv_file)]


@router.post("/api/cv", status_code=201, openapi_extra=CV_UPLOAD_BODY)
async def upload_cv(user: UserDep, cv: CVFileDep, s: SessionDep, profiling: ProfilingDep) -> CVUploaded:
    """Upload a master CV (PDF, DOCX, Markdown, HTML, text or JSON Resume); the same file gives the same cv_id."""
    try:
        cv_id, profile = await profiling.read(user.user_id, cv.name, cv.data)
    except CVImportError as exc:
        raise HTTPException(422, str(exc)) from exc
    await s.records.put_profile(profile)  # load_profile finds it and does not parse the file again
    return CVUploaded(
        cv_id=cv_id, name=profile.basics.name, sections=profile.sections, highlights=len(profile.all_highlights())
    )


async def too_many_uploads(request: Request, exc: Exception) -> Response:
    """429 for an upload over the user's limit of uploads being read at once (TooManyUploads)."""
    retry_after = exc.retry_after if isinstance(exc, TooManyUploads) else 1
    return JSONResponse({"detail": str(exc)}, 429, {"Retry-After": str(retry_after)})


def profile_status_url(profile_id: str) -> str:
    return f"/api/profiles/{profile_id}"


@router.post("/api/profiles", status_code=202, openapi_extra=CV_UPLOAD_BODY)
async def submit_profile(user: UserDep, cv: CVFileDep, profiling: ProfilingDep) -> ProfilingAccepted:
    """Read a master CV into a profile in the background; the same file gives the same profile_id and is read once."""
    job = await profiling.submit(user.user_id, cv.name, cv.data)
    status_url = profile_status_url(job.profile_id)
    return ProfilingAccepted(
        profile_id=job.profile_id, status=job.status, status_url=status_url, result_url=f"{status_url}/result"
    )


async def owned_profiling_job(
    profile_id: Annotated[str, Field(pattern=CV_ID)], user: UserDep, s: SessionDep
) -> ProfilingJob:
    job = await s.records.profiling_job(user.user_id, profile_id)
    if job is None:  # jobs are kept per owner: another user's profile does not exist for you
        raise HTTPException(404, f"no profile {profile_id!r}; upload your CV with POST /api/profiles")
    return job


ProfilingJobDep = Annotated[ProfilingJob, Depends(owned_profiling_job)]


@router.get("/api/profiles/{profile_id}")
async def get_profiling_job(job: ProfilingJobDep) -> ProfilingJobStatus:
    """pending, processing, completed, or failed with the error."""
    return ProfilingJobStatus(**job.model_dump(), result_url=f"{profile_status_url(job.profile_id)}/result")


@router.get("/api/profiles/{profile_id}/result")
async def get_profile_result(job: ProfilingJobDep, s: SessionDep) -> Profile:
    """The Profile (JSON Resume fields, highlight ids, preferences) once the status is completed."""
    if job.status == "failed":
        raise HTTPException(422, job.error)
    if job.status != "completed":
        raise HTTPException(
            409,
            f"profile {job.profile_id} is still {job.status}; poll GET {profile_status_url(job.profile_id)} "
            "until its status is completed",
        )
    profile = await s.records.profile(job.stored_profile_id)
    return profile.model_copy(update={"source": job.file_name})  # the stored file is named by its hash


@router.post("/api/threads", status_code=202)
async def create_thread(
    body: ThreadCreate, request: Request, user: UserDep, s: SessionDep, settings: SettingsDep
) -> ThreadCreated:
    """Start a search; it runs in the background until the review pause. Poll status_url or listen to events_url."""
    cv_path = uploaded_cv(settings, user, body.cv_id)
    given = body.model_dump(
        include={"query", "locations", "max_packages", "posting_url", "posting_text"}, exclude_none=True
    )
    if body.posting_url and body.posting_text:
        raise HTTPException(422, "give posting_url or posting_text, not both")
    if body.posting_url:
        try:
            await check_posting_url(settings, body.posting_url)
        except UnsafeURLError as exc:
            raise HTTPException(422, str(exc)) from None
    if body.message and not given.get("query"):
        given["query"] = body.message  # the thread list shows it, and a resume before the first step keeps it
    search = SearchRequest(cv_path=str(cv_path), jobs_dir=str(settings.jobs_dir), **given)
    if body.webhook_url:
        try:
            await check_run_webhook(settings, body.webhook_url)
        except WebhookURLError as exc:
            raise HTTPException(422, str(exc)) from None
    check_run_budget(request, user)  # before the thread is recorded: a refused request leaves nothing behind
    thread_id = await new_thread(s, user, search, webhook_url=body.webhook_url)
    payload: dict[str, Any] = {"request": search}
    if body.message:
        payload["message"] = body.message
    await start_run(request, thread_id, payload, user)
    return ThreadCreated(
        thread_id=thread_id, status_url=status_url(thread_id), events_url=f"/api/threads/{thread_id}/events"
    )


async def new_thread(s: Session, user: ApiUser, search: SearchRequest, webhook_url: str | None = None) -> str:
    """A thread id, owned by user from now on (intake keeps this record)."""
    thread_id = new_thread_id()
    await s.record_thread(thread_id, user.user_id, search, webhook_url)
    return thread_id


@router.get("/api/threads")
async def list_threads(user: UserDep, s: SessionDep, runs: RunsDep) -> list[ThreadListItem]:
    records = await s.records.threads(owner=user.user_id)
    statuses = [await thread_status(s, runs.of(r.thread_id), r.thread_id) for r in records]
    return [
        ThreadListItem(thread_id=r.thread_id, created_at=r.created_at, stage=st.stage, query=r.request.query)
        for r, st in zip(records, statuses, strict=True)
    ]


@router.get("/api/threads/{thread_id}")
async def get_thread(thread: ThreadDep, s: SessionDep, runs: RunsDep) -> ThreadStatus:
    return await thread_status(s, runs.of(thread.thread_id), thread.thread_id)


@router.get("/api/threads/{thread_id}/packages")
async def list_packages(thread: ThreadDep, s: SessionDep, runs: RunsDep) -> list[PackageSummary]:
    return (await thread_status(s, runs.of(thread.thread_id), thread.thread_id)).packages


@router.get("/api/threads/{thread_id}/webhooks")
async def list_webhook_calls(thread: ThreadDep, s: SessionDep) -> list[WebhookCall]:
    """Every attempt at calling the thread's webhook, oldest first: event, delivery id, status or error, outcome."""
    return await s.records.webhook_calls(thread.thread_id)


async def owned_package(thread: ThreadDep, package_id: str, s: SessionDep) -> ApplicationPackage:
    try:
        return await s.records.package(thread.thread_id, package_id)
    except RecordNotFound:
        raise HTTPException(404, f"no package {package_id!r} in thread {thread.thread_id}") from None


PackageDep = Annotated[ApplicationPackage, Depends(owned_package)]


@router.get("/api/threads/{thread_id}/packages/{package_id}")
async def get_package(pkg: PackageDep, s: SessionDep, settings: SettingsDep) -> PackageDetail:
    profile, posting = await asyncio.gather(s.records.profile(pkg.profile_id), s.records.posting(pkg.posting_id))
    # Every highlight, laid out as the tailored CV is, so that the page's diff shows choices, not formatting.
    master = await asyncio.to_thread(master_cv_markdown, profile, posting)
    return PackageDetail(**pkg.model_dump(), master_cv_markdown=master)


@router.get("/api/threads/{thread_id}/packages/{package_id}/files/{name}")
async def get_package_file(name: str, pkg: PackageDep, s: SessionDep, settings: SettingsDep) -> Response:
    """cv.pdf, cover_letter.pdf, cv.md, cover_letter.md, cv.tex, or message.eml once delivered."""
    if name not in PACKAGE_FILES:
        raise HTTPException(404, f"no file {name!r}; a package has {', '.join(PACKAGE_FILES)}")
    document = pkg.cover_letter if name.startswith("cover_letter") else pkg.cv
    download = f"{name.split('.')[0].replace('_', '-')}-{slug(pkg.company)}.{name.split('.')[1]}"
    headers = {"Content-Disposition": f'attachment; filename="{download}"'}
    if name.endswith(".md") and document is not None:
        return Response(document.markdown, media_type=PACKAGE_FILES[name], headers=headers)
    path = None
    if name.endswith(".pdf") and document is not None and document.pdf_file:
        path = settings.home / document.pdf_file
    elif name == "cv.tex" and pkg.cv is not None and pkg.cv.latex_file:
        path = settings.home / pkg.cv.latex_file
    elif name == "message.eml" and (receipt := await s.records.delivery(pkg.id)) is not None:
        path = Path(receipt.location)
    if path is None or not path.is_file():
        raise HTTPException(404, f"{name} does not exist for this package (yet)")
    return FileResponse(path, media_type=PACKAGE_FILES[name], filename=download)


@router.post("/api/threads/{thread_id}/decisions", status_code=202)
async def post_decisions(
    body: ReviewAnswer, thread: ThreadDep, request: Request, user: UserDep, s: SessionDep, runs: RunsDep
) -> Accepted:
    """Accept, edit or reject packages awaiting review, or retry missing ones; approved ones are delivered at once.

    Packages left undecided keep waiting; `"done": true` ends the review with them left as they are.
    """
    await submit_decisions(request, s, runs, user, thread.thread_id, body)
    return Accepted(status_url=status_url(thread.thread_id))


@router.get("/api/deliveries")
async def list_dead_letters(user: UserDep, s: SessionDep, include_resolved: bool = False) -> list[DeadLetter]:
    """Deliveries that did not go through (attempts ran out, or the outcome is unknown); nothing resends them."""
    return await s.records.dead_letters(user.user_id, open_only=not include_resolved)


async def _open_dead_letter(s: Session, user: ApiUser, package_id: str) -> DeadLetter:
    try:
        return await open_dead_letter(s, user.user_id, package_id)
    except RecordNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except DeadLetterResolved as exc:
        raise HTTPException(409, str(exc)) from None


@router.post("/api/deliveries/{package_id}/{choice}", status_code=202)
async def resolve_dead_letter(
    package_id: str,
    choice: Literal["retry", "mark-sent"],
    request: Request,
    user: UserDep,
    s: SessionDep,
    runs: RunsDep,
) -> Accepted:
    """retry sends it again (Gmail looks for an earlier copy first); mark-sent says it did arrive: never sent again."""
    letter = await _open_dead_letter(s, user, package_id)
    run = runs.of(letter.thread_id)
    async with run.lock:
        if run.running:
            raise HTTPException(409, f"thread {letter.thread_id} is busy with a run; wait for it")
        letter = await _open_dead_letter(s, user, package_id)  # again under the lock: a second click sees 409
        if choice == "retry":
            payload = retry_delivery(letter)
        else:
            payload = await mark_delivered(s, letter, user.email)
        await start_run(request, letter.thread_id, payload, user, delivering=True)
    return Accepted(status_url=status_url(letter.thread_id))


@router.get("/api/applications")
async def list_applications(user: UserDep, s: SessionDep, include_all: bool = False) -> list[ApplicationLogEntry]:
    """Your applications, newest first: delivered packages and where each stands (include_all: every package)."""
    entries = [
        e
        for e in await s.records.applications(limit=10_000)
        if e.owner == user.user_id and (include_all or e.outcome == "sent")
    ]
    return sorted(entries, key=lambda e: e.at, reverse=True)


@router.patch("/api/applications/{package_id}")
async def set_application_status(
    package_id: str, body: ApplicationStatusUpdate, user: UserDep, s: SessionDep
) -> ApplicationLogEntry:
    """Record where an application stands now (as `jobland applications set` does); its history keeps every change."""
    entry = await s.records.application(package_id)
    if entry is None or entry.owner != user.user_id:
        raise HTTPException(404, f"no application {package_id!r}; GET /api/applications lists yours")
    if entry.outcome != "sent":
        raise HTTPException(
            409, f"package {package_id} was never delivered ({entry.outcome}), so there is no application to update"
        )
    if body.status not in SETTABLE_STATUSES:
        raise HTTPException(422, f"unknown status {body.status!r}: use one of {', '.join(SETTABLE_STATUSES)}")
    updated = entry.with_status(body.status, body.note or None)
    await s.records.put_application(updated)
    await sync_after_change(s, user_context(s.settings, user))
    return updated


@router.get("/api/applications/replies")
async def list_replies(user: UserDep, s: SessionDep) -> list[ReplyProposal]:
    """Employers' replies found in your inbox (read only), each with the status change it proposes, if any."""
    try:
        return await find_replies_for(s, user_context(s.settings, user))
    except ServiceError as exc:
        raise HTTPException(502, str(exc)) from exc


@router.post("/api/applications/{package_id}/replies/{gmail_id}/apply")
async def apply_reply_change(package_id: str, gmail_id: str, user: UserDep, s: SessionDep) -> ReplyProposal:
    """Make the status change a reply proposes (read again from the inbox); a reply changes an application once."""
    context = user_context(s.settings, user)
    try:
        applied = await apply_reply(s, context, package_id, gmail_id)
    except RecordNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except ServiceError as exc:
        raise HTTPException(502, str(exc)) from exc
    await sync_after_change(s, context)
    return applied


@router.post("/api/threads/{thread_id}/resume", status_code=202)
async def resume_thread(thread: ThreadDep, request: Request, user: UserDep, s: SessionDep, runs: RunsDep) -> Accepted:
    """Continue a run that a crash or restart interrupted, from its last checkpoint."""
    run = runs.of(thread.thread_id)
    async with run.lock:
        status = await thread_status(s, run, thread.thread_id)
        if status.stage not in ("interrupted", "failed"):
            raise HTTPException(
                409, f"thread {thread.thread_id} is {status.stage.replace('_', ' ')}; nothing to resume"
            )
        snapshot = await s.graph.aget_state(s.config(thread.thread_id))
        await start_run(request, thread.thread_id, resume_input(snapshot, thread), user)
    return Accepted(status_url=status_url(thread.thread_id))


class WatchCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="Your name for it, e.g. python-berlin.")
    cv_id: str = Field(pattern=CV_ID, description="From POST /api/cv.")
    query: str = Field(default="", max_length=2000, description='In words: "senior Python, Berlin or remote".')
    locations: list[str] = Field(default_factory=list, max_length=20)
    every: str = Field(default="1d", max_length=16, description='How often: "30m", "12h", "1d", "1w".')
    max_packages: int = Field(default=10, ge=1, le=100)


def get_watch_runs(request: Request) -> WatchRuns:
    return request.app.state.watch_runs


WatchRunsDep = Annotated[WatchRuns, Depends(get_watch_runs)]


def watch_status_url(name: str) -> str:
    return f"/api/watches/{name}"


async def owned_watch(name: Annotated[str, Field(pattern=NAME_PATTERN)], user: UserDep, s: SessionDep) -> SavedSearch:
    try:
        return await find_watch(s, user.user_id, name)
    except WatchNotFound as exc:  # another user's watch does not exist for you
        raise HTTPException(404, f"{exc}; GET /api/watches lists yours") from None


WatchDep = Annotated[SavedSearch, Depends(owned_watch)]


@router.post("/api/watches", status_code=201)
async def create_watch(body: WatchCreate, user: UserDep, s: SessionDep, settings: SettingsDep) -> WatchView:
    """Save a search: each run screens only postings it has not seen and emails you one digest of new packages."""
    try:
        watch = await add_watch(
            s,
            user.user_id,
            name=body.name,
            cv_path=str(uploaded_cv(settings, user, body.cv_id)),
            jobs_dir=str(settings.jobs_dir),
            every=body.every,
            query=body.query,
            locations=body.locations,
            max_packages=body.max_packages,
        )
    except WatchInputError as exc:
        raise HTTPException(409 if isinstance(exc, WatchExists) else 422, str(exc)) from None
    return await watch_view(s, watch)


@router.get("/api/watches")
async def list_watches(user: UserDep, s: SessionDep) -> list[WatchView]:
    return await watch_views(s, user.user_id)


@router.get("/api/watches/{name}")
async def get_watch(watch: WatchDep, s: SessionDep, watch_runs: WatchRunsDep) -> WatchView:
    """The watch, its latest runs (each run's thread_id opens its review) and whether one is going on now."""
    return await watch_view(s, watch, running=watch_runs.running(watch.key), error=watch_runs.errors.get(watch.key))


@router.delete("/api/watches/{name}", status_code=204)
async def delete_watch(watch: WatchDep, s: SessionDep) -> Response:
    """Forget the watch, its runs and what it has seen (its threads stay); 409 while it runs."""
    try:
        await remove_watch(s, watch.owner, watch.name)
    except WatchBusy as exc:
        raise HTTPException(409, str(exc)) from None
    return Response(status_code=204)


@router.post("/api/watches/{name}/run", status_code=202)
async def run_watch_now(
    watch: WatchDep, user: UserDep, s: SessionDep, settings: SettingsDep, watch_runs: WatchRunsDep
) -> Accepted:
    """Run the watch now, due or not, in the background; 409 while another process runs it."""
    try:
        lease = await hold_watch(s, watch)
    except WatchBusy as exc:
        raise HTTPException(409, str(exc)) from None
    watch_runs.start(watch.key, lease, run_held(s, user_context(settings, user), watch, force=True))
    return Accepted(status_url=watch_status_url(watch.name))


def sse(events: AsyncIterator[Event]) -> EventSourceResponse:
    """An SSE response whose data fields are JSON."""

    async def encoded() -> AsyncIterator[dict[str, str]]:
        async for event in events:
            yield {"event": event["event"], "data": json.dumps(event["data"], default=str, ensure_ascii=False)}

    return EventSourceResponse(encoded(), ping=10)


@router.get("/api/threads/{thread_id}/events")
async def thread_events(thread: ThreadDep, s: SessionDep, runs: RunsDep) -> EventSourceResponse:
    """Server-Sent Events: a snapshot, then progress, approval_request, delivered, done or error."""
    thread_id = thread.thread_id
    run = runs.of(thread_id)

    async def snapshot() -> list[Event]:
        status = await thread_status(s, run, thread_id)
        first = [{"event": "snapshot", "data": status.model_dump(mode="json")}]
        return first if run.running else first + await closing_events(s, thread_id)

    return sse(runs.subscribe(thread_id, snapshot))


@router.post("/api/chat")
async def chat(
    body: ChatRequest, request: Request, user: UserDep, s: SessionDep, runs: RunsDep, settings: SettingsDep
) -> EventSourceResponse:
    """A message in, events out: a new search, a new search in a thread, or a review reply to a waiting thread."""
    if body.thread_id:
        thread = await owned_thread(body.thread_id, user, s)
        thread_id, cv_path = thread.thread_id, thread.request.cv_path
        if runs.of(thread_id).running:
            raise HTTPException(409, f"thread {thread_id} is busy with a run; wait for it to pause or finish")
        interrupt_id, requests = await pending_review(s, thread_id)
        status = await thread_status(s, runs.of(thread_id), thread_id)
        handles = [p.package_id for p in status.packages]
        if interrupt_id is not None:
            waiting = requested_package_ids(requests)
            reading = read_review_reply(body.message, handles, waiting)
            if reading.problem:
                numbers = [handles.index(pid) + 1 for pid in waiting]
                return sse(_said(thread_id, ask_again(reading.problem, numbers)))
            events = runs.subscribe(thread_id, _no_snapshot)
            await submit_decisions(request, s, runs, user, thread_id, reading.decisions)
            named = {p.package_id: p.company for p in status.packages}
            done_now = decisions_said(reading.decisions, handles, named)
            return sse(_chat_events(thread_id, events, user, opening=done_now))
        if status.stage == "finished" and looks_like_a_decision(body.message):
            return sse(
                _said(
                    thread_id,
                    "This search is finished: nothing is waiting for a decision. "
                    "Send what you are looking for to start a new search in this thread.",
                )
            )
    else:
        cv_path = str(uploaded_cv(settings, user, body.cv_id)) if body.cv_id else None
        if cv_path is None:
            raise HTTPException(422, "a new conversation needs cv_id: upload your CV with POST /api/cv first")
        thread_id = await new_thread(s, user, SearchRequest(query=body.message, cv_path=cv_path))
    search = SearchRequest(cv_path=cv_path, jobs_dir=str(settings.jobs_dir))
    events = runs.subscribe(thread_id, _no_snapshot)
    await start_run(request, thread_id, {"message": body.message, "request": search}, user)
    return sse(_chat_events(thread_id, events, user, opening=f"Looking for: {body.message}"))


async def _no_snapshot() -> list[Event]:
    return []


def _message(thread_id: str, text: str) -> Event:
    return {"event": "message", "data": {"thread_id": thread_id, "role": "assistant", "text": text}}


async def _said(thread_id: str, text: str) -> AsyncIterator[Event]:
    yield _message(thread_id, text)


async def _chat_events(
    thread_id: str, events: AsyncIterator[Event], user: ApiUser, opening: str = ""
) -> AsyncIterator[Event]:
    """The run's events, with the assistant saying in words what they mean."""
    if opening:
        yield _message(thread_id, opening)
    async for event in events:
        yield event
        data = event["data"]
        if event["event"] == "approval_request":
            summary = review_summary(data["progress"], data["packages"], data.get("missing", []), data["handles"])
            yield _message(thread_id, summary)
        elif event["event"] == "done" and data["stage"] == "finished":
            yield _message(thread_id, outcome_summary(data["progress"], data["packages"], user.email))
        elif event["event"] == "error":
            yield _message(thread_id, f"The run stopped: {data['message']}. Send POST {status_url(thread_id)}/resume.")


def _from_own_page(request: Request) -> bool:
    """Whether a browser sent this from one of this server's own pages; a page on another port is another origin."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    return request.headers.get("origin") == f"{request.url.scheme}://{request.headers.get('host')}"


def _page(template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(render(template, **values), status_code, headers={"Cache-Control": "no-store"})


@router.get("/review/{thread_id}", response_class=HTMLResponse)
async def review_page(
    thread_id: Annotated[str, Field(pattern=THREAD_ID)], request: Request, s: SessionDep, token: str | None = None
) -> Response:
    """The review page for a browser signed in by its session cookie; without one, the sign-in form."""
    if token is not None:
        # An old `?token=` link: the token moves to the fragment, which the sign-in form reads and no log holds.
        clean = request.url.remove_query_params("token")
        query = f"?{clean.query}" if clean.query else ""
        return RedirectResponse(f"{clean.path}{query}#{urlencode({'token': token})}", status_code=303)
    signed_in = await browser_sessions(request).find(request.cookies.get(SESSION_COOKIE))
    if signed_in is None:
        return _sign_in_form(thread_id)
    user = signed_in.user
    await owned_thread(thread_id, user, s)
    if not (TEMPLATES_DIR / "review.html.j2").is_file():
        raise HTTPException(503, "the review page is not installed (templates/review.html.j2 is missing)")
    return _page(
        "review.html.j2",
        thread_id=thread_id,
        api_base="/api",
        csrf_token=signed_in.csrf_token,
        user_name=user.name or user.email,
    )


@router.post("/review/{thread_id}/sign-in", response_class=HTMLResponse)
async def sign_in(
    thread_id: Annotated[str, Field(pattern=THREAD_ID)],
    token: Annotated[str, Form()],
    request: Request,
    settings: SettingsDep,
) -> Response:
    """The sign-in form's POST; only this server's own page may send it, so no other page signs a browser in."""
    return await _sign_in(request, settings, token, thread_id)


def _sign_in_form(thread_id: str, problem: str = "") -> HTMLResponse:
    """The sign-in form of the review page of thread_id, or of the home page (thread_id "")."""
    action = f"/review/{thread_id}/sign-in" if thread_id else "/sign-in"
    return _page("sign_in.html.j2", 401, thread_id=thread_id, action=action, problem=problem)


async def _sign_in(request: Request, settings: Settings, token: str, thread_id: str) -> Response:
    """A session cookie for the token's holder, then back to the page the form was on."""
    if not _from_own_page(request):
        raise HTTPException(403, "sign in with the form on this server's own page")
    if user_for_token(settings, token) is None:
        return _sign_in_form(thread_id, "That token is not valid: use your API token.")
    cookie = await browser_sessions(request).open(token)
    response = RedirectResponse(f"/review/{thread_id}" if thread_id else "/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(settings.browser_session_s),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/review/sign-out", status_code=204)
async def sign_out(request: Request, user: UserDep) -> Response:
    await browser_sessions(request).close(request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home_page(request: Request) -> Response:
    """Upload a CV, start a search, follow your searches and applications; without a session, the sign-in form."""
    signed_in = await browser_sessions(request).find(request.cookies.get(SESSION_COOKIE))
    if signed_in is None:
        return _sign_in_form("")
    user = signed_in.user
    return _page(
        "home.html.j2",
        api_base="/api",
        csrf_token=signed_in.csrf_token,
        user_name=user.name or user.email,
        statuses=SETTABLE_STATUSES,
        cv_types=CV_TYPES,
    )


@router.post("/sign-in", response_class=HTMLResponse, include_in_schema=False)
async def home_sign_in(token: Annotated[str, Form()], request: Request, settings: SettingsDep) -> Response:
    """The home page's sign-in form's POST, checked as the review page's is."""
    return await _sign_in(request, settings, token, "")


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    """Swagger UI from the installed package, started by templates/docs.js (the CSP allows no inline script)."""
    return _page("docs.html.j2", openapi_url="/openapi.json")


@router.get("/static/{name}")
async def static_file(name: str) -> FileResponse:
    path = STATIC_FILES.get(name)
    if path is None or not path.is_file():
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix])


# ----------------------------------------------------------------------------- the app


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; the graph opens (and the embedded database starts) when the server starts, not here."""
    settings = settings or Settings()
    if not settings.api_users():
        raise RuntimeError(
            "no API token configured: set JOBLAND_API_TOKEN (one local user) or JOBLAND_API_TOKENS (several), "
            "or start the server with `jobland serve`, which makes a token and prints it"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_session(settings) as session:
            app.state.session = session
            app.state.runs = BackgroundRuns(
                session.graph,
                session.config,
                lambda tid, error: announce_segment(app.state.session, tid, error),
                queue=WorkerQueue(session) if broker_configured(settings) else None,  # else runs here
            )
            app.state.profiling = ProfilingJobs(app.state.session.records, settings)
            app.state.watch_runs = WatchRuns()
            await app.state.profiling.resume()
            try:
                yield
            finally:
                await app.state.runs.stop()
                await app.state.profiling.stop()
                await app.state.watch_runs.stop()

    app = FastAPI(
        title="JobLand",
        summary="Screen job postings against your CV, review tailored application packages, send only what you approve.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by the /docs route from the installed Swagger UI, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.include_router(router)
    app.add_exception_handler(TooManyUploads, too_many_uploads)
    # The largest CV plus its multipart envelope; no route takes a larger body.
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.upload_max_bytes + 64 * 1024, shown_limit_bytes=settings.upload_max_bytes
    )
    app.add_middleware(SecurityHeaders)  # added last, so outermost: every answer carries the headers, 413s too
    redact_tokens_in_access_log()
    return app
