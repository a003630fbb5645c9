"""Shared by the test modules: screening."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langgraph.types import Send
from typing_extensions import TypedDict

from jobland.domain.models import (
    Basics,
    Highlight,
    JobPosting,
    LanguageItem,
    MonetaryAmount,
    Organization,
    Place,
    PostalAddress,
    Preferences,
    Profile,
    SearchRequest,
    SkillItem,
    WorkItem,
)
from jobland.graph.state import ScreeningVerdict, ScreenJobInput


def work(employer: str, position: str, start: str, end: str | None, *highlights: str) -> WorkItem:
    return WorkItem(
        name=employer,
        position=position,
        startDate=start,
        endDate=end,
        highlights=[Highlight.make("work", employer, h) for h in highlights],
    )


def backend_profile(**preferences: Any) -> Profile:
    """A senior Python backend engineer in Berlin with eight years of experience."""
    wanted: dict[str, Any] = {
        "locations": ["Berlin"],
        "remote": "remote_or_hybrid",
        "salary_floor": 70_000,
        "salary_currency": "EUR",
        "deal_breakers": ["crypto", "gambling"],
    }
    return Profile(
        id="prof_ana",
        source="ana.json",
        content_hash="ana-1",
        basics=Basics(
            name="Ana Costa",
            label="Senior Backend Engineer",
            summary="Backend engineer building Python services, APIs and data platforms on AWS.",
        ),
        work=[
            work(
                "Shopwise",
                "Senior Backend Engineer",
                "2021-01",
                None,
                "Designed REST APIs in Python and FastAPI serving 20M requests a day",
                "Migrated PostgreSQL clusters to AWS with zero downtime",
                "Ran services on Kubernetes with Helm and ArgoCD",
            ),
            work(
                "Dataloop",
                "Backend Developer",
                "2018-09",
                "2020-12",
                "Built Django services and Celery workers backed by Redis",
                "Introduced pytest and CI/CD with GitHub Actions",
            ),
        ],
        skills=[
            SkillItem(name="Backend", keywords=["Python", "Django", "FastAPI", "PostgreSQL", "Redis", "Docker", "AWS"])
        ],
        languages=[LanguageItem(language="English", fluency="Native"), LanguageItem(language="Portuguese")],
        preferences=Preferences(**{**wanted, **preferences}),
    )


def berlin(city: str = "Berlin") -> list[Place]:
    return [Place(address=PostalAddress(addressLocality=city, addressCountry="Germany"))]


def posting(**fields: Any) -> JobPosting:
    """A senior Python backend role in Berlin, hybrid, 75-90k EUR; fields override any part."""
    values: dict[str, Any] = {
        "id": "post_backend",
        "title": "Senior Backend Engineer (Python)",
        "hiringOrganization": Organization(name="Acme Logistics"),
        "jobLocation": berlin(),
        "workplace": "hybrid",
        "baseSalary": MonetaryAmount(currency="EUR", minValue=75_000, maxValue=90_000),
        "description": (
            "We are looking for a senior backend engineer to build and scale our logistics APIs. "
            "You will design services in Python and FastAPI, own PostgreSQL schemas, and run them on "
            "Kubernetes in AWS. Experience with Kafka is a plus."
        ),
        "skills": ["Python", "FastAPI", "PostgreSQL", "Kubernetes", "AWS", "Kafka"],
        "languages": ["English"],
        "source": "test",
        "content_hash": "post-1",
        "canonical_key": "acme-backend",
    }
    values.update(fields)
    return JobPosting(**values)


def nursing_posting() -> JobPosting:
    return posting(
        id="post_nurse",
        title="Registered Nurse (ICU)",
        hiringOrganization=Organization(name="St. Mary Hospital"),
        description="Registered nurse for our intensive care ward: patient care, medication, night shifts.",
        skills=[],
        content_hash="post-nurse",
        canonical_key="mary-nurse",
    )


class FanOutState(TypedDict, total=False):
    profile_id: str
    posting_ids: list[str]
    request: SearchRequest
    screenings: Annotated[list[ScreeningVerdict], operator.add]


def send_postings(state: FanOutState) -> list[Send]:
    return [
        Send("screen_job", ScreenJobInput(posting_id=pid, profile_id=state["profile_id"], request=state["request"]))
        for pid in state["posting_ids"]
    ]
