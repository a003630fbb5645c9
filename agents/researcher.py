"""Company research for the embedded default: what the posting itself says about the company.

Each fact is a sentence quoted from the posting and marked as such; a topic the posting says
nothing about stays empty, which every reader treats as "unknown" (never a guess).
"""

from __future__ import annotations

import asyncio
import re

from langgraph.runtime import Runtime

from domain.models import (
    ApplicationPackage,
    CompanyDossier,
    JobPosting,
    PackageStatus,
    SourcedFact,
)
from domain.repository import RecordNotFound, Records
from domain.text import normalize_text, slug, strip_bullet
from graph.context import Context
from graph.state import PackageBuildState

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


async def research_company(state: PackageBuildState, runtime: Runtime[Context]) -> dict:
    records = Records(runtime.store)
    thread_id, package_id = state["thread_id"], state["package_id"]
    posting, screening = await asyncio.gather(
        records.posting(state["posting_id"]), records.screening(state["profile_id"], state["posting_id"])
    )
    key = dossier_key(posting)
    dossier = await records.dossier(key)
    if dossier is None:
        dossier = dossier_from_posting(posting)
        await records.put_dossier(key, dossier)

    try:
        package = await records.package(thread_id, package_id)
    except RecordNotFound:
        if screening is None:
            raise RecordNotFound(
                f"posting {posting.id} has no screening for profile {state['profile_id']}; "
                "screen it before building its package"
            ) from None
        package = ApplicationPackage(
            id=package_id,
            posting_id=posting.id,
            profile_id=state["profile_id"],
            company=posting.company,
            title=posting.title,
            screening=screening,
        )
    package = package.model_copy(update={"dossier": dossier}).with_status(PackageStatus.researching)
    await records.put_package(thread_id, package)
    return {}
