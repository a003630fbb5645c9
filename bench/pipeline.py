"""Benchmark: the embedded pipeline on N postings synthesised from the demo set.

    python bench/pipeline.py --postings 1000 [--packages 5] [--database-url URL]

Reports wall time, time per stage, peak resident memory and checkpoint bytes per step, and writes
them to bench/results/pipeline-<N>.json. Without --database-url it uses the embedded PostgreSQL.

It also measures, in the same run, the floor of the screening stage (prepare_screening and the
screen_job fan-out): one bulk embedding call over exactly the texts the screening embeds (the profile
digest and the digests of the postings the rules leave open), timed just before the stage and just
after it (the machine's load drifts), and prints the stage's time as a multiple of their mean.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from langgraph.types import Command

from jobland.agents.screener import embedding_texts, read_search, with_search
from jobland.domain.models import Decision, SearchRequest
from jobland.domain.repository import Records
from jobland.domain.review import requested_package_id
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.tools.embedded_postgres import resolve_database_url
from jobland.tools.embeddings import MiniLMEmbedder, get_async_embedder
from jobland.tools.job_folder import load_folder
from jobland.tools.postgres import checkpoint_stats

ROOT = Path(__file__).resolve().parent.parent

CITIES = ["Berlin", "Munich", "Hamburg", "Amsterdam", "London", "Lisbon", "Vienna", "Zurich", "Paris", "Remote"]
PREFIXES = ["", "Senior ", "Staff ", "Lead ", "Junior ", "Principal "]
SUFFIXES = ["", " (Platform)", " (Payments)", " (Data)", " (Growth)", " II"]


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


async def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="jobland-bench-"))
    jobs = work / "jobs"
    synthesise(args.postings, jobs)
    home = work / "home"
    home.mkdir()
    context = Context(user_email="bench@example.com", home=str(home), render_pdf=not args.no_pdf)
    thread_id = uuid.uuid4().hex
    config = {"configurable": {"thread_id": thread_id}, "max_concurrency": args.concurrency}
    request = SearchRequest(
        cv_path=str(ROOT / "examples" / "cv" / "alex-morgan.md"), jobs_dir=str(jobs), max_packages=args.packages
    )
    stages: dict[str, float] = {}
    marks = {"start": time.perf_counter()}
    url = resolve_database_url(args.database_url, home)
    # The floor runs on a model of its own, loaded before any clock starts; the screening loads its own.
    floor_model = MiniLMEmbedder(max_tokens=context.embedding_max_tokens)
    floor: dict[str, float] = {}
    screened = 0
    async with open_graph(url, home) as graph:
        records = Records(graph.store)
        marks["database_ready"] = time.perf_counter()
        async for update in graph.astream(
            {"request": request}, config, context=context, stream_mode="updates", durability="sync"
        ):
            for node in update:
                marks[f"after_{node}"] = time.perf_counter()
            screened += "screen_job" in update
            # Measured while the graph waits for this loop, just before and just after the screening stage.
            if "discover" in update:
                values = (await graph.aget_state(config)).values
                texts = await screened_texts(records, values, request)
                floor["before_screening"] = bulk_seconds(floor_model, texts)
            elif "screen_job" in update and screened == len(values.get("posting_ids", [])):
                floor["after_screening"] = bulk_seconds(floor_model, texts)
            else:
                continue
            paused = time.perf_counter() - max(marks.values())
            marks = {k: v + paused for k, v in marks.items()}  # the pause is no stage's time
        pending = (await graph.aget_state(config)).interrupts
        if pending:
            ids = [requested_package_id(r) for r in pending[0].value]
            resume = Command(
                resume={pending[0].id: [Decision(package_id=i, action="accept").model_dump() for i in ids]}
            )
            async for update in graph.astream(
                resume, config, context=context, stream_mode="updates", durability="sync"
            ):
                for node in update:
                    marks[f"after_{node}"] = time.perf_counter()
        values = (await graph.aget_state(config)).values
        end = time.perf_counter()
    order = [
        "database_ready",
        "after_intake",
        "after_load_profile",
        "after_discover",
        "after_prepare_screening",
        "after_screen_job",
        "after_shortlist",
        "after_build_package",
        "after_review",
        "after_deliver",
        "after_record",
    ]
    previous = marks["start"]
    for name in order:
        if name in marks:
            stages[name.removeprefix("after_")] = round(marks[name] - previous, 3)
            previous = marks[name]
    screening = stages.get("prepare_screening", 0) + stages.get("screen_job", 0)
    mean_floor = sum(floor.values()) / len(floor)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # this process; PostgreSQL runs apart
    result = {
        "postings": args.postings,
        "screened": len(values.get("screenings", [])),
        "high": sum(v.probability == "High" for v in values.get("screenings", [])),
        "packages": len(values.get("packages", [])),
        "delivered": len(values.get("deliveries", [])),
        "wall_seconds": round(end - marks["start"], 2),
        "stage_seconds": stages,
        "screening_seconds": round(screening, 2),
        "embedding_floor": {
            "texts": len(texts),
            "texts_embedded_by_screening": get_async_embedder(context.embedding_max_tokens).texts_embedded,
            **{f"seconds_{k}": round(v, 3) for k, v in floor.items()},
            "seconds": round(mean_floor, 3),
        },
        "screening_over_floor": round(screening / mean_floor, 2),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "checkpoint": checkpoint_stats(url, thread_id),
    }
    shutil.rmtree(work, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postings", type=int, default=1000)
    parser.add_argument("--packages", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-pdf", action="store_true")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL"), help="default: $DATABASE_URL, else embedded"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"pipeline-{args.postings}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
