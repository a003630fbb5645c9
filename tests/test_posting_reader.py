"""The posting reader, the person reader and the search reader, one test per way of misreading a posting
(issue 17), on postings of the team's own wording (tests/fixtures/screening/postings and inline texts)."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest

from jobland.agents.intake import parse_search_message
from jobland.agents.screener import screen_posting, with_search
from jobland.domain import places
from jobland.domain.models import JobPosting, JobScreeningOutput, Profile
from jobland.domain.person import read_person
from jobland.domain.places import areas_in, find_area, within
from jobland.domain.posting_facts import PostingFacts
from jobland.domain.posting_reader import read_posting
from jobland.domain.search_reader import read_search
from jobland.domain.skills import SATISFIED_BY
from jobland.tools.cv_import import import_profile
from jobland.tools.job_folder import load_folder
from tests.conftest import FIXTURES

SET = FIXTURES / "screening"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SEARCHES = {
    "dana": "data engineer roles, Berlin or remote within the EU",
    "ben": "senior Python backend, Munich or remote, at least 75k",
}
CVS = {"dana": "dana-weber.md", "ben": "benedikt-maier.resume.json"}


@cache
def postings() -> dict[str, JobPosting]:
    batch = load_folder(SET / "postings", now=NOW)
    return {p.source.removeprefix("folder:").split("-")[0]: p for p in batch.postings}


@cache
def persona(name: str) -> Profile:
    return import_profile(SET / "personas" / CVS[name])


def facts(key: str) -> PostingFacts:
    facts = postings()[key].facts
    assert facts is not None, "the folder source stores what the reader read"
    return facts


def screen(name: str, key: str, query: str | None = None, similarity: float = 0.8) -> JobScreeningOutput:
    request = parse_search_message(query or SEARCHES[name])
    profile = with_search(persona(name), request)
    return screen_posting(profile, postings()[key], similarity, now=NOW, search=read_search(request.query))


# --------------------------------------------------------------------------- place and workplace


def test_places_resolve_districts_spellings_and_regions_with_the_gazetteer() -> None:
    munich = find_area("Munich")
    assert munich is not None
    for spelling in ("München", "Muenchen", "München-Schwabing"):
        assert find_area(spelling) == munich
    assert find_area("Köln") == find_area("Cologne") != None  # noqa: E711
    assert find_area("Berlin-Neukölln") == find_area("Berlin")
    assert find_area("Deutschland") == find_area("Germany")
    eu = find_area("EU")
    assert eu is not None and within(munich, eu) and not within(find_area("London"), eu)  # type: ignore[arg-type]
    assert [a.name for a in areas_in("the United States or Canada")] == ["United States", "Canada"]


def test_the_city_table_is_kept_whole_loaded_after_and_built_again_when_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "__pycache__" / f"{places._KEPT_CITIES}-new.pickle"
    earlier = kept.with_name(f"{places._KEPT_CITIES}-old.pickle")  # kept by the version before an upgrade
    earlier.parent.mkdir()
    earlier.write_bytes(b"old")
    table = {"berlin": ("Berlin", "DE", 3_600_000)}
    builds: list[int] = []
    monkeypatch.setattr(places, "_kept_cities_path", lambda: kept)
    monkeypatch.setattr(places, "_built_cities", lambda: builds.append(1) or dict(table))
    places._cities.cache_clear()
    try:
        assert places._cities() == table and len(builds) == 1
        assert pickle.loads(kept.read_bytes()) == table and kept.stat().st_mode & 0o777 == 0o644
        assert [p.name for p in kept.parent.iterdir()] == [kept.name], "no temporary or earlier table left"
        places._cities.cache_clear()
        assert places._cities() == table and len(builds) == 1, "the next process loads it"
        kept.write_bytes(pickle.dumps(table)[:20])  # cut short, as by a full disk
        places._cities.cache_clear()
        assert places._cities() == table and len(builds) == 2
        assert pickle.loads(kept.read_bytes()) == table, "written whole again"
    finally:
        places._cities.cache_clear()


@pytest.mark.parametrize(
    ("key", "workplace", "remote_within", "places"),
    [
        ("d05", "onsite", [], ["Osaka"]),  # "On-site in Osaka, no remote"
        ("d06", "remote", ["United States"], []),  # "Remote (US only)"
        ("d31", "remote", ["United States", "Canada"], []),  # "open to candidates located in the US or Canada"
        ("b10", "remote", ["United States"], []),  # "remote for US residents only"
        ("b32", "remote", ["United Kingdom"], []),  # "must be based in the United Kingdom"
        ("d18", "onsite", [], ["Munich"]),  # "München-Schwabing", "On-site, no remote"
        ("d19", "hybrid", [], ["Cologne"]),  # "Köln", "Remote work outside that is not possible"
        ("d03", "hybrid", [], ["Berlin"]),  # "Einsatzort: Berlin-Neukölln"
        ("b03", "hybrid", [], ["Munich"]),  # "Einsatzort: Muenchen"
        ("d20", "remote", ["Germany"], []),  # "Remote (Germany)"
        ("d29", "remote", ["EEA"], []),  # "Remote — within EU/EEA time zones"
    ],
)
def test_workplace_negations_restrictions_and_german_headers(
    key: str, workplace: str, remote_within: list[str], places: list[str]
) -> None:
    read = facts(key)
    assert read.workplace == workplace
    assert [a.name for a in read.remote_within] == remote_within
    assert [a.name for a in read.places] == places


def test_a_restricted_remote_role_or_another_city_is_ruled_out() -> None:
    for key, named in (("d05", "Onsite role in Osaka"), ("d06", "Remote only for people in United States")):
        result = screen("dana", key)
        assert result.probability == "Low" and result.deal_breakers[0].startswith(named), result.deal_breakers
    assert screen("ben", "b19").probability == "High"  # "Hybrid – München (Büro in München-Schwabing)"


# --------------------------------------------------------------------------- eligibility in the body


@pytest.mark.parametrize(
    ("name", "key", "named"),
    [
        ("dana", "d08", "Relocation to Singapore is required"),
        ("ben", "b13", "Relocation to Dubai is required"),
        ("dana", "d09", "Needs the right to work in United Kingdom (no sponsorship)"),
        ("dana", "d10", "Requires a security clearance your CV does not show"),
    ],
)
def test_eligibility_written_in_the_body_rules_a_good_match_out(name: str, key: str, named: str) -> None:
    result = screen(name, key)
    assert result.probability == "Low"
    assert any(b.startswith(named) for b in result.deal_breakers), result.deal_breakers


def test_a_work_permit_the_person_has_is_no_obstacle() -> None:
    assert [a.name for a in facts("b20").work_permit_in] == ["EU"]
    result = screen("ben", "b20")
    assert result.probability == "High"
    assert "Needs the right to work in EU, which you have" in result.reasons


# --------------------------------------------------------------------------- languages


def test_spoken_languages_are_read_from_any_cv_shape() -> None:
    dana = read_person(persona("dana"), date(2026, 12, 1))  # Markdown: "Spoken languages: English (C2), ..."
    assert dana.languages == {"en": "C2", "de": "B1", "pl": "native"}
    ben = read_person(persona("ben"), date(2026, 12, 1))  # JSON Resume `languages`
    assert ben.languages == {"de": "native", "en": "C1"}
    assert dana.home == find_area("Berlin") and ben.home == find_area("Munich")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Deutsch C1 (zwingend), da alle Fachgespräche auf Deutsch stattfinden", [("German", "C1", True)]),
        ("Deutschkenntnisse ab B1, Englisch fließend", [("German", "B1", True), ("English", "C1", True)]),
        ("Fluent Japanese (JLPT N1 or equivalent) is required", [("Japanese", "C1", True)]),
        ("Polish at native or C1 level (required), English B2", [("Polish", "C1", True), ("English", "B2", True)]),
        ("English C2 and French C1 required", [("English", "C2", True), ("French", "C1", True)]),
        ("Business-level English; Japanese is welcome but not required.", [("English", "B2", True)]),
        ("Fluent Swahili or Tagalog is a plus", [("Swahili", "C1", False), ("Tagalog", "C1", False)]),
    ],
)
def test_language_requirements_with_levels_for_any_iso_language(text: str, expected: list[tuple]) -> None:
    read = read_posting(title="Engineer", text=f"Requirements:\n- {text}")
    assert [(n.name, n.level, n.required) for n in read.languages] == expected


def test_a_required_level_above_the_persons_is_a_deal_breaker_and_below_is_fine() -> None:
    mandatory = screen("dana", "d04")  # "Deutsch C1 (zwingend)", Dana speaks B1
    assert mandatory.probability == "Low"
    assert "Requires Deutsch C1 (zwingend); you speak German at B1" in mandatory.deal_breakers
    assert screen("dana", "d03").probability == "High"  # "Deutschkenntnisse ab B1"
    assert screen("dana", "d23").probability == "High"  # Polish (native or C1) required, she is native
    assert screen("dana", "d22").probability == "Low"  # fluent Japanese required


# --------------------------------------------------------------------------- must-have vs nice-to-have


def test_any_of_groups_nice_to_haves_and_incidental_words() -> None:
    fjord = facts("d07")
    assert [r.any_of for r in fjord.must_haves] == [
        ("Python",),
        ("SQL",),
        ("Snowflake", "BigQuery", "Redshift"),
        ("Workflow Orchestration", "Airflow", "Dagster", "Prefect"),
    ]
    assert {r.label for r in fjord.nice_to_haves} == {"Terraform", "Kafka"}
    tidewater = screen("dana", "d26")  # "work with marketing, and the rest of the team ... REST services"
    assert tidewater.missing_skills == [] and tidewater.probability == "High"
    assert any(r.startswith("Experience fits: posting asks 3+ years") for r in tidewater.reasons)  # a floor
    assert "Marketing" not in {t for r in facts("d26").requirements for t in r.any_of}
    # A nice-to-have the person lacks costs nothing; one they have only adds.
    nice_only = screen("ben", "b16")
    assert nice_only.probability == "High" and nice_only.missing_skills == []


def test_every_must_have_has_its_evidence_and_the_missing_ones_are_exactly_the_gaps() -> None:
    result = screen("ben", "b04")  # Go is a must-have (and the title's core skill) Ben lacks
    assert result.missing_skills == ["Go", "Protocol Buffers"]
    assert result.probability == "Medium" and "core skill (Go)" in result.reasons[0]
    ids = persona("ben").highlight_by_id()
    shown = {e.requirement: e.highlight_ids for e in result.evidence}
    assert set(shown) == {"gRPC", "PostgreSQL", "Kubernetes"}
    assert shown["Kubernetes"] and all(i in ids for i in shown["Kubernetes"])


# --------------------------------------------------------------------------- vocabulary


def test_generic_vocabulary_is_met_by_concrete_skills() -> None:
    read = facts("d02")  # ELT, workflow orchestration, lakehouse, stream processing, infrastructure as code
    assert {"Infrastructure as Code", "Cloud Data Warehouse", "Automated Tests"} <= {r.label for r in read.must_haves}
    assert {"Data Pipelines", "Workflow Orchestration", "Lakehouse", "Stream Processing"} <= {
        r.label for r in read.nice_to_haves
    }
    result = screen("dana", "d02")
    assert result.probability == "High" and result.missing_skills == []
    dana = read_person(persona("dana"), date(2026, 12, 1))
    generic = read_posting(
        title="Data Engineer",
        text="Requirements:\n- ELT and workflow orchestration\n- A lakehouse\n- Stream processing\n"
        "- Infrastructure as code",
    )
    assert {r.label for r in generic.must_haves} == {
        "Data Pipelines",
        "Workflow Orchestration",
        "Lakehouse",
        "Stream Processing",
        "Infrastructure as Code",
    }
    assert all(any(s in dana.evidence for s in SATISFIED_BY[r.label]) for r in generic.must_haves)
    helix = screen("ben", "b17")  # API design, relational databases, containers, message queues
    assert helix.probability == "High" and helix.missing_skills == []


# --------------------------------------------------------------------------- role families and the search


def test_an_adjacent_role_is_medium_at_best_unless_the_search_asks_for_it() -> None:
    backend = screen("dana", "d12")
    assert backend.probability == "Medium" and "the role family is not yours" in backend.reasons[0]
    asked = screen("dana", "d12", query="backend or data engineer roles, Berlin or remote within the EU")
    assert asked.probability == "High"


@pytest.mark.parametrize(("name", "key"), [("dana", "d14"), ("dana", "d15"), ("ben", "b18"), ("ben", "b30")])
def test_keyword_stuffed_postings_from_other_fields_are_low(name: str, key: str) -> None:
    result = screen(name, key, similarity=1.0)
    assert result.probability == "Low" and result.match_score <= 30
    assert result.deal_breakers[-1].startswith("Different field")


def test_the_search_text_changes_the_verdicts_on_the_embedded_default() -> None:
    remote_data = "data engineer roles, remote"
    assert screen("dana", "d01", query=remote_data).probability == "Low"  # Berlin hybrid: not remote
    assert screen("dana", "d01").probability == "High"
    assert screen("ben", "b06", query="senior Python backend, Berlin").probability == "High"
    assert screen("ben", "b06").probability == "Low"  # Berlin, not Munich
    intent = read_search("senior Python backend, Munich or remote, at least 75k")
    assert intent.families == ["backend"] and [a.name for a in intent.places] == ["Munich"]
    assert intent.min_salary == 75_000 and intent.remote_ok and not intent.remote_only


@pytest.mark.parametrize(
    ("location", "text", "workplace", "remote_within", "relocation", "permit"),
    [
        ("Remote - US", "", "remote", ["United States"], [], []),
        ("Lisbon, Portugal (remote possible within Portugal)", "", "remote", ["Portugal"], [], []),
        ("", "This is a remote position within the United States.", "remote", ["United States"], [], []),
        ("", "Remote-Arbeit in ganz Deutschland möglich.", "remote", ["Germany"], [], []),
        ("Berlin", "You will need to relocate to Amsterdam within 3 months.", None, [], ["Amsterdam"], []),
        ("Berlin", "We offer relocation support to Berlin.", None, [], [], []),
        ("", "Applicants must have valid work authorization in Canada.", None, [], [], ["Canada"]),
        (
            "",
            "Visa sponsorship is not available; you must have the right to work in the UK.",
            None,
            [],
            [],
            ["United Kingdom"],
        ),
    ],
)
def test_workplace_and_eligibility_in_other_wordings(
    location: str, text: str, workplace: str | None, remote_within: list[str], relocation: list[str], permit: list[str]
) -> None:
    read = read_posting(title="Data Engineer", text=text, location_text=location)
    assert read.workplace == workplace
    assert [a.name for a in read.remote_within] == remote_within
    assert [a.name for a in read.relocation_to] == relocation
    assert [a.name for a in read.work_permit_in] == permit


def test_examples_in_brackets_are_one_requirement_and_a_clearance_is_no_skill() -> None:
    read = read_posting(
        title="Data Engineer",
        text="Requirements:\n- Experience with orchestration tools (Airflow, Dagster)\n"
        "- Requires an active Secret clearance\n- Python basics, Django is a plus",
    )
    assert [(r.any_of, r.must) for r in read.requirements] == [
        (("Workflow Orchestration", "Airflow", "Dagster"), True),
        (("Python",), True),
        (("Django",), False),
    ]
    assert read.clearance == "Requires an active Secret clearance"
