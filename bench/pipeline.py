"""Benchmark: the embedded pipeline on N postings synthesised from the demo set.

    python bench/pipeline.py --postings 1000 [--packages 5] [--rounds 5] [--database-url URL]

Reports wall time, time per stage, peak resident memory and checkpoint bytes per step, and writes
them to bench/results/pipeline-<N>.json. Without --database-url (or $DATABASE_URL) it uses the
embedded PostgreSQL.

The screening stage (prepare_screening, any screen_job tasks, shortlist) is compared with its floor:
one bulk embedding call over exactly the texts the stage embeds (the profile digest and the digests of
the postings the rules leave open), measured in the same run. The machine's load drifts, so floor
and stage are measured interleaved over --rounds rounds (floor, stage, floor in each), each round on
a fresh database with a fresh embedding cache (the stage must embed every text itself; the bench
fails if it did not). The ratio is the median over the rounds of each round's stage against the mean
of the floors just before and just after it (a paired measure: the load drifts between rounds, less
within one); the best stage over the best floor is printed too. The model is loaded and warmed before any clock starts,
for both. The last round goes on through packages, review and delivery for the other stages' times.

Store operations and SQL statements of the screening stage are counted as they happen: every op in
every Store batch, every statement the async psycopg cursors send (executemany counts one per row;
the connection pool's liveness check is an empty statement, counted apart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from langgraph.types import Command
from psycopg import sql
from psycopg.conninfo import make_conninfo

from jobland.agents.screener import embedding_texts, read_search, with_search
from jobland.domain.models import Decision, SearchRequest
from jobland.domain.repository import Records
from jobland.domain.review import requested_package_id
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.tools.embedded_postgres import resolve_database_url
from jobland.tools.embeddings import MiniLMEmbedder, get_async_embedder, get_embedder
from jobland.tools.job_folder import load_folder
from jobland.tools.postgres import checkpoint_stats

ROOT = Path(__file__).resolve().parent.parent

CITIES = ["Berlin", "Munich", "Hamburg", "Amsterdam", "London", "Lisbon", "Vienna", "Zurich", "Paris", "Remote"]
PREFIXES = ["", "Senior ", "Staff ", "Lead ", "Junior ", "Principal "]
SUFFIXES = ["", " (Platform)", " (Payments)", " (Data)", " (Growth)", " II"]
SCREENING_NODES = ("prepare_screening", "screen_job", "shortlist")
BEFORE_SCREENING = ("database_ready", "intake", "load_profile", "discover")
AFTER_SCREENING = ("build_package", "review", "deliver", "record")


def synthesise(count: int, target: Path, seed: int = 7) -> None:
    """Vary the demo postings (title, company, city, salary, paragraph order) into `count` JSON files."""

    rng = random.Random(seed)
    base = load_folder(ROOT / "examples" / "jobs", now=datetime.now(UTC)).postings
    target.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        posting = rng.choice(base)
        paragraphs = posting.description.split("\n")
        rng.shuffle(paragraphs)
        city = rng.choice(CITIES)
        low = rng.randrange(40, 120) * 1000
        data = {
            "@context": "https://schema.org",
            "@type": "JobPosting",
            "title": rng.choice(PREFIXES) + posting.title.removeprefix("Senior ") + rng.choice(SUFFIXES),
            "hiringOrganization": {"@type": "Organization", "name": f"{posting.company} {i}"},
            "jobLocation": {"@type": "Place", "address": {"addressLocality": city}},
            "jobLocationType": "TELECOMMUTE" if city == "Remote" else None,
            "datePosted": "2026-11-20",
            "validThrough": "2027-06-30",
            "baseSalary": {
                "@type": "MonetaryAmount",
                "currency": "EUR",
                "value": {"@type": "QuantitativeValue", "minValue": low, "maxValue": low + 20000, "unitText": "YEAR"},
            },
            "description": "\n".join(paragraphs),
            "skills": ", ".join(posting.skills),
            "qualifications": "\n".join(posting.qualifications),
            "responsibilities": "\n".join(posting.responsibilities),
        }
        (target / f"posting-{i:04d}.json").write_text(json.dumps(data))


async def screened_texts(records: Records, values: dict, request: SearchRequest) -> list[str]:
    """The texts the screening embeds for this run (each once): the rules decide, as in the screener."""
    profile = with_search(await records.profile(values["profile_id"]), request)
    postings = await records.postings(values.get("posting_ids", []))
    texts = embedding_texts(profile, postings, datetime.now(UTC), read_search(request.query))
    return list(dict.fromkeys(texts))


def bulk_seconds(model: MiniLMEmbedder, texts: list[str]) -> float:
    start = time.perf_counter()
    model.embed(texts)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- counting Store ops and SQL


@dataclass
class Tally:
    """Store batches and their ops, SQL statements by the table they touch; reset per measured stage."""

    store_batches: int = 0
    store_ops: Counter = field(default_factory=Counter)
    sql: Counter = field(default_factory=Counter)

    def reset(self) -> None:
        self.store_batches, self.store_ops, self.sql = 0, Counter(), Counter()

    def snapshot(self) -> Tally:
        return Tally(self.store_batches, Counter(self.store_ops), Counter(self.sql))

    def per_posting(self, postings: int) -> dict:
        def each(count: int) -> float:
            return round(count / max(postings, 1), 3)

        statements = sum(n for kind, n in self.sql.items() if kind != "pool check")
        return {
            "store_ops": each(sum(self.store_ops.values())),
            "store_batches": each(self.store_batches),
            "store_ops_by_kind": {k: each(v) for k, v in sorted(self.store_ops.items())},
            "sql_statements": each(statements),
            "sql_by_table": {k: each(v) for k, v in sorted(self.sql.items())},
        }


TALLY = Tally()


def _table(query: object) -> str:
    text = query.decode() if isinstance(query, bytes) else str(query)
    if not text.strip():
        return "pool check"
    for table in ("checkpoint_writes", "checkpoint_blobs", "checkpoints", "store"):
        if table in text:
            return table
    return "other"


@contextmanager
def counting_sql() -> Iterator[None]:
    """Every statement the async psycopg cursors send, by table (both the checkpointer and the Store use them)."""
    cursor = psycopg.AsyncCursor
    execute, executemany = cursor.execute, cursor.executemany

    async def counted_execute(self, query, params=None, **kwargs):
        TALLY.sql[_table(query)] += 1
        return await execute(self, query, params, **kwargs)

    async def counted_executemany(self, query, params_seq, **kwargs):
        params_seq = list(params_seq)
        TALLY.sql[_table(query)] += len(params_seq)
        return await executemany(self, query, params_seq, **kwargs)

    cursor.execute, cursor.executemany = counted_execute, counted_executemany
    try:
        yield
    finally:
        cursor.execute, cursor.executemany = execute, executemany


@contextmanager
def counting_store_ops(store) -> Iterator[None]:
    """Every Store read and write goes through abatch (aget, aput, asearch included): count its ops."""
    batch = store.abatch

    async def counted(ops):
        ops = list(ops)
        TALLY.store_batches += 1
        TALLY.store_ops.update(type(op).__name__ for op in ops)
        return await batch(ops)

    store.abatch = counted
    try:
        yield
    finally:
        del store.abatch  # no cycle left behind: the Store's batching task ends with it


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A database of its own on the server, dropped afterwards: no vector or verdict from an earlier round."""
    name = f"jobland_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


