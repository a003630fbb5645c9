"""Company research: a dossier of sourced facts per company.

Embedded default: the posting's own sentences, each sorted into a topic (what the company does, its
products, customers, size, stage, locations, the team; mission, culture, news) by
domain.company_facts and marked as the posting's; with Exa, the sentences of the pages it finds about
the company are sorted the same way, each keeping its URL. With an LLM, the model summarises numbered
material (web pages from Exa, else the posting alone) into facts that can only cite that material by
number; code turns the numbers into the material's URLs, so a fact never carries a URL the model made
up. Either way a topic nothing speaks to stays empty, which every reader treats as "unknown" (never a
guess), and a dossier that says little says why (CompanyDossier.note).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model

from jobland.domain.company_facts import company_facts
from jobland.domain.failpoints import async_failpoint
from jobland.domain.models import (
    CompanyDossier,
    JobPosting,
    PackageStatus,
    SourcedFact,
)
from jobland.domain.posting_reader import facts_of
from jobland.domain.repository import Records
from jobland.domain.text import slug
from jobland.graph.context import Context
from jobland.graph.state import PackageBuildState
from jobland.prompts import load_prompt, quoted_data
from jobland.tools import exa
from jobland.tools.llm import llm_limiter, load_chat_model, structured_call
from jobland.tools.ratelimit import configured_limiter

MAX_FACTS_PER_TOPIC = 3
# Topics that say what the company is; a dossier without any of them says why (CompanyDossier.note).
ABOUT_TOPICS = ("business", "products", "customers", "mission")
TOPIC_HELP: dict[str, str] = {
    "business": "What the company does, in a sentence.",
    "products": "What it makes or sells.",
    "customers": "Who buys or uses it.",
    "size": "How many people, offices or countries; its scale.",
    "stage": "Founding, funding, ownership, profitability, growth stage.",
    "locations": "Where it is: headquarters, offices.",
    "team": "What the material says about the team the role joins and its work.",
    "mission": "Why the company exists, what it aims for.",
    "culture": "How it works: values, ways of working.",
    "recent_news": "Funding, launches, acquisitions and other recent events.",
}


def dossier_key(posting: JobPosting) -> str:
    """Store key of a posting's dossier: per company, and per posting since it quotes that posting."""
    return f"{slug(posting.company or 'unknown-company')}:{posting.id}"


def sourced_dossier(company: str, found: list[tuple[str, SourcedFact]]) -> CompanyDossier:
    """(topic, fact) pairs as a dossier: each text once, at most MAX_FACTS_PER_TOPIC per topic, in order."""
    facts: dict[str, list[SourcedFact]] = {topic: [] for topic in CompanyDossier.TOPICS}
    seen: set[str] = set()
    for topic, fact in found:
        if fact.text not in seen and len(facts[topic]) < MAX_FACTS_PER_TOPIC:
            facts[topic].append(fact)
            seen.add(fact.text)
    return CompanyDossier(company=company, **facts)


def posting_facts(posting: JobPosting) -> list[tuple[str, SourcedFact]]:
    """(topic, fact) for each sentence of the posting about its company, and each duty about its team."""
    prose = "\n".join(t for t in (posting.hiringOrganization.description, posting.description) if t)
    duties = [*facts_of(posting).sections.get("responsibilities", []), *posting.responsibilities]
    source = f"posting:{posting.id}"
    found = [
        (topic, SourcedFact(text=text, source=source, source_kind="job_posting"))
        for topic, text in company_facts(prose, posting.company, duties)
    ]
    if not any(topic == "locations" for topic, _ in found) and (places := facts_of(posting).places):
        # Where the posting puts the job, from its location fields: the one fact worded by JobLand.
        text = f"The posting places the job in {', '.join(a.name for a in places)}."
        found.append(("locations", SourcedFact(text=text, source=source, source_kind="job_posting")))
    return found


