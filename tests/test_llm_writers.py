"""The LLM researcher, CV writer and cover-letter writer, over real HTTP to the local OpenAI (and Exa) servers.

The fake model's answers come from deterministic responders registered here per schema name: they
copy what the request offers (material, highlights, facts), so what the code does with an answer,
and with an answer that cites what it was not given, is what is under test.
"""

from __future__ import annotations

import re
from pathlib import Path

from langgraph.store.memory import InMemoryStore

from jobland.agents.cover_letter_writer import quotable_facts
from jobland.agents.researcher import company_dossier, company_key
from jobland.domain.models import JobPosting
from jobland.domain.repository import Records
from jobland.graph.context import Context
from tests.local_world.exa import API_KEY as EXA_KEY
from tests.local_world.exa import FakeExa
from tests.local_world.openai import ChatRequest, FakeOpenAI
from tests.support.llm_answers import (
    COMPANY_CLOSE,
    NORTHWIND_ABOUT,
    llm_context,
)
from tests.support.packages import (
    COST_HIGHLIGHT,
    K8S_HIGHLIGHT,
    build_package_alone,
    make_posting,
    make_profile,
    store_with_pending_package,
)

MISSION = "Our mission is to make every shipment traceable from dock to door."
_FENCES = re.compile(r"<(posting|material|facts)>\n.*?\n</\1>", re.DOTALL)


# --------------------------------------------------------------------------- the fake model's answers


def outside_fences(text: str) -> str:
    return _FENCES.sub("", text)


def assert_posting_only_fenced(requests: list[ChatRequest], posting: JobPosting) -> None:
    assert requests
    for request in requests:
        assert MISSION not in request.text("system") and posting.description[:40] not in request.text("system")
        assert MISSION in request.text("user")
        assert MISSION not in outside_fences(request.text("user"))


# --------------------------------------------------------------------------- researcher


async def test_web_dossier_cites_only_the_material_urls_and_is_shared_by_the_company(
    tmp_path: Path, model: FakeOpenAI, web: FakeExa
) -> None:
    context, records = llm_context(tmp_path, model, web), Records(InMemoryStore())
    posting = make_posting()

    dossier = await company_dossier(context, records, posting)

    material_urls = {"https://northwind-logistics.example/about", "https://news.example/northwind-logistics-new-office"}
    assert dossier.facts() and {f.source for f in dossier.facts()} <= material_urls
    assert {f.source_kind for f in dossier.facts()} == {"web"}
    assert dossier.mission[0].text == "Northwind Logistics was founded in Hamburg to end lost freight."
    assert dossier.recent_news == [] and dossier.culture == []  # the out-of-range citation was dropped: unknown
    assert not any("INVENTED" in f.text for f in dossier.facts())
    assert await records.dossier(company_key(posting)) == dossier
    (request,) = model.chat_requests("DossierSummary")
    assert NORTHWIND_ABOUT.split(". ")[1] not in outside_fences(request.text("user"))

    other = make_posting(posting_id="job_northwind_backend", title="Backend Engineer")
    assert await company_dossier(context, records, other) == dossier
    assert len(model.chat_requests("DossierSummary")) == 1  # researched once per company
    assert len([r for r in web.requests if r.path == "/search"]) == 2  # about + news, once


async def test_with_exa_and_no_model_the_pages_sentences_join_the_postings_with_their_urls(
    tmp_path: Path, web: FakeExa
) -> None:
    context = Context(home=str(tmp_path), exa_api_key=EXA_KEY, exa_base_url=web.url)
    records = Records(InMemoryStore())
    posting = make_posting()

    dossier = await company_dossier(context, records, posting)

    about = "https://northwind-logistics.example/about"
    assert [(f.text, f.source) for f in dossier.stage] == [
        ("Northwind Logistics was founded in Hamburg to end lost freight.", about)
    ]
    assert [(f.text, f.source) for f in dossier.business] == [
        ("Northwind Logistics moves freight across Europe.", f"posting:{posting.id}"),
        ("We build a routing platform used by 3,000 carriers and their customers.", f"posting:{posting.id}"),
        ("Northwind Logistics builds a routing platform for carriers across Europe.", about),
    ]
    news = dossier.recent_news[0]
    assert news.source == "https://news.example/northwind-logistics-new-office" and news.source_kind == "web"
    other = make_posting(posting_id="job_northwind_backend", title="Backend Engineer")
    await company_dossier(context, records, other)
    assert len([r for r in web.requests if r.path == "/search"]) == 2, "the pages are read once per company"


async def test_without_exa_the_model_summarises_only_the_posting(tmp_path: Path, model: FakeOpenAI) -> None:
    context, records = llm_context(tmp_path, model), Records(InMemoryStore())
    posting = make_posting()

    dossier = await company_dossier(context, records, posting)

    assert dossier.facts() and {(f.source, f.source_kind) for f in dossier.facts()} == {
        (f"posting:{posting.id}", "job_posting")
    }
    assert_posting_only_fenced(model.chat_requests("DossierSummary"), posting)


