"""Company research: a dossier of sourced facts per company.

Embedded default: each fact is a sentence quoted from the posting and marked as such. With an LLM
(and Exa), the model summarises numbered material (web pages from Exa, else the posting alone) into
facts that can only cite that material by number; code turns the numbers into the material's URLs,
so a fact never carries a URL the model made up. Either way a topic nothing speaks to stays empty,
which every reader treats as "unknown" (never a guess).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from jobland.domain.failpoints import async_failpoint
from jobland.domain.models import (
    CompanyDossier,
    JobPosting,
    PackageStatus,
    SourcedFact,
)
from jobland.domain.repository import Records
from jobland.domain.text import normalize_text, slug, strip_bullet
from jobland.graph.context import Context
from jobland.graph.state import PackageBuildState
from jobland.prompts import load_prompt, quoted_data
from jobland.tools import exa
from jobland.tools.llm import llm_limiter, load_chat_model, structured_call
from jobland.tools.ratelimit import configured_limiter

# Checked in this order; a sentence goes to the first topic one of whose cues it contains as whole words.
# Cues are English and German, the languages JobLand writes letters in.
TOPIC_CUES: dict[str, tuple[str, ...]] = {
    "recent_news": (
        "recently",
        "raised",
        "series a",
        "series b",
        "series c",
        "funding round",
        "announced",
        "acquired",
        "just launched",
        "we launched",
        "newly launched",
    ),
    "mission": (
        "our mission",
        "mission is",
        "on a mission",
        "we believe",
        "our vision",
        "we exist to",
        "our purpose",
        "founded",
        "unsere mission",
        "unsere vision",
        "wir glauben",
        "gegründet",
    ),
    "culture": (
        "we value",
        "our values",
        "culture",
        "we care",
        "inclusive",
        "inclusion",
        "diverse",
        "diversity",
        "remote-first",
        "hybrid",
        "on-site",
        "flexible",
        "collaborative",
        "collaboration",
        "our team",
        "work-life",
        "people in",
        "we pair",
        "bei uns",
        "wir sind",
        "unser team",
        "unsere werte",
        "kultur",
        "hybrides arbeiten",
    ),
    "products": (
        "we build",
        "we are building",
        "we're building",
        "we make",
        "we develop",
        "we provide",
        "we offer",
        "we help",
        "our product",
        "our products",
        "our platform",
        "our app",
        "our software",
        "our service",
        "our services",
        "customers",
        "used by",
        "builds",
        "provides",
        "runs",
        "entwickelt",
        "wir entwickeln",
        "wir bauen",
        "unser produkt",
        "unsere plattform",
        "unserer plattform",
        "unsere software",
        "kunden",
    ),
}
_TOPIC_PATTERNS = {
    topic: re.compile(r"\b(?:" + "|".join(re.escape(c) for c in cues) + r")\b", re.IGNORECASE)
    for topic, cues in TOPIC_CUES.items()
}
# Sentences about the candidate, the role or the application, not about the company.
_ROLE = re.compile(
    r"\b(?:you|your|looking for|we are hiring|we're hiring|this role|the role|this position|the position|"
    r"candidates?|apply|requirements|responsibilities|"
    r"du|dich|dir|dein|deine|deinen|wir suchen|bewerbung|bewirb|aufgaben|profil)\b",
    re.IGNORECASE,
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[A-Z0-9])")
# Contact details and links in a posting are instructions, not facts, and never reach a document.
_CONTACT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://|www\.", re.IGNORECASE)
MAX_FACTS_PER_TOPIC = 3
_MIN_WORDS, _MAX_WORDS = 4, 60


def dossier_key(posting: JobPosting) -> str:
    """Store key of a posting's dossier: per company, and per posting since it quotes that posting."""
    return f"{slug(posting.company or 'unknown-company')}:{posting.id}"


