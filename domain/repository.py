"""Typed access to the records kept in the LangGraph Store, so that state carries ids only."""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Iterable
from typing import TypeVar

from langgraph.store.base import BaseStore, GetOp, PutOp
from pydantic import BaseModel

from jobland.domain.models import (
    BUILD_ORDER,
    ApplicationLogEntry,
    ApplicationPackage,
    CompanyDossier,
    DeadLetter,
    DeliveryReceipt,
    JobPosting,
    JobScreeningOutput,
    PackageStatus,
    Profile,
    ProfilingJob,
    ThreadRecord,
    WebhookCall,
)

M = TypeVar("M", bound=BaseModel)

PROFILES = ("profiles",)
POSTINGS = ("postings",)
DOSSIERS = ("dossiers",)
DELIVERIES = ("deliveries",)
DEAD_LETTERS = ("dead_letters",)
THREADS = ("threads",)
APPLICATIONS = ("applications",)
PROFILING_JOBS = ("profiling_jobs",)


def screenings_ns(profile_id: str) -> tuple[str, ...]:
    return ("screenings", profile_id)


def packages_ns(thread_id: str) -> tuple[str, ...]:
    return ("packages", thread_id)


def webhook_calls_ns(thread_id: str) -> tuple[str, ...]:
    return ("webhook_calls", thread_id)


def profiling_jobs_ns(owner: str) -> tuple[str, ...]:
    return (*PROFILING_JOBS, owner)


class RecordNotFound(LookupError):
    pass


# A package's build runs its CV layout and its letter at once, in one process (one build_package task):
# each changes its own field, read and written back under the package's lock so neither loses the other's.
_PACKAGE_LOCKS: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()


