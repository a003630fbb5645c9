"""Profiling as its own resource: an uploaded CV is read into a Profile in the background, once per content.

A job is keyed by its owner and the file's content hash (the cv_id of POST /api/cv), so the same bytes are
recognised and not parsed again: an existing job is returned as it stands, a failed one too (the same bytes
fail the same way). Jobs are records in the Store; the asyncio tasks that run them belong to this process, and
the next start queues again what a crash or a stop left pending or processing. One process submits at a time
per server (the lock below); several server processes on one database could each start a job for one file.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from domain.models import ProfilingJob, utcnow
from domain.repository import Records
from domain.text import content_hash
from tools.cv_import import CVImportError, import_profile

CV_TYPES = (".pdf", ".docx", ".md", ".html", ".txt", ".json")

log = logging.getLogger(__name__)


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


class ProfilingJobs:
    """This server's profiling jobs: one asyncio task per job, at most `concurrency` files parsed at once."""

    def __init__(self, records: Records, home: Path, *, concurrency: int, max_bytes: int):
        self.records = records
        self.home = home
        self.max_bytes = max_bytes
        self._parsing = asyncio.Semaphore(concurrency)
        self._submitting = asyncio.Lock()
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def submit(self, owner: str, file_name: str, data: bytes) -> ProfilingJob:
        """The owner's job for these bytes: the existing one, or a new pending one that starts in the background."""
        profile_id = content_hash(data)
        async with self._submitting:  # the same file uploaded twice at once makes one job
            existing = await self.records.profiling_job(owner, profile_id)
            if existing is not None:
                return existing
            await asyncio.to_thread(store_upload, self.home, owner, file_name, data)
            job = ProfilingJob(profile_id=profile_id, owner=owner, file_name=file_name)
            await self.records.put_profiling_job(job)
            self._start(job)
        return job

    async def resume(self) -> None:
        """Queue again the jobs that a crash or a stop left pending or processing."""
        for job in await self.records.unfinished_profiling_jobs():
            self._start(job)

    async def stop(self) -> None:
        """Cancel the running jobs; they stay pending or processing in the Store and run at the next start."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, job: ProfilingJob) -> None:
        key = (job.owner, job.profile_id)
        task = asyncio.create_task(self._run(job), name=f"profiling {job.owner}/{job.profile_id}")
        self._tasks[key] = task
        task.add_done_callback(lambda _: self._tasks.pop(key, None))

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
                # As POST /api/cv does: a file that cannot be read is not kept, so its hash is no usable cv_id.
                await asyncio.to_thread(path.unlink, missing_ok=True)
                job = job.model_copy(update={"status": "failed", "error": str(exc).replace(path.name, job.file_name)})
            else:
                job = job.model_copy(update={"status": "completed"})
            await self.records.put_profiling_job(job.model_copy(update={"finished_at": utcnow()}))

    async def _profile(self, job: ProfilingJob, path: Path) -> None:
        """Parse the file into the stored Profile, unless that Profile exists already (any upload of these bytes)."""
        if await self.records.get_profile(job.stored_profile_id) is not None:
            return
        job.parses += 1
        await self.records.put_profiling_job(job)
        try:
            profile = await asyncio.to_thread(import_profile, path, max_bytes=self.max_bytes)
        except CVImportError:
            raise
        except Exception as exc:  # a parser bug must fail the job, not leave it processing forever
            log.exception("profiling %s failed", path)
            raise CVImportError(
                f"{path.name} could not be read ({type(exc).__name__}); give a .docx, .md or .json version of the CV."
            ) from exc
        await self.records.put_profile(profile)  # load_profile finds it and does not parse the file again
