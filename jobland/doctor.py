"""`jobland doctor`: which provider each role uses, and whether each configured service answers.

Secrets are never shown: keys are reported as set or not, URLs without credentials.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
from dataclasses import dataclass

import httpx
import psycopg

from jobland.graph.context import Context
from jobland.settings import Settings
from jobland.tools.embedded_postgres import resolve_database_url
from jobland.tools.mailers import make_mailer
from jobland.tools.pdf import RENDERER_PROCESSES, PdfRenderError, harfbuzz_subsets_fonts, render_pdf

SERPAPI_DEFAULT = "https://serpapi.com"
EXA_DEFAULT = "https://api.exa.ai"
TIMEOUT = 10.0


@dataclass
class Check:
    role: str
    provider: str
    ok: bool | None  # None: nothing to check (embedded, offline)
    detail: str


def public_url(url: str) -> str:
    """A URL without user:password@ and without query (where API keys travel)."""
    return re.sub(r"//[^/@]+@", "//", url).split("?", 1)[0]


def _llm_roles(context: Context) -> str:
    if not context.llm_base_url:
        return "embedded engine (rules, embeddings, templates)"
    models = {
        role: context.llm_role_models.get(role, context.llm_model)
        for role in ("screener", "researcher", "writer", "intake")
    }
    return ", ".join(f"{role}: {model}" for role, model in models.items()) + f" @ {public_url(context.llm_base_url)}"


def check_database(settings: Settings) -> Check:
    provider = (
        "PostgreSQL at DATABASE_URL"
        if settings.database_url
        else f"embedded PostgreSQL under {settings.home / 'pgdata'}"
    )
    try:
        url = resolve_database_url(settings.database_url, settings.home)
        with psycopg.connect(url, connect_timeout=int(TIMEOUT)) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        return Check("checkpoints and records", provider, True, f"PostgreSQL {version} answers")
    except Exception as exc:  # any failure is reported, never raised: doctor lists them all
        return Check("checkpoints and records", provider, False, f"{exc}; check DATABASE_URL or unset it")


def check_llm(context: Context) -> Check:
    provider = _llm_roles(context)
    if not context.llm_base_url:
        return Check("LLM agents", provider, None, "no key needed")
    headers = {"Authorization": f"Bearer {context.llm_api_key}"} if context.llm_api_key else {}
    return _http("LLM agents", provider, "GET", context.llm_base_url.rstrip("/") + "/models", headers=headers)


def check_sources(context: Context) -> list[Check]:
    checks = []
    for source in context.job_sources:
        if source == "folder":
            checks.append(Check("job discovery", "folder of postings (per run)", None, "no key needed"))
        elif source == "serpapi":
            if not context.serpapi_api_key:
                checks.append(Check("job discovery", "SerpAPI google_jobs", False, "set SERPAPI_API_KEY"))
                continue
            base = context.serpapi_base_url or SERPAPI_DEFAULT
            checks.append(
                _http(
                    "job discovery",
                    f"SerpAPI google_jobs @ {public_url(base)}",
                    "GET",
                    base.rstrip("/") + "/account",
                    params={"api_key": context.serpapi_api_key},
                )
            )
        elif source == "exa":
            checks.append(_exa_check("job discovery", context))
        elif source == "jobspy":
            installed = importlib.util.find_spec("jobspy") is not None
            detail = "scrapes the boards' sites: their terms apply" if installed else "pip install 'jobland[jobspy]'"
            checks.append(Check("job discovery", f"JobSpy ({', '.join(context.jobspy_sites)})", installed, detail))
        else:
            checks.append(
                Check("job discovery", source, False, 'unknown source: use "folder", "serpapi", "exa" or "jobspy"')
            )
    for service, boards in context.boards.items():
        checks.append(
            Check("job discovery", f"{service} boards: {', '.join(boards)}", None, "public API, no key needed")
        )
    return checks


def _exa_check(role: str, context: Context) -> Check:
    if not context.exa_api_key:
        return Check(role, "Exa", False, "set EXA_API_KEY")
    base = context.exa_base_url or EXA_DEFAULT
    return _http(
        role,
        f"Exa @ {public_url(base)}",
        "POST",
        base.rstrip("/") + "/search",
        headers={"x-api-key": context.exa_api_key},
        json={"query": "jobland doctor", "numResults": 1},
    )


def check_research(context: Context) -> Check:
    if context.exa_api_key and context.llm_base_url:
        return _exa_check("company research", context)
    return Check("company research", "what the posting itself says", None, "no key needed")


def check_mailer(context: Context) -> Check:
    if context.mailer == "outbox":
        return Check("email", f"outbox folder {context.outbox_dir}", None, "no account needed")
    try:
        mailer = make_mailer(context)
        return Check("email", context.mailer, True, mailer.check())
    except Exception as exc:  # reported, not raised
        return Check("email", context.mailer, False, str(exc))


def _http(role: str, provider: str, method: str, url: str, **kwargs: object) -> Check:
    try:
        response = httpx.request(method, url, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        return Check(role, provider, False, f"no answer from {public_url(url)}: {exc.__class__.__name__}")
    if response.status_code >= 400:
        return Check(role, provider, False, f"{public_url(url)} answered HTTP {response.status_code}: check the key")
    try:
        body = response.json()
    except ValueError:
        return Check(role, provider, False, f"{public_url(url)} did not answer JSON")
    if isinstance(body, dict) and body.get("error"):
        return Check(role, provider, False, f"{public_url(url)} answered an error: check the key and plan")
    return Check(role, provider, True, f"{public_url(url)} answers")


def check_pdf(context: Context) -> Check:
    if not context.render_pdf:
        return Check("PDF documents", "off (render_pdf is false)", None, "packages carry Markdown and HTML only")
    provider = f"WeasyPrint in {RENDERER_PROCESSES} renderer process(es)"
    try:
        render_pdf("<!doctype html><html lang='en'><body><p>JobLand</p></body></html>")
    except PdfRenderError as exc:
        return Check("PDF documents", provider, False, str(exc))
    if harfbuzz_subsets_fonts():
        return Check("PDF documents", provider, True, "renders; fonts subset by HarfBuzz")
    return Check(
        "PDF documents",
        provider,
        True,
        "renders, but fonts are subset by fontTools, 4 to 10 times slower than HarfBuzz: install libharfbuzz-subset0 "
        "(Debian, Ubuntu) or harfbuzz (Homebrew)",
    )


async def run_checks(settings: Settings) -> list[Check]:
    context = settings.context()
    # The checks block (HTTP, SMTP, starting PostgreSQL); run them in threads, all at once.
    results = await asyncio.gather(
        asyncio.to_thread(check_database, settings),
        asyncio.to_thread(check_llm, context),
        asyncio.to_thread(check_sources, context),
        asyncio.to_thread(check_research, context),
        asyncio.to_thread(check_mailer, context),
        asyncio.to_thread(check_pdf, context),
    )
    checks: list[Check] = []
    for result in results:
        checks.extend(result if isinstance(result, list) else [result])
    return checks
