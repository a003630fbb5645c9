"""JobLand over HTTP: thin FastAPI routes over the graph, runs in the background, events over SSE.

Start it with `jobland serve`, or `uvicorn server:create_app --factory`. OpenAPI docs are at /docs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from agents.cv_writer import plan_cv, render_cv
from agents.review import requested_package_id, requested_package_ids
from domain.models import (
    ApplicationPackage,
    DeadLetter,
    Decision,
    Profile,
    ProfilingJob,
    ProfilingStatus,
    SearchRequest,
    StatusChange,
    ThreadRecord,
    WebhookCall,
)
from domain.repository import RecordNotFound
from domain.text import slug
from graph.builder import open_graph
from graph.context import Context
from jobland.api_runs import BackgroundRuns, Event, Progress, ThreadRun
from jobland.chat import ask_again, outcome_summary, read_review_reply, review_summary
from jobland.deliveries import DeadLetterResolved, mark_delivered, open_dead_letter, retry_delivery
from jobland.profiling import CV_TYPES, ProfilingJobs, store_upload, stored_upload
from jobland.session import Session, pending_review, review_requests
from jobland.settings import ApiUser, Settings
from jobland.webhooks import announce_segment, check_run_webhook
from templates import TEMPLATES_DIR, render
from tools.cv_import import CVImportError, import_profile
from tools.webhooks import WebhookURLError

TOKEN_COOKIE = "jobland_token"
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
STATIC_FILES = {"review.js": "text/javascript; charset=utf-8", "review.css": "text/css; charset=utf-8"}

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


class ThreadListItem(BaseModel):
    thread_id: str
    created_at: datetime
    stage: Stage
    query: str


class PackageDetail(ApplicationPackage):
    master_cv_markdown: str = Field(description="The master CV laid out like the tailored one, for a diff.")


class DecisionsRequest(BaseModel):
    decisions: list[Decision] = Field(min_length=1)


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


def current_user(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiUser:
    # The review page cannot send a header when the browser navigates: it has the cookie instead.
    token = credentials.credentials if credentials else request.cookies.get(TOKEN_COOKIE)
    user = user_for_token(settings, token)
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
        if snapshot.interrupts:
            stage = "awaiting_review"
        elif run is not None and run.error:
            stage = "failed"
        elif snapshot.next or not values:
            stage = "interrupted"
        else:
            stage = "finished"
    stored = {p.id: p for p in await s.records.packages(thread_id)}
    packages = [PackageSummary.of(stored[r.package_id]) for r in values.get("packages", []) if r.package_id in stored]
    _, requests = review_requests(snapshot)  # the snapshot read above; no second read
    return ThreadStatus(
        thread_id=thread_id,
        stage=stage,
        error=run.error if run is not None else None,
        progress=ProgressOut(**progress.counts()),
        packages=packages,
        awaiting_review=requested_package_ids(requests),
        missing=requested_package_ids(requests, missing=True),
        dead_letters=await s.records.dead_letters(thread_id=thread_id, open_only=False),
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
                },
            }
        )
    elif status.progress.delivered:
        sent = [p.model_dump(mode="json") for p in status.packages if p.status == "sent"]
        events.append({"event": "delivered", "data": {"thread_id": thread_id, "packages": sent}})
    events.append({"event": "done", "data": status.model_dump(mode="json")})
    return events


def start_run(request: Request, thread_id: str, payload: Any, user: ApiUser, *, delivering: bool = False) -> None:
    state = request.app.state
    state.runs.start(
        thread_id,
        payload,
        user_context(state.settings, user),
        lambda tid: closing_events(state.session, tid),
        delivering=delivering,
    )


def status_url(thread_id: str) -> str:
    return f"/api/threads/{thread_id}"


async def submit_decisions(
    request: Request, s: Session, runs: BackgroundRuns, user: ApiUser, thread_id: str, decisions: list[Decision]
) -> None:
    """Resume the review interrupt once: the per-thread lock and the pending check make a second try a 409."""
    run = runs.of(thread_id)
    async with run.lock:
        if run.running:
            raise HTTPException(
                409, f"thread {thread_id} is busy with a run; wait for it (GET {status_url(thread_id)})"
            )
        interrupt_id, requests = await pending_review(s, thread_id)
        if interrupt_id is None:
            raise HTTPException(409, f"thread {thread_id} is not waiting for review; GET {status_url(thread_id)}")
        pending = {requested_package_id(r) for r in requests}
        known = {p.id for p in await s.records.packages(thread_id)}
        if unknown := sorted({d.package_id for d in decisions} - known):
            raise HTTPException(422, f"unknown package id(s) {unknown}; GET {status_url(thread_id)}/packages")
        if decided := sorted({d.package_id for d in decisions} - pending):
            raise HTTPException(409, f"package(s) {decided} were decided already")
        missing = set(requested_package_ids(requests, missing=True))
        if mismatched := sorted(
            d.package_id
            for d in decisions
            if d.action != "reject" and (d.action == "retry") != (d.package_id in missing)
        ):
            raise HTTPException(
                422,
                f"package(s) {mismatched}: 'retry' is for packages that could not be built (status.missing), "
                "accept/edit for ready ones; reject works for both",
            )
        resume = Command(resume={interrupt_id: [d.model_dump() for d in decisions]})
        start_run(request, thread_id, resume, user, delivering=True)


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


async def checked_cv_file(file: UploadFile, settings: SettingsDep) -> CVFile:
    """The upload's type, size and content, checked before anything is stored or parsed."""
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


