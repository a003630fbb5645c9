"""Benchmark: the whole graph in one process against the local API world's LLM, against the bound its limits set.

    python -m bench.llm_bound [--postings 50] [--latency 1.0] [--runs 3] [--database-url URL]

Every LLM call goes to tests/local_world/openai.py (an OpenAI-compatible fake, in a process of its own)
answering a fixed `--latency` s after each request arrives, working out its answer included; each run starts
with the caches of what a text says emptied, since every run's synthesised postings are the same; the
service limits are the defaults (tools/llm.py DEFAULT_LIMITS for "openai", on tools/ratelimit.py's
ServiceLimiter). A run goes from the search to the review interrupt (that is the stretch the LLM limits
bound), then approves every ready package with no flagged claim, and delivers to the outbox (not timed). The
bound the limits set is the larger of
    calls / max_concurrency x latency    and    calls / requests_per_second (when spacing is set),
with `calls` the LLM calls the run made; the ratio is wall time over that bound. Tokens are the fake's
usage fields (prompt/completion), per schema and per approved package. The machine's busy CPU over the
timed stretch (every process: this one, the renderers, PostgreSQL) is reported too, with the CPU floor it
sets (busy CPU / cores): when that floor nears the LLM bound, the run is CPU-bound, not LLM-bound. Results go to
bench/results/llm_bound-<N>[-no-pdf].json. Without --database-url (or $DATABASE_URL) it uses the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
from langgraph.types import Command

from bench.pipeline import ROOT, _drive, fresh_database, synthesise
from jobland.agents import cv_writer, pdf_read_backs, sentence_vectors
from jobland.domain import company_facts, person, skills
from jobland.domain.models import Decision, PackageStatus, SearchRequest
from jobland.domain.repository import Records
from jobland.domain.review import requested_package_id
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from jobland.tools.embedded_postgres import resolve_database_url
from jobland.tools.embeddings import get_async_embedder
from jobland.tools.llm import DEFAULT_LIMITS
from tests.local_world.base import Reply, Request
from tests.local_world.openai import API_KEY, ChatRequest, FakeOpenAI
from tests.support.llm_answers import cv_answer, honest_letter, honest_research


class CountingOpenAI(FakeOpenAI):
    """The fake model server, keeping each answer's usage by schema (what a provider would bill)."""

    def __init__(self) -> None:
        super().__init__()
        self.usage: dict[str, Counter] = defaultdict(Counter)
        self.answered: list[float] = []  # perf_counter when each answer was sent
        self.responders.update(DossierSummary=honest_research, CVRewrite=cv_answer, LetterBody=honest_letter)
        # Each answer `latency` after its request, its working out included: the fake's CPU is not the provider's
        # latency, and spent as each answer is due it would compete with the graph reading the answers.
        self.work_within_latency = True

    def _answer(self, request: Request) -> Reply:
        reply = super()._answer(request)
        with self._lock:
            self.answered.append(time.perf_counter())
        return reply

    def _usage(self, request: ChatRequest, content: str) -> dict[str, Any]:
        usage = super()._usage(request, content)
        with self._lock:
            counted = self.usage[request.schema_name]
            counted.update(calls=1, prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"])
        return usage


def chained_bound(
    screening_calls: int,
    packages: int,
    calls: int,
    depth: int,
    latency: float,
    limits: dict[str, float],
    *,
    overlapped: bool,
) -> float:
    """The least wall time once the graph's order is counted too: each package's `calls` LLM calls, `depth` of
    them one after another (research and the CV's words at once, then the letter), after its posting's
    screening call; and unless packages were built while postings were still screened (`overlapped`), every
    screening call before the first package."""
    concurrency = int(limits.get("max_concurrency", 4))
    if overlapped:
        rounds = max(depth + 1, -(-(screening_calls + packages * calls) // concurrency))
        return rounds * latency
    package_rounds = max(depth, -(-packages * calls // concurrency)) if packages else 0
    return (-(-screening_calls // concurrency) + package_rounds) * latency


class ModelServer:
    """CountingOpenAI in a process of its own: computing its answers is the provider's work, and would
    otherwise hold this process's GIL against the graph it is timing."""

    def __init__(self, latency: float) -> None:
        spawn = multiprocessing.get_context("spawn")
        self._connection, child = spawn.Pipe()
        self._process = spawn.Process(target=_serve_model, args=(child, latency), daemon=True)

    def start(self) -> ModelServer:
        self._process.start()
        self.base_url: str = self._connection.recv()
        return self

    def stop(self) -> tuple[dict[str, Counter], list[float]]:
        """Each schema's usage, and when each answer was ready (perf_counter, the same clock in every process)."""
        self._connection.send("stop")
        usage, answered = self._connection.recv()
        self._process.join(timeout=10)
        return usage, answered


def _serve_model(connection: Connection, latency: float) -> None:
    model = CountingOpenAI().start()
    model.latency = latency
    connection.send(model.base_url)
    connection.recv()
    connection.send((dict(model.usage), list(model.answered)))
    model.stop()


def forget_texts_read() -> None:
    """Each run's postings are the same synthesised ones: the caches of what a text says (skills, terms, content
    words, dates, industries, the person's facts, sentence vectors, PDF read-backs) are emptied before each, so
    that no run reads a posting or the CV faster for an earlier run."""
    kept = (
        skills._skills,
        skills._terms,
        cv_writer.content_words,
        cv_writer._parsed,
        person._parse_date,
        company_facts._industry_words,
        sentence_vectors.sentence_vector,
    )
    for cached in kept:
        cached.cache_clear()
    person.PERSON_FACTS.clear()
    pdf_read_backs.READ_BACKS.clear()


CPUS = os.cpu_count() or 1
PACKAGE_DEPTH = 2  # a package's model calls one after another: research and the CV's words, then the letter


def busy_cpu_since(before: Any) -> float:
    """CPU seconds the whole machine spent busy since `before` (psutil.cpu_times()), over every core."""
    after = psutil.cpu_times()
    return sum(getattr(after, f) - getattr(before, f) for f in ("user", "system", "nice", "irq", "softirq"))


def llm_bound(calls: int, latency: float, limits: dict[str, float]) -> float:
    """The least wall time the limits allow for `calls` calls of `latency` s each."""
    concurrency = int(limits.get("max_concurrency", 4))
    bound = -(-calls // concurrency) * latency
    if rate := limits.get("requests_per_second"):
        bound = max(bound, (calls - 1) / rate + latency)
    return bound


async def one_run(server_url: str, postings: int, latency: float, render_pdf: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="jobland-llm-bound-"))
    synthesise(postings, work / "jobs")
    home = work / "home"
    home.mkdir()
    forget_texts_read()
    model = ModelServer(latency).start()
    try:
        context = Context(
            user_email="bench@example.com",
            home=str(home),
            render_pdf=render_pdf,
            llm_base_url=model.base_url,
            llm_api_key=API_KEY,
        )
        request = SearchRequest(cv_path=str(ROOT / "examples" / "cv" / "alex-morgan.md"), jobs_dir=str(work / "jobs"))
        config = {"configurable": {"thread_id": uuid.uuid4().hex}}
        async with fresh_database(server_url) as url, open_graph(url, home) as graph:
            stages: dict[str, float] = {}
            cpu_before = psutil.cpu_times()
            start = time.perf_counter()
            await _drive(graph, {"request": request}, config, context, stages)
            wall = time.perf_counter() - start
            busy_cpu = busy_cpu_since(cpu_before)
            state = await graph.aget_state(config)
            packages = await Records(graph.store).packages(state.values["thread_id"])
            approvable = {p.id for p in packages if p.status == PackageStatus.ready and not p.flagged_claims}
            if state.interrupts:
                pending = state.interrupts[0]
                decisions = [
                    Decision(
                        package_id=requested_package_id(r),
                        action="accept" if requested_package_id(r) in approvable else "reject",
                    )
                    for r in pending.value
                ]
                resume = Command(resume={pending.id: [d.model_dump() for d in decisions]})
                await graph.ainvoke(resume, config, context=context, durability="sync")
            statuses = Counter(p.status.value for p in packages)
            errors = sorted({p.error for p in packages if p.error})
    finally:
        counted_usage, answered = model.stop()
    usage = {schema: dict(counted) for schema, counted in sorted(counted_usage.items())}
    package_schemas = ("DossierSummary", "CVRewrite", "LetterBody")  # each package's calls: 2 at once, then 1
    calls = sum(u["calls"] for u in usage.values())
    if not calls:
        raise SystemExit(
            f"the run made no LLM call, so no LLM bound to compare with: {postings} synthesised postings left "
            "no candidate for the screener; give --postings 20 or more."
        )
    bound = llm_bound(calls, latency, DEFAULT_LIMITS)
    approved = max(len(approvable), 1)
    package_usage = [usage.get(s, {}) for s in package_schemas]
    first_call = min(answered) - latency - start
    overlapped = bool(state.values.get("screening_builds"))
    chained = chained_bound(
        usage.get("JobScreeningOutput", {}).get("calls", 0),
        len(packages),
        len(package_schemas),
        PACKAGE_DEPTH,
        latency,
        DEFAULT_LIMITS,
        overlapped=overlapped,
    )
    return {
        "wall_s": round(wall, 3),
        "first_llm_call_at_s": round(first_call, 3),
        "llm_stretch_s": round(wall - first_call, 3),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "bound_s": bound,
        "ratio": round(wall / bound, 3),
        "chained_bound_s": chained,
        "built_while_screening": overlapped,
        "ratio_to_chained": round(wall / chained, 3),
        "cpus": CPUS,
        "busy_cpu_s": round(busy_cpu, 2),
        "cpu_floor_s": round(busy_cpu / CPUS, 2),
        "llm_calls": calls,
        "packages": dict(statuses),
        "package_errors": errors,
        "approved": len(approvable),
        "usage_by_schema": usage,
        "per_approved_package": {
            "llm_calls": round(calls / approved, 2),
            "prompt_tokens": round(sum(u.get("prompt_tokens", 0) for u in usage.values()) / approved, 1),
            "completion_tokens": round(sum(u.get("completion_tokens", 0) for u in usage.values()) / approved, 1),
            "package_step_calls": round(sum(u.get("calls", 0) for u in package_usage) / approved, 2),
            "package_step_prompt_tokens": round(sum(u.get("prompt_tokens", 0) for u in package_usage) / approved, 1),
            "package_step_completion_tokens": round(
                sum(u.get("completion_tokens", 0) for u in package_usage) / approved, 1
            ),
        },
    }


async def run(args: argparse.Namespace) -> dict:
    server_url = resolve_database_url(args.database_url, Path(tempfile.mkdtemp(prefix="jobland-llm-bound-db-")))
    get_async_embedder()  # the embedding model loaded before any clock starts
    runs = []
    for index in range(args.runs):
        result = await one_run(server_url, args.postings, args.latency, not args.no_pdf)
        runs.append(result)
        print(
            f"run {index + 1}: {result['wall_s']:.2f} s against a bound of {result['bound_s']:.2f} s "
            f"({result['ratio']:.2f}x; {result['ratio_to_chained']:.2f}x of the {result['chained_bound_s']:.0f} s "
            f"the graph's order allows); CPU floor {result['cpu_floor_s']:.1f} s ({result['busy_cpu_s']:.1f} s busy over "
            f"{result['cpus']} cores); first LLM call at {result['first_llm_call_at_s']:.2f} s; "
            f"stages {result['stages_s']}; {result['llm_calls']} LLM calls; packages {result['packages']}; "
            f"per approved package {result['per_approved_package']}; errors {result['package_errors']}",
            flush=True,
        )
    walls = [r["wall_s"] for r in runs]
    return {
        "postings": args.postings,
        "latency_s": args.latency,
        "limits": DEFAULT_LIMITS,
        "render_pdf": not args.no_pdf,
        "wall_s_median": statistics.median(walls),
        "ratio_median": statistics.median(r["ratio"] for r in runs),
        "ratio_range": [min(r["ratio"] for r in runs), max(r["ratio"] for r in runs)],
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postings", type=int, default=50)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the fake model takes per call")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pdf", action="store_true", help="do not render PDFs (the LLM-only floor)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    summary = asyncio.run(run(args))
    print(
        f"median {summary['wall_s_median']:.2f} s, ratio {summary['ratio_median']:.2f}x "
        f"(range {summary['ratio_range'][0]:.2f}-{summary['ratio_range'][1]:.2f}x)"
    )
    out = ROOT / "bench" / "results" / f"llm_bound-{args.postings}{'-no-pdf' if args.no_pdf else ''}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
