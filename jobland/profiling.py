"""Profiling as its own resource: an uploaded CV is read into a Profile in the background, once per content.

A job is keyed by its owner and the file's content hash (the cv_id of POST /api/cv), so the same bytes are
recognised and not parsed again: an existing job is returned as it stands, a failed one too (the same bytes
fail the same way). Jobs are records in the Store; the asyncio tasks that run them belong to this process, and
the next start queues again what a crash or a stop left pending or processing, but not a job whose file was
being read at each of its last MAX_PARSES starts: that file takes the server down and is failed instead. One
process submits at a time per server (the lock below); several server processes on one database could each
start a job for one file.

Every read of an uploaded file, here and for POST /api/cv, runs in a child process bounded in time, memory
and unpacked bytes (tools.bounded), at most `profiling_concurrency` at once and `uploads_per_user` per user.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections import Counter
from pathlib import Path

from jobland.domain.models import Profile, ProfilingJob, utcnow
from jobland.domain.repository import Records
from jobland.domain.text import content_hash
from jobland.settings import Settings
from jobland.tools.bounded import LimitExceeded, Limits, preload_in_fork_server, run_bounded, start_fork_server
from jobland.tools.cv_import import PARSER_MODULES, CVImportError, import_profile

CV_TYPES = (".pdf", ".docx", ".md", ".html", ".txt", ".json")
MAX_PARSES = 2  # reads of one file that a stopping or dying server may interrupt before its job is failed

log = logging.getLogger(__name__)

# The reads find the parsers warm even when the PDF renderers start the fork server first (cold, a read
# builds the place tables again: 1.4 s idle, over the 8 s limit on a loaded machine).
preload_in_fork_server(PARSER_MODULES)


def store_upload(home: Path, owner: str, file_name: str, data: bytes) -> Path:
    """Keep an uploaded CV under its content hash (never under a name the caller chose); returns where it is."""
    path = home / "uploads" / owner / f"{content_hash(data)}{Path(file_name).suffix.lower()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(path)
    return path


def stored_upload(home: Path, owner: str, cv_id: str) -> Path | None:
    """The owner's stored upload whose content hash is cv_id, if there is one."""
    for suffix in CV_TYPES:
        path = home / "uploads" / owner / f"{cv_id}{suffix}"
        if path.is_file():
            return path
    return None


class TooManyUploads(Exception):
    """The user has as many uploads being read as they may; retry_after: seconds after which to try again."""

    def __init__(self, limit: int, retry_after: int):
        super().__init__(f"{limit} of your CV uploads are being read already; upload again once one is done")
        self.retry_after = retry_after