def why_little(dossier: CompanyDossier, *, web: str) -> str | None:
    """Why the dossier says nothing about what the company is, or None when it does."""
    if any(getattr(dossier, topic) for topic in ABOUT_TOPICS):
        return None
    name = dossier.company.strip() or "the company"
    return f"The posting says nothing about what {name} does or makes, and {web}."


def dossier_from_posting(posting: JobPosting) -> CompanyDossier:
    """A dossier built only from the posting's own sentences, each sourced to the posting."""
    dossier = sourced_dossier(posting.company, posting_facts(posting))
    note = why_little(dossier, web="web research is not configured (set EXA_API_KEY to search the web)")
    return dossier.model_copy(update={"note": note})


def page_facts(company: str, pages: list[Material]) -> list[tuple[str, SourcedFact]]:
    """(topic, fact) for each sentence of web pages about the company, each with its page's URL."""
    return [
        (topic, SourcedFact(text=text, source=page.source, source_kind="web"))
        for page in pages
        for topic, text in company_facts(page.text[:MAX_MATERIAL_CHARS], company)
    ]


# --------------------------------------------------------------------------- with an LLM


@dataclass(frozen=True)
class Material:
    """One numbered text the model may cite: a web page (its URL) or the posting (posting:<id>)."""

    source: str
    text: str
    kind: Literal["job_posting", "web"]


class CitedFact(BaseModel):
    text: str = Field(description="One fact about the company that the cited material states, in one sentence.")
    source_index: int = Field(description="The number [n] of the material that states the fact.")


DossierSummary = create_model(
    "DossierSummary",
    __base__=BaseModel,
    __doc__="Facts about a company, each citing the numbered material that states it; an empty list means unknown.",
    **{topic: (list[CitedFact], Field(description=TOPIC_HELP[topic])) for topic in CompanyDossier.TOPICS},
)


# Characters of each material text the model reads: enough for an about page, bounded for many sources.
MAX_MATERIAL_CHARS = 6000
_WEB_URL = re.compile(r"https?://[^\s]+$", re.IGNORECASE)


def company_key(posting: JobPosting) -> str:
    """Store key of a company's web dossier, shared by every posting of that company."""
    return slug(posting.company)


def posting_material(posting: JobPosting) -> Material:
    text = "\n".join(t for t in (posting.hiringOrganization.description, posting.full_text()) if t)
    return Material(source=f"posting:{posting.id}", text=text, kind="job_posting")


def research_messages(company: str, material: list[Material]) -> list[SystemMessage | HumanMessage]:
    """Instructions first; then the material, numbered, each text fenced as quoted data."""
    numbered = "\n\n".join(
        f"[{number}] {item.source}\n{quoted_data('material', item.text[:MAX_MATERIAL_CHARS])}"
        for number, item in enumerate(material, start=1)
    )
    return [
        SystemMessage(load_prompt("researcher", topics=TOPIC_HELP, max_facts=MAX_FACTS_PER_TOPIC)),
        HumanMessage(f"Company: {' '.join(company.split()) or 'unnamed'}\n\nMaterial:\n\n{numbered}"),
    ]


def dossier_from_summary(company: str, summary: BaseModel, material: list[Material]) -> CompanyDossier:
    """The summary's facts with their material's source; a fact citing no material given is dropped."""
    facts: dict[str, list[SourcedFact]] = {}
    for topic in CompanyDossier.TOPICS:
        kept = [
            SourcedFact(
                text=text, source=material[f.source_index - 1].source, source_kind=material[f.source_index - 1].kind
            )
            for f in getattr(summary, topic)
            if 1 <= f.source_index <= len(material) and (text := " ".join(f.text.split()))
        ]
        facts[topic] = kept[:MAX_FACTS_PER_TOPIC]
    return CompanyDossier(company=company, **facts)