@router.post("/api/cv", status_code=201)
async def upload_cv(user: UserDep, cv: CVFileDep, s: SessionDep, settings: SettingsDep) -> CVUploaded:
    """Upload a master CV (PDF, DOCX, Markdown, HTML, text or JSON Resume); the same file gives the same cv_id."""
    path = await asyncio.to_thread(store_upload, settings.home, user.user_id, cv.name, cv.data)
    try:
        profile = await asyncio.to_thread(import_profile, path)
    except CVImportError as exc:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise HTTPException(422, str(exc).replace(path.name, cv.name)) from exc
    await s.records.put_profile(profile)  # load_profile finds it and does not parse the file again
    return CVUploaded(
        cv_id=path.stem, name=profile.basics.name, sections=profile.sections, highlights=len(profile.all_highlights())
    )


def profile_status_url(profile_id: str) -> str:
    return f"/api/profiles/{profile_id}"


@router.post("/api/profiles", status_code=202)
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
    given = body.model_dump(include={"query", "locations", "max_packages"}, exclude_none=True)
    search = SearchRequest(cv_path=str(cv_path), jobs_dir=str(settings.jobs_dir), **given)
    if body.webhook_url:
        try:
            await check_run_webhook(settings, body.webhook_url)
        except WebhookURLError as exc:
            raise HTTPException(422, str(exc)) from None
    thread_id = await new_thread(s, user, search, webhook_url=body.webhook_url)
    payload: dict[str, Any] = {"request": search}
    if body.message:
        payload["message"] = body.message
    start_run(request, thread_id, payload, user)
    return ThreadCreated(
        thread_id=thread_id, status_url=status_url(thread_id), events_url=f"/api/threads/{thread_id}/events"
    )