class ProfilingJobs:
    """This server's reads of uploaded CVs: one asyncio task per profiling job, and POST /api/cv's reads."""

    def __init__(self, records: Records, settings: Settings):
        self.records = records
        self.home = settings.home
        self.max_bytes = settings.upload_max_bytes
        self.max_unpacked_bytes = settings.parse_max_unpacked_bytes
        self.limits = Limits(seconds=settings.parse_timeout_s, memory_bytes=settings.parse_max_memory_bytes)
        self.per_user = settings.uploads_per_user
        self._parsing = asyncio.Semaphore(settings.profiling_concurrency)
        self._submitting = asyncio.Lock()
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._uploads: Counter[str] = Counter()  # per owner: their jobs not finished, and their reads under way

    def _check_room(self, owner: str) -> None:
        """Refuse another upload of the owner's when they have as many being read as they may."""
        if self._uploads[owner] >= self.per_user:
            raise TooManyUploads(self.per_user, retry_after=math.ceil(self.limits.seconds))

    async def read(self, owner: str, file_name: str, data: bytes) -> tuple[str, Profile]:
        """Keep the owner's upload and read it now (POST /api/cv): its cv_id and Profile.

        Errors name the file as file_name; a file that cannot be read is not kept, so its hash is no usable cv_id.
        """
        self._check_room(owner)
        self._uploads[owner] += 1
        try:
            kept_before = await asyncio.to_thread(stored_upload, self.home, owner, content_hash(data))
            path = await asyncio.to_thread(store_upload, self.home, owner, file_name, data)
            try:
                async with self._parsing:
                    return path.stem, await self._parse(path, file_name)
            except BaseException:  # also a cancelled request: its file was never read
                if kept_before is None:
                    path.unlink(missing_ok=True)
                raise
        finally:
            self._uploads[owner] -= 1

    async def _parse(self, path: Path, file_name: str) -> Profile:
        parse = functools.partial(
            import_profile, path, max_bytes=self.max_bytes, max_unpacked_bytes=self.max_unpacked_bytes
        )
        try:
            return await run_bounded(parse, self.limits, preload=PARSER_MODULES)
        except CVImportError as exc:
            raise CVImportError(str(exc).replace(path.name, file_name)) from exc
        except LimitExceeded as exc:
            raise CVImportError(
                f"{file_name} could not be read within the limits for a CV (its reading {exc}); "
                "give a smaller or simpler .docx, .md or .json version of the CV."
            ) from exc
        except Exception as exc:  # a parser bug must fail the read with its reason, never answer 500
            log.exception("reading %s failed", path)
            raise CVImportError(
                f"{file_name} could not be read ({type(exc).__name__}); give a .docx, .md or .json version of the CV."
            ) from exc

    async def submit(self, owner: str, file_name: str, data: bytes) -> ProfilingJob:
        """The owner's job for these bytes: the existing one, or a new pending one that starts in the background."""
        profile_id = content_hash(data)
        async with self._submitting:  # the same file uploaded twice at once makes one job
            existing = await self.records.profiling_job(owner, profile_id)
            if existing is not None:
                return existing
            self._check_room(owner)
            await asyncio.to_thread(store_upload, self.home, owner, file_name, data)
            job = ProfilingJob(profile_id=profile_id, owner=owner, file_name=file_name)
            await self.records.put_profiling_job(job)
            self._start(job)
        return job

    async def resume(self) -> None:
        """Queue again the jobs that a crash or a stop left pending or processing, but fail a job whose file was
        being read at each of its last MAX_PARSES starts: it would take the server down at every start."""
        await asyncio.to_thread(start_fork_server, PARSER_MODULES)  # so that the first upload finds it ready
        for job in await self.records.unfinished_profiling_jobs():
            if job.status == "processing" and job.parses >= MAX_PARSES:
                path = await asyncio.to_thread(stored_upload, self.home, job.owner, job.profile_id)
                reason = CVImportError(
                    f"{job.file_name} was being read each of the {job.parses} times the server stopped, so it is not "
                    "read again; give a .docx, .md or .json version of the CV."
                )
                await self._finish(job, path, reason)
            else:
                self._start(job)

    async def stop(self) -> None:
        """Cancel the running jobs (their reads are killed); they stay pending or processing in the Store and run
        at the next start."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, job: ProfilingJob) -> None:
        """Run the job in the background; until it is done, it counts as one of its owner's uploads."""
        key = (job.owner, job.profile_id)
        task = asyncio.create_task(self._run(job), name=f"profiling {job.owner}/{job.profile_id}")
        self._tasks[key] = task
        self._uploads[job.owner] += 1

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(key, None)
            self._uploads[job.owner] -= 1

        task.add_done_callback(done)

    async def _run(self, job: ProfilingJob) -> None:
        async with self._parsing:
            path = await asyncio.to_thread(stored_upload, self.home, job.owner, job.profile_id)
            if path is None:  # the uploads folder was cleaned behind the server's back: the next upload starts over
                log.warning("the upload of profiling job %s/%s is gone; dropping the job", job.owner, job.profile_id)
                await self.records.delete_profiling_job(job.owner, job.profile_id)
                return
            job = job.model_copy(update={"status": "processing", "started_at": utcnow()})
            await self.records.put_profiling_job(job)
            try:
                await self._profile(job, path)
            except CVImportError as exc:
                await self._finish(job, path, exc)
            else:
                await self._finish(job, path, None)

    async def _finish(self, job: ProfilingJob, path: Path | None, error: CVImportError | None) -> None:
        """Store the job's outcome. As POST /api/cv does, a file that cannot be read is not kept, so its hash is no
        usable cv_id."""
        if error is not None and path is not None:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        update = {"status": "failed", "error": str(error)} if error is not None else {"status": "completed"}
        await self.records.put_profiling_job(job.model_copy(update={**update, "finished_at": utcnow()}))

    async def _profile(self, job: ProfilingJob, path: Path) -> None:
        """Parse the file into the stored Profile, unless that Profile exists already (any upload of these bytes)."""
        if await self.records.get_profile(job.stored_profile_id) is not None:
            return
        job.parses += 1
        await self.records.put_profiling_job(job)
        profile = await self._parse(path, job.file_name)
        await self.records.put_profile(profile)  # load_profile finds it and does not parse the file again
