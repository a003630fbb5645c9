"""The records that services produce and every other layer reads.

Profile follows JSON Resume (every highlight gains a stable id); JobPosting follows schema.org
JobPosting names. Nothing here knows about LangGraph, tools or agents.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jobland.domain.posting_facts import PostingFacts
from jobland.domain.text import stable_id


def utcnow() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# --------------------------------------------------------------------------- profile (JSON Resume)


class Location(Record):
    address: str | None = None
    postalCode: str | None = None
    city: str | None = None
    countryCode: str | None = None
    region: str | None = None


class SocialProfile(Record):
    network: str | None = None
    username: str | None = None
    url: str | None = None


class Basics(Record):
    name: str = ""
    label: str | None = None
    email: str | None = None
    phone: str | None = None
    url: str | None = None
    image: str | None = None
    summary: str | None = None
    location: Location | None = None
    profiles: list[SocialProfile] = Field(default_factory=list)


class Highlight(Record):
    """One claim of the master CV. Its id is what tailored documents cite as evidence."""

    id: str
    text: str

    @classmethod
    def make(cls, section: str, owner: str, text: str) -> Highlight:
        return cls(id=stable_id("hl", section, owner, text), text=text)


class WorkItem(Record):
    name: str = ""
    position: str | None = None
    location: str | None = None
    description: str | None = Field(default=None, description="What the organisation is, in a few words.")
    url: str | None = None
    startDate: str | None = None
    endDate: str | None = None
    summary: str | None = None
    highlights: list[Highlight] = Field(default_factory=list)


class EducationItem(Record):
    institution: str = ""
    url: str | None = None
    area: str | None = None
    studyType: str | None = None
    startDate: str | None = None
    endDate: str | None = None
    score: str | None = None
    courses: list[str] = Field(default_factory=list)


class AwardItem(Record):
    title: str = ""
    date: str | None = None
    awarder: str | None = None
    summary: str | None = None


class CertificateItem(Record):
    name: str = ""
    date: str | None = None
    issuer: str | None = None
    url: str | None = None


class SkillItem(Record):
    name: str
    level: str | None = None
    keywords: list[str] = Field(default_factory=list)


class LanguageItem(Record):
    language: str
    fluency: str | None = None


class ProjectItem(Record):
    name: str = ""
    description: str | None = None
    url: str | None = None
    startDate: str | None = None
    endDate: str | None = None
    keywords: list[str] = Field(default_factory=list)
    highlights: list[Highlight] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    entity: str | None = Field(default=None, description="Whom the project was for or with.")
    type: str | None = Field(default=None, description='E.g. "application", "conference talk".')


class PublicationItem(Record):
    name: str = ""
    publisher: str | None = None
    releaseDate: str | None = None
    url: str | None = None
    summary: str | None = None


class InterestItem(Record):
    name: str
    keywords: list[str] = Field(default_factory=list)


class ReferenceItem(Record):
    name: str = ""
    reference: str | None = None


Seniority = Literal["intern", "junior", "mid", "senior", "lead", "principal", "executive"]
RemotePreference = Literal["remote_only", "remote_or_hybrid", "any", "onsite_only"]


class Preferences(Record):
    """What the person will and will not accept; the screener treats these as hard constraints."""

    locations: list[str] = Field(default_factory=list)
    remote: RemotePreference = "any"
    seniority: list[Seniority] = Field(default_factory=list)
    salary_floor: int | None = None
    salary_currency: str | None = None
    required_languages: list[str] = Field(
        default_factory=list, description="Languages the person speaks; a posting requiring another is a deal-breaker."
    )
    deal_breakers: list[str] = Field(default_factory=list, description="Phrases that rule a posting out.")


def profile_id_for(content_hash: str) -> str:
    """The id of the Profile read from a file with this content hash: the same bytes, the same profile."""
    return stable_id("prof", content_hash)


class Profile(Record):
    """A master CV in JSON Resume shape, plus preferences."""

    id: str
    source: str = Field(description="File name the profile was imported from.")
    content_hash: str
    basics: Basics = Field(default_factory=Basics)
    work: list[WorkItem] = Field(default_factory=list)
    volunteer: list[WorkItem] = Field(default_factory=list)
    education: list[EducationItem] = Field(default_factory=list)
    awards: list[AwardItem] = Field(default_factory=list)
    certificates: list[CertificateItem] = Field(default_factory=list)
    skills: list[SkillItem] = Field(default_factory=list)
    languages: list[LanguageItem] = Field(default_factory=list)
    interests: list[InterestItem] = Field(default_factory=list)
    publications: list[PublicationItem] = Field(default_factory=list)
    references: list[ReferenceItem] = Field(default_factory=list)
    projects: list[ProjectItem] = Field(default_factory=list)
    meta: dict[str, Any] = Field(
        default_factory=dict, description="JSON Resume meta (canonical, version, lastModified), kept for export."
    )
    sections: list[str] = Field(default_factory=list, description="Section headings as they appear in the source.")
    preferences: Preferences = Field(default_factory=Preferences)

    @field_validator("interests", mode="before")
    @classmethod
    def _interest_names(cls, value: object) -> object:
        """A bare name is an interest without keywords (how profiles stored before keywords were kept)."""
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    def all_highlights(self) -> list[tuple[str, Highlight]]:
        """Every highlight with the name of what it belongs to (employer or project)."""
        found: list[tuple[str, Highlight]] = []
        for item in [*self.work, *self.volunteer]:
            found.extend((item.name, h) for h in item.highlights)
        for project in self.projects:
            found.extend((project.name, h) for h in project.highlights)
        return found

    def highlight_by_id(self) -> dict[str, Highlight]:
        return {h.id: h for _, h in self.all_highlights()}

    def skill_names(self) -> list[str]:
        names: list[str] = []
        for skill in self.skills:
            names.append(skill.name)
            names.extend(skill.keywords)
        return list(dict.fromkeys(n for n in names if n))

    def to_json_resume(self) -> dict:
        """The profile's fields in JSON Resume shape as the CV wrote them (highlights as strings): the text the
        checks hold documents to. The schema-valid export (ISO dates, links) is domain.json_resume's."""
        data = self.model_dump(
            exclude={"id", "source", "content_hash", "sections", "preferences", "meta"}, exclude_none=True
        )
        for key in ("work", "volunteer", "projects"):
            for item in data.get(key, []):
                item["highlights"] = [h["text"] for h in item.get("highlights", [])]
        return data