# --------------------------------------------------------------------------- writers in the package graph


async def test_llm_package_keeps_valid_ids_and_passes_the_truth_check(
    tmp_path: Path, model: FakeOpenAI, web: FakeExa
) -> None:
    profile, posting = make_profile(), make_posting()
    store = await store_with_pending_package(profile, posting)

    await build_package_alone(store, llm_context(tmp_path, model, web, pdf=True), "run-1")

    package = await Records(store).package("thread_1", "pkg_7f3a")
    assert package.flagged_claims == []
    assert {c.name: c.passed for c in package.checks} == {
        "truth": True,
        "ats": True,
        "pdf": True,
        "posting_contacts": True,
        "outside_contacts": True,
    }
    selected = {h.id: h.text for _, h in profile.all_highlights()}
    cv_lines = [line for line in package.cv.lines if line.highlight_ids]
    assert cv_lines and all(line.text == f"{selected[line.highlight_ids[0]]}, for the posting" for line in cv_lines)
    assert f"- {K8S_HIGHLIGHT}, for the posting" in package.cv.markdown

    body = [line for line in package.cover_letter.lines if line.section == "body"]
    (_, fact), *_ = quotable_facts(package.dossier)  # fact [1] of the prompt: the best topic first
    assert [line.text for line in body][1:] == [f"{fact.text} {COMPANY_CLOSE}"]
    assert "INVENTED" not in package.cover_letter.markdown  # fact 42 and hl_nope were never given
    assert body[0].highlight_ids and set(body[0].highlight_ids) <= {i for line in cv_lines for i in line.highlight_ids}
    assert fact.source in body[1].source_fields and fact.source.startswith("https://")
    assert package.cover_letter.lines[0].section == "sender" and package.cover_letter.lines[-1].section == "signature"

    for name in ("CVRewrite", "LetterBody"):
        assert_posting_only_fenced(model.chat_requests(name), posting)
    # The model is told the letter's shape from the screening's evidence: which highlight shows which must-have.
    (letter_request,) = model.chat_requests("LetterBody")
    k8s = next(h.id for _, h in profile.all_highlights() if h.text == K8S_HIGHLIGHT)
    assert f"Must-have evidence: Kubernetes -> highlight {k8s} (Acme Cloud GmbH)" in letter_request.text("user")
    assert "the one reason this person fits this employer" in letter_request.text("system")


async def test_a_line_citing_an_unknown_id_keeps_the_highlights_own_words(tmp_path: Path, model: FakeOpenAI) -> None:
    profile, posting = make_profile(), make_posting()
    k8s = next(h for _, h in profile.all_highlights() if h.text == K8S_HIGHLIGHT)
    model.answer(
        "CVRewrite",
        {
            "lines": [
                {"highlight_ids": [k8s.id, "hl_made_up"], "text": "Ran Kubernetes for 900 services"},
                {"highlight_ids": ["hl_made_up"], "text": "Invented a highlight"},
            ]
        },
    )
    store = await store_with_pending_package(profile, posting)

    await build_package_alone(store, llm_context(tmp_path, model), "run-1")

    package = await Records(store).package("thread_1", "pkg_7f3a")
    k8s_lines = [line for line in package.cv.lines if k8s.id in line.highlight_ids]
    assert [(line.text, line.highlight_ids) for line in k8s_lines] == [(K8S_HIGHLIGHT, [k8s.id])]
    assert "900" not in package.cv.markdown and "Invented" not in package.cv.markdown
    assert not any("hl_made_up" in line.highlight_ids for line in package.cv.lines)
    assert package.flagged_claims == []


async def test_an_invented_employer_and_number_are_flagged_by_the_truth_check(
    tmp_path: Path, model: FakeOpenAI
) -> None:
    profile, posting = make_profile(), make_posting()
    cost = next(h for _, h in profile.all_highlights() if h.text == COST_HIGHLIGHT)
    k8s = next(h for _, h in profile.all_highlights() if h.text == K8S_HIGHLIGHT)
    model.answer(
        "CVRewrite",
        {
            "lines": [
                {"highlight_ids": [cost.id], "text": "Cut cloud costs by 60% by rightsizing AWS instances"},
                {
                    "highlight_ids": [k8s.id],
                    "text": "Migrated 40 services to Kubernetes at Google with Helm and ArgoCD",
                },
            ]
        },
    )
    store = await store_with_pending_package(profile, posting)

    await build_package_alone(store, llm_context(tmp_path, model), "run-1")

    package = await Records(store).package("thread_1", "pkg_7f3a")
    flagged = "\n".join(package.flagged_claims)
    assert "60%" in package.cv.markdown and "Google" in package.cv.markdown  # rewritten lines, cited correctly...
    assert "not in the cited evidence: 60%" in flagged and "Google" in flagged  # ...but unsupported: flagged
    assert not {c.name: c.passed for c in package.checks}["truth"]
    assert package.status == "ready"  # flagged for review, not dropped