# --------------------------------------------------------------------------- one round


@dataclass
class Round:
    stages: dict[str, float]
    screening_seconds: float
    texts: list[str]
    texts_embedded: int
    tally: Tally
    values: dict
    checkpoint: dict | None = None


async def _drive(graph, payload, config, context: Context, stages: dict[str, float], **kwargs) -> None:
    """Run the graph until it pauses or ends, adding each node's time (since the previous update) to stages."""
    last, node = time.perf_counter(), None
    async for update in graph.astream(
        payload, config, context=context, stream_mode="updates", durability="sync", **kwargs
    ):
        now = time.perf_counter()
        for name in update:
            if name != "__interrupt__":
                node = name
                stages[node] = stages.get(node, 0.0) + now - last
        last = now
    if node is not None:  # what follows the last update (its checkpoint write) belongs to the last node
        stages[node] += time.perf_counter() - last


async def screening_round(
    server_url: str, home: Path, request: SearchRequest, context: Context, concurrency: int, floor, *, last: bool
) -> Round:
    """One pipeline run on a fresh database: the screening stage timed and counted between two floors
    (`floor(texts)` is called just before and just after it); the last round goes on to the end."""
    get_async_embedder.cache_clear()  # a fresh cache, so the stage embeds every text itself
    thread_id = uuid.uuid4().hex
    config = {"configurable": {"thread_id": thread_id}, "max_concurrency": concurrency}
    stages: dict[str, float] = {}
    start = time.perf_counter()
    async with fresh_database(server_url) as url, open_graph(url, home) as graph:
        stages["database_ready"] = time.perf_counter() - start
        await _drive(graph, {"request": request}, config, context, stages, interrupt_before=["prepare_screening"])
        texts = await screened_texts(Records(graph.store), (await graph.aget_state(config)).values, request)
        floor(texts)
        with counting_store_ops(graph.store):
            TALLY.reset()
            begin = time.perf_counter()
            await _drive(graph, None, config, context, stages, interrupt_before=["build_package"])
            screening_seconds = time.perf_counter() - begin
            tally = TALLY.snapshot()
        texts_embedded = get_async_embedder(context.embedding_max_tokens).texts_embedded
        floor(texts)
        if last:
            await _finish(graph, config, context, stages)
        values = (await graph.aget_state(config)).values
        checkpoint = checkpoint_stats(url, thread_id) if last else None
    return Round(stages, screening_seconds, texts, texts_embedded, tally, values, checkpoint)