# --------------------------------------------------------------------------- job postings (schema.org)


class Organization(Record):
    name: str = ""
    sameAs: str | None = None
    description: str | None = None


class PostalAddress(Record):
    addressLocality: str | None = None
    addressRegion: str | None = None
    addressCountry: str | None = None
    postalCode: str | None = None
    streetAddress: str | None = None


class Place(Record):
    address: PostalAddress = Field(default_factory=PostalAddress)

    def label(self) -> str:
        parts = [self.address.addressLocality, self.address.addressRegion, self.address.addressCountry]
        return ", ".join(p for p in parts if p)


class MonetaryAmount(Record):
    currency: str | None = None
    minValue: float | None = None
    maxValue: float | None = None
    unitText: Literal["HOUR", "DAY", "WEEK", "MONTH", "YEAR"] = "YEAR"

    def yearly(self) -> tuple[float | None, float | None]:
        factor = {"HOUR": 2080, "DAY": 260, "WEEK": 52, "MONTH": 12, "YEAR": 1}[self.unitText]
        return (
            self.minValue * factor if self.minValue is not None else None,
            self.maxValue * factor if self.maxValue is not None else None,
        )


class JobPosting(Record):
    id: str
    title: str
    hiringOrganization: Organization = Field(default_factory=Organization)
    jobLocation: list[Place] = Field(default_factory=list)
    jobLocationType: str | None = Field(default=None, description='"TELECOMMUTE" for remote roles.')
    workplace: Literal["remote", "hybrid", "onsite"] | None = None
    datePosted: date | None = None
    validThrough: datetime | None = None
    employmentType: list[str] = Field(default_factory=list)
    baseSalary: MonetaryAmount | None = None
    description: str = ""
    skills: list[str] = Field(default_factory=list)
    qualifications: list[str] = Field(default_factory=list)
    responsibilities: list[str] = Field(default_factory=list)
    experienceRequirements: str | None = None
    seniority: Seniority | None = None
    languages: list[str] = Field(default_factory=list, description="Spoken languages the posting requires.")
    identifier: str | None = None
    source: str = Field(description='Where it came from, e.g. "folder:backend-berlin.json".')
    url: str | None = None
    fetched_at: datetime = Field(default_factory=utcnow)
    content_hash: str
    canonical_key: str = Field(description="Same job from two sources -> same key.")
    facts: PostingFacts | None = Field(
        default=None, description="What domain.posting_reader read from the posting, computed once by its source."
    )

    @property
    def company(self) -> str:
        return self.hiringOrganization.name

    def location_label(self) -> str:
        labels = [p.label() for p in self.jobLocation if p.label()]
        if self.workplace == "remote" or self.jobLocationType == "TELECOMMUTE":
            labels.append("Remote")
        return "; ".join(labels) or "unspecified"

    def full_text(self) -> str:
        parts = [self.title, self.company, self.description, *self.responsibilities, *self.qualifications]
        if self.skills:
            parts.append("Skills: " + ", ".join(self.skills))
        return "\n".join(p for p in parts if p)


