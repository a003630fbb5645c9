"""One posting from anywhere: a link (JSON-LD page, plain page), pasted text, one file; through the CLI and the API.

Links are fetched from a real HTTP server on 127.0.0.1 (tests/local_world/web.py), reachable only
because the test-only switch allow_loopback (JOBLAND_ALLOW_LOOPBACK) is on; without it, and for
private addresses always, the SSRF guard of tools/safe_fetch.py refuses the link before connecting.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jobland.domain.models import SearchRequest
from jobland.server import create_app
from jobland.tools.job_folder import JobSourceError, TextJobSource
from jobland.tools.posting_url import PostingURLSource
from tests.conftest import EXAMPLE_CV, EXAMPLE_JOBS, run_cli
from tests.local_world.web import FakeWebSite
from tests.support.api import ALICE, api_settings, upload, wait_for

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
REQUEST = SearchRequest(query="python backend")
JSON_LD_POSTING = {
    "@context": "https://schema.org/",
    "@type": "JobPosting",
    "title": "Senior Python Backend Engineer",
    "description": "<p>Kiezkraft runs buildings on renewable heat.</p><h3>What you bring</h3>"
    "<ul><li>5+ years of Python</li><li>PostgreSQL</li></ul>",
    "datePosted": "2026-11-24",
    "validThrough": "2027-01-31",
    "hiringOrganization": {"@type": "Organization", "name": "Kiezkraft GmbH"},
    "jobLocation": {"@type": "Place", "address": {"addressLocality": "Berlin", "addressCountry": "DE"}},
}
JSON_LD_PAGE = f"""<!DOCTYPE html><html><head><title>Careers</title>
<script type="application/ld+json">{json.dumps(JSON_LD_POSTING)}</script></head>
<body><nav>Home · Jobs · Blog</nav><h1>Senior Python Backend Engineer</h1><p>Apply now.</p></body></html>"""
PLAIN_PAGE = """<!DOCTYPE html><html><head><title>Platform Engineer | Hafenwerk Careers</title>
<meta property="og:site_name" content="Hafenwerk Logistics"></head>
<body>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<nav><a href="/">Home</a> <a href="/jobs">All jobs</a> <a href="/about">About us</a></nav>
<div class="page"><div class="posting">
<h1>Platform Engineer (Kubernetes)</h1>
<p>Location: Hamburg, Germany</p>
<p>Hafenwerk moves containers through the port of Hamburg, and our platform team keeps the software that plans
every crane move running day and night. You will run our Kubernetes clusters and the pipelines that ship to them.</p>
<h2>What you will do</h2>
<ul><li>Operate Kubernetes clusters on AWS with Terraform</li><li>Build CI/CD pipelines with GitLab</li>
<li>Keep our Python tooling and observability stack healthy</li></ul>
<h2>What you bring</h2>
<ul><li>3+ years of experience running Kubernetes in production</li><li>Terraform and AWS</li>
<li>Good English; German is a plus</li></ul>
</div></div>
<footer>© 2026 Hafenwerk Logistics · Imprint · Privacy · Follow us on LinkedIn</footer>
</body></html>"""
PASTED_TEXT = (EXAMPLE_JOBS / "spreeblick-junior-data-analyst.txt").read_text()


async def test_a_json_ld_page_becomes_its_posting_kept_with_the_link_it_came_from(web_site: FakeWebSite) -> None:
    url = web_site.page("/jobs/senior-python", JSON_LD_PAGE)
    batch = await PostingURLSource(url, allow_loopback=True).fetch(REQUEST, now=NOW)
    [posting] = batch.postings
    assert (posting.title, posting.company) == ("Senior Python Backend Engineer", "Kiezkraft GmbH")
    assert posting.source == f"url:{url}" and posting.url == url
    assert posting.jobLocation[0].address.addressLocality == "Berlin"
    assert "PostgreSQL" in posting.skills and "5+ years of Python" in posting.qualifications


async def test_a_page_without_json_ld_is_read_for_its_main_text_only(web_site: FakeWebSite) -> None:
    # No <main> or <article> to go by: the cookie banner, menu and footer sit in the same <body>.
    url = web_site.page("/careers/platform-engineer", PLAIN_PAGE)
    [posting] = (await PostingURLSource(url, allow_loopback=True).fetch(REQUEST, now=NOW)).postings
    assert posting.title == "Platform Engineer (Kubernetes)" and posting.company == "Hafenwerk Logistics"
    assert posting.url == url and posting.jobLocation[0].address.addressLocality == "Hamburg"
    assert "keeps the software that plans" in posting.description
    for boilerplate in ("cookies", "All jobs", "Imprint", "Follow us"):
        assert boilerplate not in posting.description
    assert {"Kubernetes", "Terraform", "AWS"} <= set(posting.skills)
    assert "Operate Kubernetes clusters on AWS with Terraform" in posting.responsibilities


async def test_redirects_are_followed_at_most_three_times(web_site: FakeWebSite) -> None:
    final = web_site.page("/jobs/senior-python", JSON_LD_PAGE)
    web_site.redirects["/j/1"] = "/jobs/senior-python"
    [posting] = (await PostingURLSource(f"{web_site.url}/j/1", allow_loopback=True).fetch(REQUEST, now=NOW)).postings
    assert posting.source == f"url:{final}"
    web_site.redirects.update({f"/hop{i}": f"/hop{i + 1}" for i in range(4)} | {"/hop4": "/jobs/senior-python"})
    with pytest.raises(JobSourceError, match="redirected more than 3 times"):
        await PostingURLSource(f"{web_site.url}/hop0", allow_loopback=True).fetch(REQUEST, now=NOW)


@pytest.mark.parametrize(
    ("url", "allow_loopback", "reason"),
    [
        ("{site}/jobs/senior-python", False, "a loopback address"),
        ("http://localhost:9/job", False, "a loopback address"),
        ("http://10.0.0.1/job", True, "a private address"),
        ("http://169.254.169.254/latest/meta-data", True, "a link-local address"),
        ("http://[::ffff:192.168.1.1]/job", True, "a private address"),
        ("file:///etc/passwd", True, "must start with http:// or https://"),
    ],
)
async def test_loopback_and_private_links_are_refused_unless_the_test_switch_allows_loopback(
    web_site: FakeWebSite, url: str, allow_loopback: bool, reason: str
) -> None:
    web_site.page("/jobs/senior-python", JSON_LD_PAGE)
    with pytest.raises(JobSourceError, match=f"cannot read the job link: .*{reason}"):
        await PostingURLSource(url.format(site=web_site.url), allow_loopback=allow_loopback).fetch(REQUEST, now=NOW)
    assert not web_site.requests, "refused before any connection"


async def test_a_huge_page_an_image_or_a_missing_page_is_a_clear_error(web_site: FakeWebSite) -> None:
    cases = {
        web_site.page("/huge", "<p>" + "x" * (3 * 1024 * 1024) + "</p>"): "larger than 2 MB",
        web_site.page("/logo.png", b"\x89PNG\r\n", "image/png"): "image/png, not a web page",
        f"{web_site.url}/gone": "answered HTTP 404",
    }
    for url, reason in cases.items():
        with pytest.raises(JobSourceError, match=reason):
            await PostingURLSource(url, allow_loopback=True).fetch(REQUEST, now=NOW)


async def test_pasted_text_json_or_html_becomes_one_posting() -> None:
    [text] = (await TextJobSource(PASTED_TEXT).fetch(REQUEST, now=NOW)).postings
    assert (text.title, text.company, text.source) == ("Junior Data Analyst", "Spreeblick Media GmbH", "pasted")
    [from_json] = (await TextJobSource(json.dumps(JSON_LD_POSTING)).fetch(REQUEST, now=NOW)).postings
    [from_html] = (await TextJobSource(JSON_LD_PAGE).fetch(REQUEST, now=NOW)).postings
    assert from_json.title == from_html.title == "Senior Python Backend Engineer"
    with pytest.raises(JobSourceError, match="empty"):
        await TextJobSource("  \n").fetch(REQUEST, now=NOW)


def test_the_cli_screens_a_link_stdin_or_one_file_and_says_what_it_understood(
    home: Path, database_url: str, web_site: FakeWebSite, tmp_path: Path
) -> None:
    url = web_site.page("/careers/platform-engineer", PLAIN_PAGE)
    screen = ("screen", "--cv", str(EXAMPLE_CV), "--query", "platform engineer, Hamburg or remote")
    linked = run_cli(home, database_url, *screen, "--jobs", url, "--format", "json", JOBLAND_ALLOW_LOOPBACK="true")
    [verdict] = json.loads(linked.stdout)
    assert verdict["title"] == "Platform Engineer (Kubernetes)" and verdict["source"] == f"url:{url}"

    piped = run_cli(home, database_url, *screen, "--jobs", "-", stdin=PASTED_TEXT, COLUMNS="200")
    assert "Understood: roles: platform and sre · places: Hamburg · remote: accepted" in piped.stdout
    assert "Junior Data Analyst" in piped.stdout

    one_file = tmp_path / "kiezkraft.json"
    shutil.copy(EXAMPLE_JOBS / "kiezkraft-senior-python-backend.json", one_file)
    [verdict] = json.loads(run_cli(home, database_url, *screen, "--jobs", str(one_file), "--format", "json").stdout)
    assert verdict["title"] == "Senior Python Backend Engineer"

    refused = run_cli(home, database_url, *screen, "--jobs", url, check=False)
    assert refused.returncode == 2 and "a loopback address" in refused.stdout + refused.stderr
    assert "jobland resume" not in refused.stdout + refused.stderr, "refused before a thread existed"
    assert len(web_site.requests) == 1, "the refused link was never fetched"


@pytest.mark.slow  # two whole runs through the API, one building a package
def test_the_api_takes_a_posting_url_or_text_per_thread(
    database_url: str, home: Path, web_site: FakeWebSite, tmp_path: Path
) -> None:
    url = web_site.page("/jobs/senior-python", JSON_LD_PAGE)
    settings = api_settings(database_url, tmp_path / "api-home").model_copy(
        update={"allow_loopback": True, "render_pdf": False}
    )
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ALICE}"}) as api:
        cv_id = upload(api, EXAMPLE_CV).raise_for_status().json()["cv_id"]
        both = api.post("/api/threads", json={"cv_id": cv_id, "posting_url": url, "posting_text": PASTED_TEXT})
        assert both.status_code == 422 and "not both" in both.text
        private = api.post("/api/threads", json={"cv_id": cv_id, "posting_url": "http://10.1.2.3/job"})
        assert private.status_code == 422 and "a private address" in private.text
        for pasted in ({"posting_url": url}, {"posting_text": PASTED_TEXT}):
            created = api.post("/api/threads", json={"cv_id": cv_id, "query": "python", "max_packages": 1, **pasted})
            thread_id = created.raise_for_status().json()["thread_id"]
            status = wait_for(api, thread_id, {"awaiting_review", "finished"}, timeout=120)
            assert status["progress"]["postings"] == status["progress"]["screened"] == 1, status