async def _finish(graph, config: dict, context: Context, stages: dict[str, float]) -> None:
    """From before build_package to the end, accepting every package at the review."""
    state = await graph.aget_state(config)
    if state.next:
        await _drive(graph, None, config, context, stages)
        state = await graph.aget_state(config)
    if state.interrupts:
        pending = state.interrupts[0]
        decisions = [Decision(package_id=requested_package_id(r), action="accept") for r in pending.value]
        await _drive(graph, Command(resume={pending.id: [d.model_dump() for d in decisions]}), config, context, stages)


async def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="jobland-bench-"))
    jobs = work / "jobs"
    synthesise(args.postings, jobs)
    home = work / "home"
    home.mkdir()
    context = Context(user_email="bench@example.com", home=str(home), render_pdf=not args.no_pdf)
    request = SearchRequest(
        cv_path=str(ROOT / "examples" / "cv" / "alex-morgan.md"), jobs_dir=str(jobs), max_packages=args.packages
    )
    server_url = resolve_database_url(args.database_url, home)
    # Both models loaded and warmed before any clock starts: the floor on one of its own, the stage on the
    # process-wide one it uses.
    floor_model = MiniLMEmbedder(max_tokens=context.embedding_max_tokens)
    for model in (floor_model, get_embedder(context.embedding_max_tokens)):
        model.embed(["warm up the model"])
    floors: list[float] = []

    def floor(texts: list[str]) -> None:
        floors.append(bulk_seconds(floor_model, texts))

    rounds: list[Round] = []
    try:
        with counting_sql():
            for number in range(1, args.rounds + 1):
                last = number == args.rounds
                rounds.append(
                    await screening_round(server_url, home, request, context, args.concurrency, floor, last=last)
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary(args, rounds, floors)


def summary(args: argparse.Namespace, rounds: list[Round], floors: list[float]) -> dict:
    last = rounds[-1]
    for number, measured in enumerate(rounds, start=1):
        if measured.texts_embedded != len(measured.texts):
            raise SystemExit(
                f"round {number}: the screening embedded {measured.texts_embedded} texts, the floor "
                f"{len(measured.texts)}; they would not compare like with like"
            )
    stage_times = [r.screening_seconds for r in rounds]
    # Each round's stage against the floors just before and just after it.
    per_round = [s / statistics.mean(floors[2 * i : 2 * i + 2]) for i, s in enumerate(stage_times)]
    values = last.values
    order = [*BEFORE_SCREENING, *SCREENING_NODES, *AFTER_SCREENING]
    stages = {name: round(last.stages[name], 3) for name in order if name in last.stages}
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # this process; PostgreSQL runs apart
    return {
        "postings": args.postings,
        "screened": len(values.get("screenings", [])),
        "high": sum(v.probability == "High" for v in values.get("screenings", [])),
        "packages": len(values.get("packages", [])),
        "delivered": len(values.get("deliveries", [])),
        "wall_seconds": round(sum(last.stages.values()), 2),
        "stage_seconds": stages,
        "screening": {
            "stage": "+".join(SCREENING_NODES),
            "seconds_per_round": [round(s, 3) for s in stage_times],
            "floor_texts": len(last.texts),
            "floor_seconds_before_and_after": [round(f, 3) for f in floors],
            "over_floor_per_round": [round(r, 2) for r in per_round],
            "best_seconds": round(min(stage_times), 3),
            "best_floor_seconds": round(min(floors), 3),
            "per_posting": last.tally.per_posting(args.postings),
        },
        "screening_over_floor": round(statistics.median(per_round), 2),
        "best_screening_over_best_floor": round(min(stage_times) / min(floors), 2),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "checkpoint": last.checkpoint,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postings", type=int, default=1000)
    parser.add_argument("--packages", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved floor/stage measurements (default 5)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-pdf", action="store_true")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL"), help="default: $DATABASE_URL, else embedded"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    result = asyncio.run(run(args))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"pipeline-{args.postings}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    screening, per = result["screening"], result["screening"]["per_posting"]
    print(
        f"screening stage {screening['best_seconds']} s (best of {args.rounds}), bulk-embedding floor "
        f"{screening['best_floor_seconds']} s for the same {screening['floor_texts']} texts: "
        f"{result['screening_over_floor']}x (median of the rounds {screening['over_floor_per_round']}; best over "
        f"best {result['best_screening_over_best_floor']}x); per posting "
        f"{per['store_ops']} Store ops in {per['store_batches']} batches, {per['sql_statements']} SQL statements"
    )


if __name__ == "__main__":
    main()