class DiscardedPosting(Record):
    """A posting dropped before screening, with the reason a person can check."""

    source: str
    title: str = ""
    reason: str


# --------------------------------------------------------------------------- search and screening


class SearchRequest(Record):
    query: str = ""
    locations: list[str] = Field(default_factory=list)
    remote_ok: bool = True
    cv_path: str | None = None
    jobs_dir: str | None = Field(default=None, description="A folder of postings, or one posting file.")
    posting_url: str | None = Field(
        default=None, max_length=2000, description="One posting's web page; read instead of jobs_dir."
    )
    posting_text: str | None = Field(
        default=None, max_length=200_000, description="One posting's pasted text; read instead of jobs_dir."
    )
    max_packages: int = Field(default=10, ge=1, le=100)
    mode: Literal["apply", "screen"] = Field(default="apply", description='"screen" stops after screening.')
    min_salary: int | None = Field(default=None, description="Overrides the profile's salary floor when set.")
    watch_key: str | None = Field(
        default=None,
        description="A saved search's key (domain/watches.py): only postings it has not seen are screened.",
    )


Probability = Literal["High", "Medium", "Low"]


class RequirementEvidence(Record):
    requirement: str
    highlight_ids: list[str] = Field(
        default_factory=list, description="Highlights that show it; empty: the skills list."
    )


class JobScreeningOutput(Record):
    match_score: int = Field(ge=0, le=100)
    probability: Probability
    reasons: list[str] = Field(default_factory=list)
    missing_skills: list[str] = Field(default_factory=list)
    deal_breakers: list[str] = Field(default_factory=list)
    evidence: list[RequirementEvidence] = Field(
        default_factory=list, description="Each must-have the CV meets, with what shows it."
    )


# --------------------------------------------------------------------------- packages


class SourcedFact(Record):
    text: str
    source: str = Field(description="URL, or 'posting:<posting id>' when the posting itself says it.")
    source_kind: Literal["job_posting", "web"] = "job_posting"