async def new_thread(s: Session, user: ApiUser, search: SearchRequest, webhook_url: str | None = None) -> str:
    """A thread id, owned by user from now on (intake keeps this record)."""
    thread_id = uuid.uuid4().hex[:12]
    record = ThreadRecord(thread_id=thread_id, owner=user.user_id, request=search, webhook_url=webhook_url)
    await s.records.put_thread(record)
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
    master = await asyncio.to_thread(lambda: render_cv(plan_cv(profile, posting, max_lines=10_000)).markdown)
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
    body: DecisionsRequest, thread: ThreadDep, request: Request, user: UserDep, s: SessionDep, runs: RunsDep
) -> Accepted:
    """Accept, edit or reject packages awaiting review, or retry missing ones; approved ones are then delivered."""
    await submit_decisions(request, s, runs, user, thread.thread_id, body.decisions)
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
        start_run(request, letter.thread_id, payload, user, delivering=True)
    return Accepted(status_url=status_url(letter.thread_id))


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
        # A run stopped before its first checkpoint starts again from the request it was given.
        payload = None if snapshot.values else {"request": thread.request}
        start_run(request, thread.thread_id, payload, user)
    return Accepted(status_url=status_url(thread.thread_id))


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
        if interrupt_id is not None:
            ids = requested_package_ids(requests)
            reading = read_review_reply(body.message, ids)
            if reading.problem:
                return sse(_said(thread_id, ask_again(reading.problem, len(ids))))
            events = runs.subscribe(thread_id, _no_snapshot)
            await submit_decisions(request, s, runs, user, thread_id, reading.decisions)
            return sse(_chat_events(thread_id, events, user))
    else:
        cv_path = str(uploaded_cv(settings, user, body.cv_id)) if body.cv_id else None
        if cv_path is None:
            raise HTTPException(422, "a new conversation needs cv_id: upload your CV with POST /api/cv first")
        thread_id = await new_thread(s, user, SearchRequest(query=body.message, cv_path=cv_path))
    search = SearchRequest(cv_path=cv_path, jobs_dir=str(settings.jobs_dir))
    events = runs.subscribe(thread_id, _no_snapshot)
    start_run(request, thread_id, {"message": body.message, "request": search}, user)
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
            yield _message(thread_id, review_summary(data["progress"], data["packages"], data.get("missing", [])))
        elif event["event"] == "done" and data["stage"] == "finished":
            yield _message(thread_id, outcome_summary(data["progress"], data["packages"], user.email))
        elif event["event"] == "error":
            yield _message(thread_id, f"The run stopped: {data['message']}. Send POST {status_url(thread_id)}/resume.")


def _authorised_page_user(request: Request, settings: Settings) -> ApiUser:
    authorization = request.headers.get("authorization", "")
    token = authorization.removeprefix("Bearer ").strip() or request.cookies.get(TOKEN_COOKIE)
    user = user_for_token(settings, token)
    if user is None:
        raise HTTPException(401, "open the review link with ?token=<your API token> once; a cookie keeps you signed in")
    return user


@router.get("/review/{thread_id}", response_class=HTMLResponse)
async def review_page(
    thread_id: str, request: Request, s: SessionDep, settings: SettingsDep, token: str | None = None
) -> Response:
    """The review page; ?token= signs the browser in with an HttpOnly cookie and is then dropped from the URL."""
    if token is not None:
        if user_for_token(settings, token) is None:
            raise HTTPException(401, "that token is not valid; use your API token")
        clean = request.url.remove_query_params("token")
        response = RedirectResponse(clean.path + (f"?{clean.query}" if clean.query else ""), status_code=303)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response
    user = _authorised_page_user(request, settings)
    await owned_thread(thread_id, user, s)
    if not (TEMPLATES_DIR / "review.html.j2").is_file():
        raise HTTPException(503, "the review page is not installed (templates/review.html.j2 is missing)")
    return HTMLResponse(render("review.html.j2", thread_id=thread_id, api_base="/api"))


@router.get("/static/{name}")
async def static_file(name: str) -> FileResponse:
    if name not in STATIC_FILES or not (TEMPLATES_DIR / name).is_file():
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(TEMPLATES_DIR / name, media_type=STATIC_FILES[name])


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
        settings.home.mkdir(parents=True, exist_ok=True)
        graph: CompiledStateGraph
        async with open_graph(settings.database_url, settings.home, settings.node_timeouts) as graph:
            app.state.session = Session(settings, graph)
            app.state.runs = BackgroundRuns(
                graph, app.state.session.config, lambda tid, error: announce_segment(app.state.session, tid, error)
            )
            app.state.profiling = ProfilingJobs(
                app.state.session.records,
                settings.home,
                concurrency=settings.profiling_concurrency,
                max_bytes=settings.upload_max_bytes,
            )
            await app.state.profiling.resume()
            try:
                yield
            finally:
                await app.state.runs.stop()
                await app.state.profiling.stop()

    app = FastAPI(
        title="JobLand",
        summary="Screen job postings against your CV, review tailored application packages, send only what you approve.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(router)
    return app