async def web_material(context: Context, posting: JobPosting) -> list[Material]:
    """What Exa finds about the posting's company (its pages, recent news, the posting's page), with URLs."""
    assert context.exa_api_key, "web_material needs exa_api_key"
    client = exa.ExaClient(
        context.exa_api_key,
        base_url=context.exa_base_url,
        limiter=configured_limiter(exa.SERVICE, exa.DEFAULT_LIMITS, context.service_limits.get(exa.SERVICE)),
    )
    posting_url = posting.url if posting.url and _WEB_URL.match(posting.url) else None
    pages = await exa.ExaResearch(client).company_material(posting.company, posting_url)
    return [Material(source=p.url, text=p.text, kind="web") for p in pages if _WEB_URL.match(p.url)]


async def summarised_dossier(context: Context, company: str, material: list[Material]) -> CompanyDossier:
    model = load_chat_model(context, "researcher")
    assert model is not None, "summarised_dossier needs an LLM (llm_base_url)"
    summary = await structured_call(
        model, DossierSummary, research_messages(company, material), limiter=llm_limiter(context)
    )
    return dossier_from_summary(company, summary, material)


async def pages_dossier(context: Context, records: Records, posting: JobPosting) -> CompanyDossier:
    """The facts of the web pages Exa finds about the posting's company, kept per company."""
    key = f"{company_key(posting)}:pages"
    if (dossier := await records.dossier(key)) is None:
        dossier = sourced_dossier(posting.company, page_facts(posting.company, await web_material(context, posting)))
        await records.put_dossier(key, dossier)
    return dossier


async def embedded_dossier(context: Context, records: Records, posting: JobPosting) -> CompanyDossier:
    """The posting's sentences about its company, then (with Exa) those of the web pages about it."""
    if not (context.exa_api_key and posting.company.strip()):
        return dossier_from_posting(posting)
    pages = await pages_dossier(context, records, posting)
    found = posting_facts(posting) + [(topic, fact) for topic in pages.TOPICS for fact in getattr(pages, topic)]
    dossier = sourced_dossier(posting.company, found)
    return dossier.model_copy(update={"note": why_little(dossier, web="nor do the web pages Exa found about it")})


async def company_dossier(context: Context, records: Records, posting: JobPosting) -> CompanyDossier:
    """The posting's dossier, from the Store when it was researched before.

    Web research (LLM and Exa) is kept per company and shared by its postings; a dossier that quotes the
    posting (embedded, with or without Exa's pages, or LLM without Exa) is kept per posting.
    """
    if load_chat_model(context, "researcher") is None:
        key = dossier_key(posting) + (":web" if context.exa_api_key else "")
        if (dossier := await records.dossier(key)) is None:
            dossier = await embedded_dossier(context, records, posting)
            await records.put_dossier(key, dossier)
        return dossier
    if context.exa_api_key and posting.company.strip():
        key = company_key(posting)
        if (dossier := await records.dossier(key)) is not None:
            return dossier
        if material := await web_material(context, posting):
            dossier = await summarised_dossier(context, posting.company, material)
            dossier = dossier.model_copy(update={"note": why_little(dossier, web="nor do the web pages found")})
            await records.put_dossier(key, dossier)
            return dossier
    key = f"{dossier_key(posting)}:llm"
    if (dossier := await records.dossier(key)) is None:
        dossier = await summarised_dossier(context, posting.company, [posting_material(posting)])
        web = "no web page was found" if context.exa_api_key else "web research is not configured (set EXA_API_KEY)"
        dossier = dossier.model_copy(update={"note": why_little(dossier, web=web)})
        await records.put_dossier(key, dossier)
    return dossier


async def research_company(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id = state["thread_id"]
    posting, _ = await asyncio.gather(
        records.posting(state["posting_id"]),
        records.update_package(thread_id, state["package_id"], building=PackageStatus.researching),
    )
    await async_failpoint("research_company.start")
    dossier = await company_dossier(runtime.context, records, posting)
    await records.update_package(thread_id, state["package_id"], dossier=dossier)  # the CV is written meanwhile
    return {}