class CompanyDossier(Record):
    """What is known about a company; an empty topic means unknown, never a guess."""

    company: str
    business: list[SourcedFact] = Field(default_factory=list, description="What the company does.")
    products: list[SourcedFact] = Field(default_factory=list)
    customers: list[SourcedFact] = Field(default_factory=list)
    size: list[SourcedFact] = Field(default_factory=list, description="People, offices, scale.")
    stage: list[SourcedFact] = Field(default_factory=list, description="Founding, funding, ownership, growth.")
    locations: list[SourcedFact] = Field(default_factory=list)
    team: list[SourcedFact] = Field(default_factory=list, description="What the posting says about the team.")
    mission: list[SourcedFact] = Field(default_factory=list)
    culture: list[SourcedFact] = Field(default_factory=list)
    recent_news: list[SourcedFact] = Field(default_factory=list)
    note: str | None = Field(default=None, description="Why so little is known, when the sources said little.")

    TOPICS: ClassVar[tuple[str, ...]] = (
        "business",
        "products",
        "customers",
        "size",
        "stage",
        "locations",
        "team",
        "mission",
        "culture",
        "recent_news",
    )

    def unknown_topics(self) -> list[str]:
        return [t for t in self.TOPICS if not getattr(self, t)]

    def facts(self) -> list[SourcedFact]:
        return [f for t in self.TOPICS for f in getattr(self, t)]


class EvidenceLine(Record):
    """One line of a generated document and the profile highlight ids it rests on."""

    section: str
    text: str
    highlight_ids: list[str] = Field(default_factory=list)
    source_fields: list[str] = Field(
        default_factory=list,
        description="Profile fields other than highlights it rests on, e.g. 'skills', 'basics.label'.",
    )
    reworded: bool = Field(
        default=False,
        description="The words are a writer's (an LLM's or the person's), not the cited evidence's own: "
        "the checks hold their meaning to what the line cites.",
    )


class RewrittenHighlight(Highlight):
    """A selected highlight in the model's words for one posting, with every highlight the words rest on."""

    rests_on: list[str]


class TailoredCV(Record):
    markdown: str
    html: str
    lines: list[EvidenceLine] = Field(default_factory=list)
    pdf_file: str | None = Field(default=None, description="Path relative to the data folder.")
    latex_file: str | None = Field(default=None, description="LaTeX source, relative to the data folder.")
    latex_pdf_file: str | None = Field(
        default=None, description="The LaTeX source compiled to PDF, when a TeX engine was installed."
    )
    latex_note: str | None = Field(default=None, description="Why the LaTeX source was not compiled, if it was not.")
    style: str = Field(default="classic", description="The CV layout it was rendered in.")
    pages: int | None = Field(default=None, description="Pages of the rendered PDF.")
    rewrites: dict[str, RewrittenHighlight] = Field(
        default_factory=dict,
        description="The writer's rewrites the CV was planned with, by highlight id: its layout plans with them.",
    )


class CoverLetter(Record):
    subject: str
    markdown: str
    html: str
    lines: list[EvidenceLine] = Field(default_factory=list)
    pdf_file: str | None = None
    language: str = Field(default="en", description="Language the letter is written in (ISO 639-1).")


class CheckResult(Record):
    name: str
    passed: bool
    details: list[str] = Field(default_factory=list)


class PackageStatus(StrEnum):
    pending = "pending"
    researching = "researching"
    generating = "generating"
    checking = "checking"
    ready = "ready"
    approved = "approved"
    rejected = "rejected"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    timeout = "timeout"


_S = PackageStatus
# The one table of a package's life. failed/timeout go back to pending (build again) or to sending (send
# again) only when the person asks; a person may also give up on them (rejected) or say they sent it (sent).
PACKAGE_TRANSITIONS: dict[PackageStatus, frozenset[PackageStatus]] = {
    _S.pending: frozenset({_S.researching, _S.failed, _S.timeout}),
    _S.researching: frozenset({_S.generating, _S.failed, _S.timeout}),
    _S.generating: frozenset({_S.checking, _S.failed, _S.timeout}),
    _S.checking: frozenset({_S.ready, _S.failed, _S.timeout}),
    _S.ready: frozenset({_S.approved, _S.rejected}),
    _S.approved: frozenset({_S.sending, _S.rejected}),  # a decision asked again after a crash may change
    _S.sending: frozenset({_S.sent, _S.failed, _S.timeout}),
    _S.failed: frozenset({_S.pending, _S.sending, _S.sent, _S.rejected}),
    _S.timeout: frozenset({_S.pending, _S.sending, _S.sent, _S.rejected}),
    _S.rejected: frozenset(),
    _S.sent: frozenset(),
}
BUILD_ORDER = (_S.pending, _S.researching, _S.generating, _S.checking)  # a package being built, in its order
BUILDING_STATUSES = frozenset(BUILD_ORDER)
UNFINISHED_STATUSES = frozenset({_S.failed, _S.timeout})


