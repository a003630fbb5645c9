"""The facts a careful reader takes from a posting, as records (domain/posting_reader.py reads them).

Kept apart from the reader so that domain/models.py can store them on a JobPosting without importing
the reader's vocabularies.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2", "native")
CefrLevel = Literal["A1", "A2", "B1", "B2", "C1", "C2", "native"]
Workplace = Literal["remote", "hybrid", "onsite"]
SectionKind = Literal["requirements", "nice", "responsibilities", "benefits", "about", "boilerplate", "other"]


class Fact(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Area(Fact):
    """A place resolved by the gazetteer: a city, a country or a region such as the EU."""

    name: str
    kind: Literal["city", "country", "region"]
    countries: tuple[str, ...] = Field(description="ISO 3166 alpha-2 codes the area lies in or covers.")


class Requirement(Fact):
    """One requirement: met by any one of `any_of` (canonical skills or concepts)."""

    text: str = Field(description="The requirement as the posting words it.")
    any_of: tuple[str, ...]
    must: bool = True
    core: bool = Field(default=False, description="Named in the title: the role's main skill.")

    @property
    def label(self) -> str:
        return self.any_of[0] if len(self.any_of) == 1 else ", ".join(self.any_of[:-1]) + " or " + self.any_of[-1]


class LanguageNeed(Fact):
    code: str = Field(description="ISO 639-1 code.")
    name: str = Field(description="English name, e.g. German.")
    level: CefrLevel | None = None
    required: bool = True
    text: str = ""


class PostingFacts(Fact):
    """What the posting says, read once (see domain.posting_reader)."""

    sections: dict[SectionKind, list[str]] = Field(default_factory=dict)
    requirements: list[Requirement] = Field(default_factory=list)
    places: list[Area] = Field(default_factory=list, description="Where the work is done (on-site or hybrid).")
    workplace: Workplace | None = None
    remote_allowed: bool = False
    remote_within: list[Area] = Field(
        default_factory=list, description="Where a remote worker must live; empty: anywhere."
    )
    relocation_to: list[Area] = Field(default_factory=list)
    work_permit_in: list[Area] = Field(
        default_factory=list, description="Where the person must already be allowed to work."
    )
    clearance: str | None = Field(default=None, description="The sentence asking for a security clearance.")
    languages: list[LanguageNeed] = Field(default_factory=list)
    seniority: str | None = None
    seniority_from_years: bool = Field(default=False, description="Read from the years asked, a floor only.")
    people_management: bool = False
    years: float | None = None
    family: str | None = None
    written_in: str = Field(default="en", description='The language the posting is written in: "en" or "de".')
    working_language: str | None = Field(
        default=None,
        description='The language the team works in when the posting says ("our working language is English").',
    )
    informal: bool = Field(default=False, description='The posting says "du" to the reader (German).')
    contact_name: str | None = Field(default=None, description="The person the posting names as its contact.")
    contact_form: Literal["f", "m"] | None = Field(
        default=None,
        description='"f" or "m" when the posting writes "Ms"/"Frau" or "Mr"/"Herr" before the contact name.',
    )

    @property
    def language_of_work(self) -> str:
        """The language the team works in: stated, else the one the posting is written in (ISO 639-1)."""
        return self.working_language or self.written_in

    @property
    def must_haves(self) -> list[Requirement]:
        return [r for r in self.requirements if r.must]

    @property
    def nice_to_haves(self) -> list[Requirement]:
        return [r for r in self.requirements if not r.must]