def posting_sentences(posting: JobPosting) -> list[str]:
    """The prose sentences of the posting, normalised, in order, without repeats.

    Bulleted lines are left out: in a posting they list duties, requirements and benefits.
    """
    texts = [posting.hiringOrganization.description or "", posting.description]
    sentences: list[str] = []
    for line in normalize_text("\n".join(texts)).split("\n"):
        text, is_bullet = strip_bullet(line)
        if not is_bullet:
            sentences.extend(s.strip() for s in _SENTENCE_BREAK.split(text) if s.strip())
    return list(dict.fromkeys(sentences))


def topic_of(sentence: str) -> str | None:
    """The dossier topic a sentence is evidence for, or None when it says nothing quotable about the company."""
    words = len(sentence.split())
    if not _MIN_WORDS <= words <= _MAX_WORDS or _CONTACT.search(sentence) or _ROLE.search(sentence):
        return None
    return next((topic for topic, pattern in _TOPIC_PATTERNS.items() if pattern.search(sentence)), None)


def dossier_from_posting(posting: JobPosting) -> CompanyDossier:
    """A dossier built only from the posting's own sentences, each sourced to the posting."""
    facts: dict[str, list[SourcedFact]] = {topic: [] for topic in CompanyDossier.TOPICS}
    for sentence in posting_sentences(posting):
        topic = topic_of(sentence)
        if topic and len(facts[topic]) < MAX_FACTS_PER_TOPIC:
            facts[topic].append(SourcedFact(text=sentence, source=f"posting:{posting.id}", source_kind="job_posting"))
    return CompanyDossier(company=posting.company, **facts)


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


class DossierSummary(BaseModel):
    """Facts about a company, each citing the numbered material that states it; an empty list means unknown."""

    mission: list[CitedFact] = Field(description="Why the company exists, what it aims for.")
    products: list[CitedFact] = Field(description="What it makes or sells, and for whom.")
    culture: list[CitedFact] = Field(description="How it works: values, team, ways of working.")
    recent_news: list[CitedFact] = Field(description="Funding, launches, acquisitions and other recent events.")


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
        SystemMessage(load_prompt("researcher", topics=CompanyDossier.TOPICS, max_facts=MAX_FACTS_PER_TOPIC)),
        HumanMessage(f"Company: {' '.join(company.split()) or 'unnamed'}\n\nMaterial:\n\n{numbered}"),
    ]


def dossier_from_summary(company: str, summary: DossierSummary, material: list[Material]) -> CompanyDossier:
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


async def company_dossier(context: Context, records: Records, posting: JobPosting) -> CompanyDossier:
    """The posting's dossier, from the Store when it was researched before.

    Web research (LLM and Exa) is kept per company and shared by its postings; a dossier of the posting
    alone (embedded, or LLM without Exa) is kept per posting, since its facts cite that posting.
    """
    if load_chat_model(context, "researcher") is None:
        key = dossier_key(posting)
        if (dossier := await records.dossier(key)) is None:
            dossier = dossier_from_posting(posting)
            await records.put_dossier(key, dossier)
        return dossier
    if context.exa_api_key and posting.company.strip():
        key = company_key(posting)
        if (dossier := await records.dossier(key)) is not None:
            return dossier
        if material := await web_material(context, posting):
            dossier = await summarised_dossier(context, posting.company, material)
            await records.put_dossier(key, dossier)
            return dossier
    key = f"{dossier_key(posting)}:llm"
    if (dossier := await records.dossier(key)) is None:
        dossier = await summarised_dossier(context, posting.company, [posting_material(posting)])
        await records.put_dossier(key, dossier)
    return dossier


async def research_company(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id = state["thread_id"]
    posting, package = await asyncio.gather(
        records.posting(state["posting_id"]), records.package(thread_id, state["package_id"])
    )
    package = await records.move_package(thread_id, package, PackageStatus.researching)
    await async_failpoint("research_company.start")
    dossier = await company_dossier(runtime.context, records, posting)
    await records.put_package(thread_id, package.model_copy(update={"dossier": dossier}))
    return {}