class InvalidTransition(ValueError):
    """A package was asked to move between two states the transition table does not join."""

    def __init__(self, package_id: str, current: PackageStatus, wanted: PackageStatus):
        allowed = ", ".join(sorted(PACKAGE_TRANSITIONS[current])) or "nothing (it is final)"
        super().__init__(f"package {package_id} is {current}; it cannot become {wanted} (from {current}: {allowed})")
        self.package_id, self.current, self.wanted = package_id, current, wanted


class StatusChange(Record):
    status: PackageStatus
    at: datetime = Field(default_factory=utcnow)
    note: str | None = None


class PrepEvidence(Record):
    """A master-CV highlight offered as the answer to an interview question."""

    highlight_id: str
    text: str
    owner: str = Field(default="", description="The employer or project the highlight belongs to.")
    star: str = Field(
        default="", description="A STAR prompt (situation, task, action, result) for answering from the highlight."
    )


class InterviewQuestion(Record):
    question: str
    requirement: str = Field(description="The posting's requirement (or dossier fact) the question comes from.")
    source: Literal["qualification", "responsibility", "skill", "dossier"]
    evidence: list[PrepEvidence] = Field(default_factory=list)


class PrepGap(Record):
    """Something the posting asks for that the master CV does not show."""

    topic: str
    kind: Literal["missing_skill", "no_evidence"]
    advice: str


class QuestionToAsk(Record):
    question: str
    basis: str = Field(description="The dossier fact (with its source) or the unknown topic that prompts it.")


class InterviewPrep(Record):
    """Interview preparation for one approved package; every line quotes the posting, dossier or profile."""

    company: str
    title: str
    questions: list[InterviewQuestion] = Field(default_factory=list)
    gaps: list[PrepGap] = Field(default_factory=list)
    questions_to_ask: list[QuestionToAsk] = Field(default_factory=list)


class UnsupportedLine(Record):
    """A line of a person's edit that the master CV does not support: the package is sent only once the
    person confirms this line by its id (`confirm_unsupported`)."""

    id: str = Field(description='"cv-…" or "letter-…": derived from the line\'s text, so it names that text only.')
    document: Literal["cv", "cover_letter"]
    text: str
    problems: list[str] = Field(default_factory=list)


class PackageVersion(Record):
    """One version of a package's documents: as JobLand built it (number 1), or as the person edited them."""

    number: int
    cv: TailoredCV | None = None
    cover_letter: CoverLetter | None = None
    flagged_claims: list[str] = Field(default_factory=list)
    edited_by: str | None = Field(default=None, description="Who edited it; None: as JobLand built it.")
    made_at: datetime | None = None


