"""The whole graph with every production provider pointed at the local API world.

LLM agents -> the fake OpenAI server, discovery -> fake SerpAPI and Exa, company research -> fake Exa,
email -> the fake Gmail API (an OAuth token file written here). Nothing leaves 127.0.0.1, and the
outbox folder of the embedded mailer stays empty.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from langgraph.types import Command

from jobland.domain.models import Decision, PackageStatus, SearchRequest
from jobland.domain.repository import Records
from jobland.graph.builder import open_graph
from jobland.graph.context import Context
from tests.conftest import EXAMPLE_CV
from tests.local_world.exa import API_KEY as EXA_KEY
from tests.local_world.exa import FakeExa
from tests.local_world.gmail import FakeGmail
from tests.local_world.openai import API_KEY as OPENAI_KEY
from tests.local_world.openai import FakeOpenAI
from tests.local_world.serpapi import API_KEY as SERPAPI_KEY
from tests.local_world.serpapi import FakeSerpApi
from tests.support.llm_answers import cv_answer, letter_answer, research_answer

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

USER = "alex.morgan@example.com"


def production_context(
    home: Path, model: FakeOpenAI, serpapi: FakeSerpApi, exa: FakeExa, gmail: FakeGmail, token_file: Path
) -> Context:
    return Context(
        user_email=USER,
        user_name="Alex Morgan",
        home=str(home),
        render_pdf=False,
        llm_base_url=model.base_url,
        llm_api_key=OPENAI_KEY,
        job_sources=("serpapi", "exa"),
        serpapi_api_key=SERPAPI_KEY,
        serpapi_base_url=serpapi.url,
        exa_api_key=EXA_KEY,
        exa_base_url=exa.url,
        mailer="gmail",
        gmail_token_file=str(token_file),
        gmail_api_endpoint=gmail.url,
    )


async def test_a_search_runs_on_every_production_provider_and_sends_one_approved_package(
    fresh_database: str,
    home: Path,
    tmp_path: Path,
    openai_server: FakeOpenAI,
    serpapi_world: FakeSerpApi,
    exa_world: FakeExa,
    gmail_api: FakeGmail,
) -> None:
    openai_server.responders.update(DossierSummary=research_answer, CVRewrite=cv_answer, LetterBody=letter_answer)
    token_file = gmail_api.write_token_file(tmp_path / "gmail-token.json")
    context = production_context(home, openai_server, serpapi_world, exa_world, gmail_api, token_file)
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    request = SearchRequest(query="python", cv_path=str(EXAMPLE_CV), max_packages=2)

    async with open_graph(fresh_database, home) as graph:
        await graph.ainvoke({"request": request}, config, context=context, durability="sync")
        snapshot = await graph.aget_state(config)
        assert snapshot.next == ("review",)
        requests = snapshot.interrupts[0].value
        ids = [r["action_request"]["args"]["package_id"] for r in requests]
        assert ids, "the fake world's postings give at least one High match"
        assert gmail_api.sent == [], "nothing is emailed before approval"

        packages = {p.id: p for p in await Records(graph.store).packages(snapshot.values["thread_id"])}
        approved = packages[ids[0]]
        assert approved.status == PackageStatus.ready and approved.flagged_claims == [], (
            approved.status,
            approved.error,
        )
        assert approved.dossier.facts() and all(f.source.startswith("https://") for f in approved.dossier.facts())
        assert any(line.section == "body" for line in approved.cover_letter.lines)
        assert all(line.text.endswith(", for the posting") for line in approved.cv.lines if line.highlight_ids)

        decisions = [Decision(package_id=ids[0], action="accept")]
        decisions += [Decision(package_id=i, action="reject") for i in ids[1:]]
        payload = {snapshot.interrupts[0].id: [d.model_dump() for d in decisions]}
        await graph.ainvoke(Command(resume=payload), config, context=context, durability="sync")
        final = await graph.aget_state(config)

    assert final.next == ()
    (message,) = gmail_api.messages
    assert message["To"].addresses[0].addr_spec == USER
    assert approved.title in message["Subject"] or approved.company in message["Subject"]
    assert not (home / "outbox").exists() or list((home / "outbox").iterdir()) == []
    [receipt] = final.values["deliveries"]
    assert receipt.package_id == ids[0] and receipt.recipient == USER

    # Every provider was really used, over HTTP on 127.0.0.1.
    assert serpapi_world.requests and any(r.path == "/search" for r in exa_world.requests)
    asked = {r.schema_name for r in openai_server.chat_requests()}
    assert {"JobScreeningOutput", "DossierSummary", "CVRewrite", "LetterBody"} <= asked
