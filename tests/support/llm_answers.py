"""Shared by the test modules: llm answers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobland.domain.models import CompanyDossier
from jobland.graph.context import Context
from tests.local_world.exa import API_KEY as EXA_KEY
from tests.local_world.exa import FakeExa, company_pages
from tests.local_world.openai import API_KEY, ChatRequest, FakeOpenAI

NORTHWIND_ABOUT = (
    "Northwind Logistics was founded in Hamburg to end lost freight. "
    "Northwind Logistics builds a routing platform for carriers across Europe."
)


_MATERIAL = re.compile(r"^\[(\d+)\] (\S+)\n<material>\n(.*?)\n</material>", re.DOTALL | re.MULTILINE)


LISTED = re.compile(r"^- \[(\w+)\] (.+)$", re.MULTILINE)


FIRST_FACT = re.compile(r"^\[1\] (.+)$", re.MULTILINE)


COMPANY_CLOSE = "I would welcome the chance to contribute to that."


def first_sentence(text: str) -> str:
    return text.split(". ")[0].strip().rstrip(".") + "."


def research_answer(request: ChatRequest) -> dict[str, Any]:
    """The first sentence of each material's last paragraph as a fact citing it, and one fact citing nothing given."""
    items = _MATERIAL.findall(request.text("user"))
    facts = [{"text": first_sentence(text.split("\n\n")[-1]), "source_index": int(n)} for n, _, text in items]
    invented = {"text": "INVENTED: the company was bought by a rival.", "source_index": len(items) + 7}
    answer: dict[str, Any] = {topic: [] for topic in CompanyDossier.TOPICS}
    return answer | {"mission": facts[:1], "products": facts[1:], "recent_news": [invented]}


def cv_answer(request: ChatRequest) -> dict[str, Any]:
    """Each highlight it is asked to rewrite, with a few words added that claim nothing."""
    wanted = LISTED.findall(request.text("user"))
    return {"lines": [{"highlight_ids": [hid], "text": f"{text}, for the posting"} for hid, text in wanted]}


def letter_answer(request: ChatRequest) -> dict[str, Any]:
    """A paragraph from the first two highlights, one on the first fact, two citing what they were not given."""
    wanted = LISTED.findall(request.text("user"))
    (fact,) = FIRST_FACT.findall(request.text("user"))
    return {
        "paragraphs": [
            {
                "text": " ".join(t for _, t in wanted[:2]),
                "highlight_ids": [h for h, _ in wanted[:2]],
                "fact_numbers": [],
            },
            {"text": f"{fact} {COMPANY_CLOSE}", "highlight_ids": [], "fact_numbers": [1]},
            {"text": "INVENTED paragraph citing fact 42.", "highlight_ids": [], "fact_numbers": [42]},
            {
                "text": "INVENTED paragraph citing an unknown highlight.",
                "highlight_ids": ["hl_nope"],
                "fact_numbers": [],
            },
        ]
    }


def honest_research(request: ChatRequest) -> dict[str, Any]:
    """The first sentence of each material's last paragraph, each citing its material (nothing invented)."""
    items = _MATERIAL.findall(request.text("user"))
    facts = [{"text": first_sentence(text.split("\n\n")[-1]), "source_index": int(n)} for n, _, text in items]
    return {topic: [] for topic in CompanyDossier.TOPICS} | {"mission": facts[:1], "products": facts[1:]}


def honest_letter(request: ChatRequest) -> dict[str, Any]:
    """A paragraph from the first two highlights it was given, and one on the first fact (when there is one)."""
    wanted = LISTED.findall(request.text("user"))
    paragraphs = [{"text": " ".join(t for _, t in wanted[:2]), "highlight_ids": [h for h, _ in wanted[:2]]}]
    if facts := FIRST_FACT.findall(request.text("user")):
        paragraphs.append({"text": facts[0], "highlight_ids": [], "fact_numbers": [1]})
    return {"paragraphs": [{"fact_numbers": [], **p} for p in paragraphs]}


@pytest.fixture
def model(openai_server: FakeOpenAI) -> FakeOpenAI:  # noqa: F811 - the imported fixture
    openai_server.responders.update(DossierSummary=research_answer, CVRewrite=cv_answer, LetterBody=letter_answer)
    return openai_server


@pytest.fixture
def web(exa_world: FakeExa) -> FakeExa:  # noqa: F811 - the imported fixture
    exa_world.pages += company_pages("Northwind Logistics", NORTHWIND_ABOUT, datetime.now(UTC))
    return exa_world


def llm_context(tmp_path: Path, model: FakeOpenAI, web: FakeExa | None = None, *, pdf: bool = False) -> Context:
    exa = {"exa_api_key": EXA_KEY, "exa_base_url": web.url} if web else {}
    return Context(
        home=str(tmp_path), render_pdf=pdf, cv_max_lines=6, llm_base_url=model.base_url, llm_api_key=API_KEY, **exa
    )