class ApplicationPackage(Record):
    id: str
    posting_id: str
    profile_id: str
    company: str
    title: str
    screening: JobScreeningOutput
    dossier: CompanyDossier | None = None
    cv: TailoredCV | None = None
    cover_letter: CoverLetter | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    flagged_claims: list[str] = Field(default_factory=list)
    status: PackageStatus = PackageStatus.pending
    history: list[StatusChange] = Field(default_factory=list)
    error: str | None = None
    interview_prep: InterviewPrep | None = Field(default=None, description="Written at delivery, once approved.")
    versions: list[PackageVersion] = Field(
        default_factory=list,
        description="Earlier versions of the documents, oldest first; cv and cover_letter are the current one.",
    )
    edited_by: str | None = Field(default=None, description="Who made the current version by an edit, if anyone.")
    edited_at: datetime | None = None
    edit_key: str | None = Field(
        default=None, description="The edit the current version is: applied once, however often asked."
    )
    unsupported_lines: list[UnsupportedLine] = Field(
        default_factory=list, description="Lines of the current edit the master CV does not support."
    )

    def with_status(self, status: PackageStatus, note: str | None = None) -> ApplicationPackage:
        """The package moved to `status`, timestamped; InvalidTransition if the table does not allow it.

        A failed or timed-out package keeps its error; any other move clears it.
        """
        if status not in PACKAGE_TRANSITIONS[self.status]:
            raise InvalidTransition(self.id, self.status, status)
        error = (note or self.error) if status in UNFINISHED_STATUSES else None
        return self.model_copy(
            update={
                "status": status,
                "error": error,
                "history": [*self.history, StatusChange(status=status, note=note)],
            }
        )

    def version(self, number: int | None = None) -> PackageVersion:
        """Version `number` (1 is as built; None, the current one); IndexError if there is none such."""
        current = PackageVersion(
            number=len(self.versions) + 1,
            cv=self.cv,
            cover_letter=self.cover_letter,
            flagged_claims=self.flagged_claims,
            edited_by=self.edited_by,
            made_at=self.edited_at or next((c.at for c in self.history if c.status == PackageStatus.ready), None),
        )
        chosen = current if number is None else ([*self.versions, current][number - 1] if number >= 1 else None)
        if chosen is None:
            raise IndexError(f"package {self.id} has versions 1 to {current.number}, not {number}")
        return chosen

    @property
    def was_approved(self) -> bool:
        """Whether the person approved it: a failure after that is a delivery's, not the build's."""
        return any(change.status == PackageStatus.approved for change in self.history)


class Decision(Record):
    """The person's answer for one package at review."""

    package_id: str
    action: Literal["accept", "edit", "reject", "retry"] = Field(
        description='"retry" builds a failed or timed-out package again; "reject" gives up on it.'
    )
    cv_markdown: str | None = Field(default=None, description="Edited CV text (action 'edit').")
    cover_letter_markdown: str | None = Field(default=None, description="Edited letter text (action 'edit').")
    confirm_unsupported: list[str] = Field(
        default_factory=list,
        description="Ids of an edit's unsupported lines the person sends anyway (ApplicationPackage.unsupported_lines).",
    )
    note: str | None = None


class DeliveryReceipt(Record):
    package_id: str
    message_id: str
    recipient: str
    location: str = Field(description="Where the message went: an outbox file or a provider's message id.")
    delivered_at: datetime = Field(default_factory=utcnow)


class DeadLetter(Record):
    """A delivery that did not go through: its attempts ran out, or its outcome is unknown.

    Nothing resends it by itself; the person chooses retry or mark-as-sent.
    """

    package_id: str
    thread_id: str
    owner: str = "local"
    company: str
    title: str
    kind: Literal["exhausted", "unknown_outcome"]
    reason: str
    mailer: str
    message_id: str
    at: datetime = Field(default_factory=utcnow)
    resolution: Literal["retried", "marked_sent"] | None = None
    resolved_at: datetime | None = None

    def resolved(self, resolution: Literal["retried", "marked_sent"]) -> DeadLetter:
        return self.model_copy(update={"resolution": resolution, "resolved_at": utcnow()})


class SourceFailure(Record):
    """A job source that gave up during discovery; the search went on with the other sources."""

    source: str
    error: str


class ThreadRecord(Record):
    """One search the person started; listed by `jobland threads`."""

    thread_id: str
    owner: str = "local"
    created_at: datetime = Field(default_factory=utcnow)
    request: SearchRequest
    webhook_url: str | None = Field(default=None, description="Called on review_ready, completed and failed.")
    source_failures: list[SourceFailure] = Field(
        default_factory=list, description="Job sources that gave up in the latest search; its postings lack theirs."
    )
    stage: str | None = Field(
        default=None,
        description="Where the thread stood when a JobLand process last let go of its lease (the thread list's cache).",
    )


