"""The application tracker through the `jobland` command: list, update, export, and no second package."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CV, run_cli, run_json

pytestmark = pytest.mark.slow

HOSTILE_COMPANY = '=HYPERLINK("http://x")'
# A High match for the example CV, at a company whose name a spreadsheet would run as a formula.
HOSTILE_POSTING = {
    "@context": "https://schema.org/",
    "@type": "JobPosting",
    "title": "Senior Python Backend Engineer",
    "description": (
        "<p>We run the billing backend for 300 regional energy suppliers. Our platform turns meter data into "
        "invoices for two million households.</p><p>We are 50 people in Berlin-Mitte and work hybrid, two days a "
        "week in the office.</p><h3>What you'll do</h3><ul><li>Build Python services with FastAPI and PostgreSQL"
        "</li><li>Run event pipelines on Kafka</li><li>Mentor engineers and review code</li></ul><h3>What you bring"
        "</h3><ul><li>5+ years of experience with Python in production</li><li>PostgreSQL, Docker, Kubernetes and "
        "AWS</li><li>Fluent English</li></ul>"
    ),
    "datePosted": "2026-11-20",
    "validThrough": "2027-01-31",
    "hiringOrganization": {"@type": "Organization", "name": HOSTILE_COMPANY},
    "jobLocation": {"@type": "Place", "address": {"addressLocality": "Berlin", "addressCountry": "DE"}},
    "baseSalary": {"currency": "EUR", "value": {"minValue": 80000, "maxValue": 95000, "unitText": "YEAR"}},
    "skills": ["Python", "FastAPI", "PostgreSQL", "Kafka", "Docker", "Kubernetes", "AWS"],
    "url": "https://billing.example/jobs/senior-python",
}


def start(home: Path, database_url: str, jobs: Path, thread_id: str, **env: str) -> list[dict]:
    args = ("run", "--cv", str(EXAMPLE_CV), "--jobs", str(jobs), "--thread-id", thread_id, "--format", "json")
    return json.loads(run_cli(home, database_url, *args, **env).stdout)["awaiting_review"]


def test_delivered_package_is_tracked_updated_exported_and_not_offered_again(
    home: Path, database_url: str, jobs_dir: Path, tmp_path: Path
) -> None:
    (jobs_dir / "billing-senior-python.json").write_text(json.dumps(HOSTILE_POSTING))
    first_thread = f"apps-{tmp_path.name[-12:]}"
    waiting = start(home, database_url, jobs_dir, first_thread)
    (package_id,) = [p["package_id"] for p in waiting if p["company"] == HOSTILE_COMPANY]
    others = [arg for p in waiting if p["package_id"] != package_id for arg in ("--reject", p["package_id"])]
    run_cli(home, database_url, "review", first_thread, "--approve", package_id, *others)

    mine = [a for a in run_json(home, database_url, "applications") if a["thread_id"] == first_thread]
    (entry,) = mine
    assert entry["package_id"] == package_id and entry["status"] == "sent" and entry["company"] == HOSTILE_COMPANY
    assert entry["posting_url"] == HOSTILE_POSTING["url"] and entry["canonical_key"]
    assert [h["status"] for h in entry["history"]] == ["sent"]
    eml, *pdfs = entry["files"]
    assert eml.endswith(".eml") and Path(eml).is_file() and Path(eml).parent == home / "outbox"
    assert pdfs and all(p.endswith(".pdf") and Path(p).is_file() for p in pdfs)
    everything = run_json(home, database_url, "applications", "--all")
    assert {a["outcome"] for a in everything if a["thread_id"] == first_thread} == {"sent", "rejected"}

    # Update by a unique prefix of the id; a bad status or an unknown id is a clear error.
    bad = run_cli(home, database_url, "applications", "set", package_id, "hired", check=False)
    assert bad.returncode == 2 and "applied, interviewing, offer, rejected, withdrawn" in bad.stderr
    unknown = run_cli(home, database_url, "applications", "set", "pkg_nope", "applied", check=False)
    assert unknown.returncode == 2 and "no application 'pkg_nope'" in unknown.stderr
    rejected_at_review = others[1]
    never_sent = run_cli(home, database_url, "applications", "set", rejected_at_review, "applied", check=False)
    assert never_sent.returncode == 2 and "never delivered" in never_sent.stderr
    run_cli(home, database_url, "applications", "set", package_id[:10], "applied")
    run_cli(home, database_url, "applications", "set", package_id, "interviewing", "--note", "first call on Friday")
    (entry,) = [a for a in run_json(home, database_url, "applications") if a["package_id"] == package_id]
    assert entry["status"] == "interviewing"
    assert [h["status"] for h in entry["history"]] == ["sent", "applied", "interviewing"]
    assert entry["history"][-1]["note"] == "first call on Friday" and entry["notes"] == ["first call on Friday"]
    assert package_id in run_cli(home, database_url, "applications").stdout

    # CSV: parses back, and no cell starts with a formula character.
    exported = tmp_path / "applications.csv"
    run_cli(home, database_url, "applications", "export", str(exported))
    with exported.open(newline="", encoding="utf-8") as handle:
        rows = {row["package_id"]: row for row in csv.DictReader(handle)}
    row = rows[package_id]
    assert row["company"] == "'" + HOSTILE_COMPANY and row["status"] == "interviewing"
    assert "first call on Friday" in row["notes"] and row["posting_url"] == HOSTILE_POSTING["url"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows.values() for cell in r.values())

    # A new search over the same postings: the posting is flagged and gets no second package.
    second_thread = f"again-{tmp_path.name[-12:]}"
    waiting_again = start(home, database_url, jobs_dir, second_thread, JOBLAND_RENDER_PDF="false")
    assert waiting_again, "other postings still make packages"
    assert HOSTILE_COMPANY not in {p["company"] for p in waiting_again}
    screened = run_json(home, database_url, "screen", "--cv", str(EXAMPLE_CV), "--jobs", str(jobs_dir))
    (flagged,) = [r for r in screened if r["company"] == HOSTILE_COMPANY]
    assert flagged["probability"] == "Low"
    assert flagged["reasons"][0].startswith("Already applied on ") and "(status: interviewing)" in flagged["reasons"][0]
