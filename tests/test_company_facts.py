"""What a posting says about its company (domain/company_facts.py) and the dossier the researcher builds from it.

Sentences are the team's own, in the forms postings use (English and German); the measured test reads
every posting of the screening set and the bundled examples.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobland.agents.cover_letter_writer import company_fact
from jobland.agents.researcher import dossier_from_posting
from jobland.domain.company_facts import industries_in, named_team, short_name, topic_of
from jobland.domain.posting_reader import plain_title, read_contact, read_working_language
from jobland.tools.job_folder import load_folder
from tests.conftest import FIXTURES

EXAMPLE_JOBS = Path(__file__).resolve().parent.parent / "examples" / "jobs"
NOW = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sentence", "company", "topic"),
    [
        ("Kontrast moves 2 million riders a month.", "Kontrast Mobility GmbH", "business"),
        ("We run the largest online marketplace for car parts in Poland.", "Wisła Commerce Sp. z o.o.", "business"),
        ("Wir digitalisieren die Verwaltung von 18.000 Wohnungen.", "Spreekiez Wohnen GmbH", "business"),
        ("Isarsoft entwickelt Software für Stadtwerke in Bayern.", "Isarsoft GmbH", "business"),
        ("Our platform combines sensor data from 9,000 measuring stations.", "Polderdata B.V.", "products"),
        ("Unsere Plattform plant die Netze von 120 Stadtwerken.", "Isarsoft GmbH", "products"),
        ("600,000 customers in Germany and France trust us.", "Lumen Insurance", "customers"),
        ("Mehr als 300 Kunden nutzen unsere Software jeden Tag.", "Kanzleicloud GmbH", "customers"),
        ("We are 120 people in Munich-Garching.", "Alpenwacht Security GmbH", "size"),
        ("Wir sind 90 Menschen in einem Büro an der Isar.", "Isarsoft GmbH", "size"),
        ("We are profitable and have been family-owned since 1998.", "Hanse Reederei", "stage"),
        ("Das Unternehmen wurde 2015 in Leipzig gegründet.", "Lernfeld GmbH", "stage"),
        ("Our headquarters are in Hamburg-HafenCity, next to the Elbe.", "Hafenwerk Cloud GmbH", "locations"),
        ("Hybrid: two days a week in our Kreuzberg office.", "Kontrast Mobility GmbH", "locations"),
        ("Our data team builds the pipelines behind pricing and fleet planning.", "Kontrast Mobility GmbH", "team"),
        ("You join a team of four data engineers.", "Fjordline Logistics AS", "team"),
        ("Unser Team besteht aus Entwicklerinnen und Entwicklern aus acht Ländern.", "Brezn Software GmbH", "team"),
        ("Our mission is to make every shipment traceable from dock to door.", "Northwind Logistics", "mission"),
        ("Unsere Mission: die Energiewende vor Ort möglich machen.", "Isarsoft GmbH", "mission"),
        ("We value clear writing, calm deadlines and kindness in code review.", "Tidewater Health", "culture"),
        ("We work asynchronously and write design docs for every change.", "Fernweh Mobility", "culture"),
        ("Northwind announced this month that it is opening a second office.", "Northwind Logistics", "recent_news"),
        # Not about the company: the candidate, the application, benefits, eligibility, boilerplate.
        ("You will run our Kubernetes clusters and keep them healthy.", "Northwind Logistics", None),
        ("Du entwickelst Zahlungs-APIs mit Python und FastAPI.", "Zahlwerk GmbH", None),
        ("We are an equal opportunity employer and value diversity of every kind.", "Kontrast Mobility GmbH", None),
        ("We offer you 30 days of holiday and a learning budget.", "Kontrast Mobility GmbH", None),
        ("Wir bieten dir 30 Tage Urlaub und ein Jobrad.", "Brezn Software GmbH", None),
        ("We cannot sponsor visas for this position.", "Eurolend Bank N.V.", None),
        ("Questions? Write to jobs@northwind.example before you apply.", "Northwind Logistics", None),
        ("Fully remote, anywhere in Germany.", "Quadrat Immobilien-Tech", None),
    ],
)
def test_each_sentence_goes_to_the_topic_it_speaks_to(sentence: str, company: str, topic: str | None) -> None:
    assert topic_of(sentence, company) == topic


def test_a_duty_counts_only_as_what_the_team_works_on() -> None:
    assert topic_of("Own our dbt project and Airflow deployment", "Baltica", listed=True) == "team"
    assert topic_of("Betrieb unserer Dienste in Docker und Kubernetes", "Brezn", listed=True) == "team"
    assert topic_of("Design PostgreSQL schemas", "Ticketwerk", listed=True) is None


def test_names_fields_and_teams_are_read_as_a_person_writes_them() -> None:
    assert short_name("Kontrast Mobility GmbH") == "Kontrast Mobility"
    assert short_name("Acme Co.") == "Acme" and short_name("Wisła Commerce Sp. z o.o.") == "Wisła Commerce"
    assert short_name("Brezn Software GmbH & Co. KG") == "Brezn Software" and short_name("Ledgerline") == "Ledgerline"
    assert plain_title("Senior Data Engineer (m/w/d)") == "Senior Data Engineer"
    assert plain_title("Data Engineer (Remote, EU)") == "Data Engineer"
    assert industries_in("Built Django services for car-sharing bookings") == {
        "mobility": "car-sharing",
        "travel and ticketing": "bookings",
    }
    assert "payments" in industries_in("AlpenPay runs invoicing for 30,000 Bavarian businesses.")
    assert named_team(["You will join the Payments Platform team that moves money."]) == "Payments Platform"
    assert named_team(["Our data team builds pipelines."]) is None, "a lower-case team is not a name"
    assert read_working_language("Wir sind international: Unsere Arbeitssprache ist Englisch.") == "en"
    assert read_working_language("Our working language is English.") == "en"
    assert read_working_language("Du sprichst fließend Deutsch.") is None
    assert read_contact("Ansprechpartnerin: Frau Dr. Jana Schulz, jana@x.example") == ("Jana Schulz", "f")
    assert read_contact("Questions? Contact our recruiter Lena Vogt.") == ("Lena Vogt", None)
    assert read_contact("Kontakt: Bitte Bewerbung über das Portal") == (None, None)


def test_dossiers_of_real_postings_say_what_the_company_does_with_sources() -> None:
    dossiers = {}
    # The bundled demo's postings, then the screening set's (written terse on purpose: many name only the role).
    for folder, per_company, empty_share in ((EXAMPLE_JOBS, 4, 0), (FIXTURES / "screening" / "postings", 1, 0.2)):
        found = {p.source: (p, dossier_from_posting(p)) for p in load_folder(folder, now=NOW).postings}
        facts = sum(len(d.facts()) for _, d in found.values())
        empty = [source for source, (_, d) in found.items() if not d.facts()]
        print(f"{folder.name}: {facts / len(found):.1f} facts per company, {len(empty)} of {len(found)} empty: {empty}")
        assert facts / len(found) >= per_company and len(empty) <= empty_share * len(found)
        dossiers |= found
    for posting, dossier in dossiers.values():
        assert all(f.source == f"posting:{posting.id}" and f.source_kind == "job_posting" for f in dossier.facts())
        if not any(getattr(dossier, t) for t in ("business", "products", "customers", "mission")):
            assert dossier.note and "says nothing about what" in dossier.note and "EXA_API_KEY" in dossier.note
        else:
            assert dossier.note is None

    def letter_fact(source: str, language: str) -> str:
        posting, dossier = dossiers[source]
        chosen = company_fact(dossier, posting, language)
        assert chosen is not None
        return chosen[2].text

    # What the company does, not the hybrid policy; German postings give German facts.
    assert (
        letter_fact("folder:d01-kontrast-senior-data-engineer.html", "en") == "Kontrast moves 2 million riders a month."
    )
    assert letter_fact("folder:d03-spreekiez-data-engineer.txt", "de") == (
        "Wir digitalisieren die Verwaltung von 18.000 Wohnungen."
    )
    isarsoft = dossiers["folder:isarsoft-senior-python-entwickler.html"][1]
    assert [f.text for f in isarsoft.size] == [
        "Wir sind 90 Menschen in einem Büro an der Isar im Münchner Stadtteil Au."
    ]
    assert isarsoft.mission[0].text == "Unsere Mission: die Energiewende vor Ort möglich machen."