WebhookEvent = Literal["review_ready", "completed", "failed"]


class WebhookCall(Record):
    """One attempt at calling a thread's webhook; a delivery is ok once one of its attempts is."""

    thread_id: str
    event: WebhookEvent
    delivery_id: str = Field(description="The same for every attempt at announcing one state of the thread.")
    url: str
    attempt: int = Field(ge=1)
    status_code: int | None = None
    error: str | None = None
    outcome: Literal["ok", "retrying", "failed"]
    at: datetime = Field(default_factory=utcnow)


ProfilingStatus = Literal["pending", "processing", "completed", "failed"]


class ProfilingJob(Record):
    """One uploaded CV being read into a Profile in the background (POST /api/profiles)."""

    profile_id: str = Field(description="The file's content hash: the cv_id that POST /api/threads takes.")
    owner: str
    file_name: str = Field(description="The file's name as the person gave it.")
    status: ProfilingStatus = "pending"
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    parses: int = Field(default=0, description="How many times the file was parsed (0: a stored profile was reused).")

    @property
    def stored_profile_id(self) -> str:
        """The id of the Profile record the file becomes (Profile.id, derived from the same hash)."""
        return profile_id_for(self.profile_id)


# "sent" = delivered to the person's inbox, ready to apply; then the person moves it along.
ApplicationStatus = Literal["sent", "applied", "interviewing", "offer", "rejected", "withdrawn", "failed", "undecided"]
SETTABLE_STATUSES: tuple[ApplicationStatus, ...] = ("sent", "applied", "interviewing", "offer", "rejected", "withdrawn")
# Statuses by which the person says they did apply; "rejected" here is the employer's answer.
APPLIED_STATUSES: frozenset[ApplicationStatus] = frozenset({"applied", "interviewing", "offer", "rejected"})


class ApplicationStatusChange(Record):
    status: ApplicationStatus
    at: datetime = Field(default_factory=utcnow)
    note: str | None = None


class ApplicationLogEntry(Record):
    """What happened to one package of a thread, and (once delivered) where the application stands."""

    thread_id: str
    package_id: str
    posting_id: str
    company: str
    title: str
    outcome: Literal["sent", "rejected", "failed", "undecided"]
    detail: str = ""
    at: datetime = Field(default_factory=utcnow)
    owner: str = "local"
    posting_url: str | None = None
    canonical_key: str = Field(default="", description="The posting's canonical key: the same job from any source.")
    files: list[str] = Field(default_factory=list, description="The delivered email and the package's PDFs.")
    status: ApplicationStatus = "undecided"
    history: list[ApplicationStatusChange] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _status_from_outcome(cls, data: object) -> object:
        """Entries logged before the tracker existed start from their outcome."""
        if isinstance(data, dict) and "status" not in data and "outcome" in data:
            return {**data, "status": data["outcome"]}
        return data

    @property
    def blocks_reapplying(self) -> bool:
        """Whether the person applied with this package (as they told `jobland applications set`).

        "sent" only means the package is ready in their inbox, and "withdrawn" takes the application back:
        a new search may offer such a posting again.
        """
        return self.outcome == "sent" and self.status in APPLIED_STATUSES

    def already_applied_reason(self) -> str:
        applied_on = next((h.at for h in self.history if h.status in APPLIED_STATUSES), self.at)
        return f"Already applied on {applied_on:%Y-%m-%d} (status: {self.status})"

    def with_status(self, status: ApplicationStatus, note: str | None = None) -> ApplicationLogEntry:
        change = ApplicationStatusChange(status=status, note=note)
        notes = [*self.notes, note] if note else self.notes
        return self.model_copy(update={"status": status, "history": [*self.history, change], "notes": notes})