class Records:
    """The Store, seen as tables of domain records."""

    def __init__(self, store: BaseStore):
        if store is None:
            raise RuntimeError("JobLand needs a LangGraph Store; compile the graph with one (graph.builder does).")
        self.store = store

    async def _get(self, ns: tuple[str, ...], key: str, model: type[M]) -> M | None:
        item = await self.store.aget(ns, key)
        return model.model_validate(item.value) if item else None

    async def _get_many(self, ns: tuple[str, ...], keys: list[str], model: type[M]) -> dict[str, M]:
        return {key: model.model_validate(value) for key, value in (await self.get_values(ns, keys)).items()}

    async def _require(self, ns: tuple[str, ...], key: str, model: type[M]) -> M:
        found = await self._get(ns, key, model)
        if found is None:
            raise RecordNotFound(f"no {model.__name__} with id {key!r} in {'/'.join(ns)}")
        return found

    async def _put(self, ns: tuple[str, ...], key: str, record: BaseModel) -> None:
        await self.store.aput(ns, key, record.model_dump(mode="json"), index=False)

    async def _put_many(self, ns: tuple[str, ...], records: Iterable[tuple[str, BaseModel]]) -> None:
        await self.put_values(ns, {key: r.model_dump(mode="json") for key, r in records})

    async def get_values(self, ns: tuple[str, ...], keys: list[str]) -> dict[str, dict]:
        """The stored values of these keys that exist, read in batches (a few statements, not one per key)."""
        found: dict[str, dict] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            items = await self.store.abatch([GetOp(ns, key) for key in chunk])
            found.update((key, item.value) for key, item in zip(chunk, items, strict=True) if item)
        return found

    async def put_values(self, ns: tuple[str, ...], values: dict[str, dict]) -> None:
        ops = [PutOp(ns, key, value, index=False) for key, value in values.items()]
        for start in range(0, len(ops), 500):
            await self.store.abatch(ops[start : start + 500])

    # profiles -------------------------------------------------------------
    async def get_profile(self, profile_id: str) -> Profile | None:
        return await self._get(PROFILES, profile_id, Profile)

    async def profile(self, profile_id: str) -> Profile:
        return await self._require(PROFILES, profile_id, Profile)

    async def put_profile(self, profile: Profile) -> None:
        await self._put(PROFILES, profile.id, profile)

    # profiling jobs: CVs read in the background, per owner and content hash --
    async def profiling_job(self, owner: str, profile_id: str) -> ProfilingJob | None:
        return await self._get(profiling_jobs_ns(owner), profile_id, ProfilingJob)

    async def put_profiling_job(self, job: ProfilingJob) -> None:
        await self._put(profiling_jobs_ns(job.owner), job.profile_id, job)

    async def delete_profiling_job(self, owner: str, profile_id: str) -> None:
        await self.store.adelete(profiling_jobs_ns(owner), profile_id)

    async def unfinished_profiling_jobs(self) -> list[ProfilingJob]:
        """Every owner's jobs still pending or processing (as a crash or a restart left them)."""
        jobs: list[ProfilingJob] = []
        for status in ("pending", "processing"):
            offset = 0
            while items := await self.store.asearch(
                PROFILING_JOBS, filter={"status": status}, limit=500, offset=offset
            ):
                jobs += [ProfilingJob.model_validate(i.value) for i in items]
                offset += len(items)
        return jobs

    # postings -------------------------------------------------------------
    async def posting(self, posting_id: str) -> JobPosting:
        return await self._require(POSTINGS, posting_id, JobPosting)

    async def put_postings(self, postings: Iterable[JobPosting]) -> None:
        await self._put_many(POSTINGS, ((p.id, p) for p in postings))

    async def postings(self, posting_ids: list[str]) -> list[JobPosting]:
        """Many postings at once, in the order asked."""
        found = await self._get_many(POSTINGS, posting_ids, JobPosting)
        if missing := [i for i in posting_ids if i not in found]:
            raise RecordNotFound(f"no JobPosting with id {missing[0]!r} in postings ({len(missing)} missing)")
        return [found[i] for i in posting_ids]

    # screenings (cached per profile and posting) ---------------------------
    async def screening(self, profile_id: str, posting_id: str) -> JobScreeningOutput | None:
        return await self._get(screenings_ns(profile_id), posting_id, JobScreeningOutput)

    async def put_screening(self, profile_id: str, posting_id: str, screening: JobScreeningOutput) -> None:
        await self._put(screenings_ns(profile_id), posting_id, screening)

    async def screenings(self, profile_id: str, posting_ids: list[str]) -> dict[str, JobScreeningOutput]:
        return await self._get_many(screenings_ns(profile_id), posting_ids, JobScreeningOutput)

    async def put_screenings(self, profile_id: str, screenings: dict[str, JobScreeningOutput]) -> None:
        await self._put_many(screenings_ns(profile_id), screenings.items())

    # dossiers ---------------------------------------------------------------
    async def dossier(self, key: str) -> CompanyDossier | None:
        return await self._get(DOSSIERS, key, CompanyDossier)

    async def put_dossier(self, key: str, dossier: CompanyDossier) -> None:
        await self._put(DOSSIERS, key, dossier)

    # packages ---------------------------------------------------------------
    async def package(self, thread_id: str, package_id: str) -> ApplicationPackage:
        return await self._require(packages_ns(thread_id), package_id, ApplicationPackage)

    async def put_package(self, thread_id: str, package: ApplicationPackage) -> None:
        await self._put(packages_ns(thread_id), package.id, package)

    async def update_package(
        self, thread_id: str, package_id: str, *, building: PackageStatus | None = None, **fields: object
    ) -> ApplicationPackage:
        """Store `fields` into the package as it is now, beside a concurrent step of the same build; with
        `building`, the package is also moved on to that building status, through those before it, unless it
        is there or further already (research and the CV's words are written at once, in either order)."""
        lock = _PACKAGE_LOCKS.setdefault((thread_id, package_id), asyncio.Lock())
        async with lock:
            package = (await self.package(thread_id, package_id)).model_copy(update=fields)
            if building is not None and package.status in BUILD_ORDER:
                for status in BUILD_ORDER[BUILD_ORDER.index(package.status) + 1 : BUILD_ORDER.index(building) + 1]:
                    package = package.with_status(status)
            await self.put_package(thread_id, package)
        return package

    async def move_package(
        self, thread_id: str, package: ApplicationPackage, status: PackageStatus, note: str | None = None
    ) -> ApplicationPackage:
        """Store the package moved to `status`. Already there (a step re-run after a crash): stored as it is."""
        moved = package if package.status == status else package.with_status(status, note)
        await self.put_package(thread_id, moved)
        return moved

    async def package_inputs(
        self, thread_id: str, package_id: str, profile_id: str, posting_id: str
    ) -> tuple[Profile, JobPosting, ApplicationPackage]:
        """What a package-building step reads: the profile, the posting and the package so far."""
        return await asyncio.gather(
            self.profile(profile_id), self.posting(posting_id), self.package(thread_id, package_id)
        )

    async def packages(self, thread_id: str) -> list[ApplicationPackage]:
        items = await self.store.asearch(packages_ns(thread_id), limit=1000)
        return [ApplicationPackage.model_validate(i.value) for i in items]

    # deliveries: the outbox ledger that makes sending idempotent -------------
    async def delivery(self, package_id: str) -> DeliveryReceipt | None:
        return await self._get(DELIVERIES, package_id, DeliveryReceipt)

    async def put_delivery(self, receipt: DeliveryReceipt) -> None:
        await self._put(DELIVERIES, receipt.package_id, receipt)

    # dead letters: deliveries that did not go through, until the person retries or marks them sent ----------
    async def dead_letter(self, package_id: str) -> DeadLetter | None:
        return await self._get(DEAD_LETTERS, package_id, DeadLetter)

    async def put_dead_letter(self, letter: DeadLetter) -> None:
        await self._put(DEAD_LETTERS, letter.package_id, letter)

    async def dead_letters(
        self, owner: str | None = None, *, thread_id: str | None = None, open_only: bool = True
    ) -> list[DeadLetter]:
        """Newest first; an owner's, a thread's, or every one."""
        given = {"owner": owner, "thread_id": thread_id}
        filters = {k: v for k, v in given.items() if v is not None} or None
        items = await self.store.asearch(DEAD_LETTERS, filter=filters, limit=1000)
        letters = [DeadLetter.model_validate(i.value) for i in items]
        return sorted((d for d in letters if not (open_only and d.resolution)), key=lambda d: d.at, reverse=True)

    # webhook calls: one record per attempt ------------------------------------
    async def add_webhook_call(self, call: WebhookCall) -> None:
        await self._put(webhook_calls_ns(call.thread_id), uuid.uuid4().hex, call)

    async def webhook_calls(self, thread_id: str, delivery_id: str | None = None) -> list[WebhookCall]:
        """A thread's webhook attempts (of one delivery, if given), oldest first."""
        filters = {"delivery_id": delivery_id} if delivery_id else None
        items = await self.store.asearch(webhook_calls_ns(thread_id), filter=filters, limit=1000)
        return sorted((WebhookCall.model_validate(i.value) for i in items), key=lambda c: (c.at, c.attempt))

    # threads and the application log -----------------------------------------
    async def put_thread(self, record: ThreadRecord) -> None:
        await self._put(THREADS, record.thread_id, record)

    async def thread(self, thread_id: str) -> ThreadRecord | None:
        return await self._get(THREADS, thread_id, ThreadRecord)

    async def threads(self, owner: str | None = None, limit: int = 100) -> list[ThreadRecord]:
        filters = {"owner": owner} if owner is not None else None
        items = await self.store.asearch(THREADS, filter=filters, limit=limit)
        records = [ThreadRecord.model_validate(i.value) for i in items]
        return sorted(records, key=lambda r: r.created_at, reverse=True)

    async def put_applications(self, entries: Iterable[ApplicationLogEntry]) -> None:
        await self._put_many(APPLICATIONS, ((e.package_id, e) for e in entries))

    async def applications(self, limit: int = 1000) -> list[ApplicationLogEntry]:
        items = await self.store.asearch(APPLICATIONS, limit=limit)
        return [ApplicationLogEntry.model_validate(i.value) for i in items]

    async def application(self, package_id: str) -> ApplicationLogEntry | None:
        return await self._get(APPLICATIONS, package_id, ApplicationLogEntry)

    async def put_application(self, entry: ApplicationLogEntry) -> None:
        await self._put(APPLICATIONS, entry.package_id, entry)

    async def applied_to(self, owner: str, canonical_key: str) -> ApplicationLogEntry | None:
        """The owner's latest application that rules the posting with this canonical key out of new packages."""
        filters = {"owner": owner, "canonical_key": canonical_key}
        items = await self.store.asearch(APPLICATIONS, filter=filters, limit=100)
        return _latest_blocking([ApplicationLogEntry.model_validate(i.value) for i in items]).get(canonical_key)

    async def blocking_applications(self, owner: str) -> dict[str, ApplicationLogEntry]:
        """applied_to for every posting at once: by canonical key, from one pass over the owner's log."""
        entries, offset = [], 0
        while items := await self.store.asearch(APPLICATIONS, filter={"owner": owner}, limit=500, offset=offset):
            entries += [ApplicationLogEntry.model_validate(i.value) for i in items]
            offset += len(items)
        return _latest_blocking(entries)


def _latest_blocking(entries: list[ApplicationLogEntry]) -> dict[str, ApplicationLogEntry]:
    """Per canonical key, the latest application that rules the posting out of new packages."""
    latest: dict[str, ApplicationLogEntry] = {}
    for entry in sorted((e for e in entries if e.blocks_reapplying), key=lambda e: e.at):
        latest[entry.canonical_key] = entry
    return latest
