"""Role families with their neighbours, seniority from a title, and people management.

The one place that knows what a title says: the posting reader, the screener, the CV and letter
writers and the search reader ask here.
"""

from __future__ import annotations

import re
from functools import cache

from jobland.domain.models import Seniority
from jobland.domain.text import ascii_fold

LEVELS: tuple[Seniority, ...] = ("intern", "junior", "mid", "senior", "lead", "principal", "executive")

GENERIC_SOFTWARE = "software engineering"
# Title phrases by family. The phrase at the head of a title decides its family (role_family).
ROLE_FAMILIES: dict[str, tuple[str, ...]] = {
    GENERIC_SOFTWARE: (
        "software",
        "engineer",
        "engineering",
        "developer",
        "entwickler",
        "softwareentwickler",
        "programmer",
        "architect",
        "principal engineer",
        "staff engineer",
        "tech lead",
        "cto",
    ),
    "data engineering": (
        "data engineer",
        "data engineering",
        "data platform engineer",
        "data platform",
        "etl developer",
        "big data engineer",
        "big data",
        "data developer",
        "data warehouse engineer",
        "data warehouse developer",
        "dwh",
        "data architect",
        "dataops",
        "streaming data engineer",
        "data infrastructure",
    ),
    "analytics engineering": (
        "analytics engineer",
        "bi developer",
        "bi engineer",
        "business intelligence",
        "bi analyst",
        "data analyst",
        "data analytics",
        "analytics",
    ),
    "backend": (
        "backend",
        "back-end",
        "back end",
        "backend-entwickler",
        "api engineer",
        "python engineer",
        "python developer",
        "python entwickler",
        "java engineer",
        "java developer",
        "java backend",
        "golang",
        "go engineer",
        "kotlin engineer",
        "php developer",
        "ruby developer",
        "django developer",
        ".net developer",
        "payments engineer",
    ),
    "fullstack": ("full stack", "full-stack", "fullstack"),
    "frontend": ("frontend", "front-end", "front end", "react developer", "ui engineer", "web developer"),
    "mobile": ("mobile", "ios", "android", "flutter", "react native"),
    "platform and sre": (
        "platform engineer",
        "platform engineering",
        "sre",
        "site reliability",
        "devops",
        "infrastructure",
        "cloud engineer",
        "systems engineer",
        "sysadmin",
        "system administrator",
    ),
    "data science": (
        "data scientist",
        "data science",
        "statistician",
        "research scientist",
        "quantitative analyst",
        "machine learning scientist",
        "applied scientist",
    ),
    "machine learning": (
        "machine learning engineer",
        "ml engineer",
        "machine learning",
        "ai engineer",
        "mlops",
        "computer vision",
        "nlp engineer",
        "deep learning",
    ),
    "security": ("security engineer", "appsec", "penetration tester", "security analyst", "cloud security"),
    "quality assurance": ("qa", "quality assurance", "test engineer", "tester", "sdet", "test automation"),
    "engineering management": (
        "engineering manager",
        "head of engineering",
        "vp engineering",
        "vp of engineering",
        "director of engineering",
        "teamleiter softwareentwicklung",
    ),
    "design": ("designer", "ux", "ui", "user researcher", "design"),
    "product": ("product manager", "product owner", "product lead", "head of product"),
    "healthcare": (
        "nurse",
        "nursing",
        "physician",
        "doctor",
        "caregiver",
        "care assistant",
        "pharmacist",
        "medical",
        "clinical",
        "therapist",
        "midwife",
        "paramedic",
        "dentist",
        "healthcare",
        "pflegefachkraft",
        "pflege",
        "krankenpfleger",
        "altenpfleger",
        "arzt",
        "ärztin",
    ),
    "sales": (
        "sales",
        "sales engineer",
        "account executive",
        "account manager",
        "business development",
        "sdr",
        "bdr",
        "customer success",
        "vertrieb",
    ),
    "accounting and finance": (
        "accountant",
        "accounting",
        "bookkeeper",
        "controller",
        "auditor",
        "tax",
        "finance",
        "financial",
        "payroll",
        "buchhalter",
    ),
    "marketing": ("marketing", "seo", "copywriter", "content", "growth marketer", "brand", "social media"),
    "education": ("teacher", "tutor", "lecturer", "professor", "instructor", "lehrer"),
    "hospitality and retail": (
        "waiter",
        "waitress",
        "chef",
        "cook",
        "barista",
        "cashier",
        "retail",
        "store manager",
        "housekeeper",
        "receptionist",
        "verkäufer",
    ),
    "logistics and driving": (
        "driver",
        "fahrer",
        "courier",
        "kurier",
        "warehouse",
        "lager",
        "lagermitarbeiter",
        "forklift",
        "picker",
        "packer",
        "logistics operative",
        "delivery",
    ),
    "customer service": ("customer service", "call center", "call centre", "support agent", "kundenservice"),
    "legal": ("lawyer", "attorney", "paralegal", "legal", "solicitor"),
    "people and recruiting": ("recruiter", "talent acquisition", "hr", "human resources", "people partner"),
}
SOFTWARE_FAMILIES = frozenset(
    {
        GENERIC_SOFTWARE,
        "data engineering",
        "analytics engineering",
        "backend",
        "fullstack",
        "frontend",
        "mobile",
        "platform and sre",
        "data science",
        "machine learning",
        "security",
        "quality assurance",
        "engineering management",
    }
)
_NEIGHBOURS = {
    frozenset(pair)
    for pair in (
        ("data engineering", "analytics engineering"),
        ("data engineering", "backend"),
        ("data engineering", "platform and sre"),
        ("data engineering", "data science"),
        ("data engineering", "machine learning"),
        ("analytics engineering", "data science"),
        ("data science", "machine learning"),
        ("backend", "fullstack"),
        ("backend", "platform and sre"),
        ("backend", "security"),
        ("fullstack", "frontend"),
        ("frontend", "mobile"),
        ("frontend", "design"),
        ("platform and sre", "security"),
        ("quality assurance", "backend"),
        ("quality assurance", "frontend"),
        ("design", "product"),
        ("sales", "marketing"),
        ("sales", "customer service"),
    )
}
# The nouns that make a phrase a job title in any field ("Senior Engineer", "Organizer", "Projektleiterin"):
# how the CV importer tells a title line from an employer or a place.
_ROLE_NOUNS = re.compile(
    r"(?<![\w-])(?:engineer|developer|programmer|architect|manager|lead|leader|head|director|officer|president|vp|"
    r"cto|ceo|cfo|coo|cio|founder|co-?founder|consultant|analyst|scientist|researcher|designer|administrator|"
    r"specialist|intern|trainee|apprentice|working student|werkstudent|assistant|coordinator|teacher|tutor|"
    r"lecturer|professor|nurse|accountant|advisor|adviser|owner|freelancer|freelance|contractor|sre|member|"
    r"volunteer|mentor|organi[sz]er|ambassador|maintainer|contributor|writer|editor|technician|operator|"
    r"representative|executive|partner)s?(?![\w-])"
    # German job titles are compounds ("Backend-Entwickler", "Projektleiterin").
    r"|(?:entwickler|ingenieur|leiter|berater|praktikant|referent|sachbearbeiter)(?:in|innen)?(?!\w)",
    re.IGNORECASE,
)


def names_a_role(text: str) -> bool:
    """Whether a phrase holds a job title's noun: "Engineer at Acme" does, "Acme GmbH, Berlin" does not."""
    return bool(_ROLE_NOUNS.search(text))


_MANAGEMENT_TITLE = re.compile(r"\b(?:manager|head of|director|vp|vice president|chief|cto|leiter\w*)\b", re.I)


@cache
def _folded_families() -> dict[str, tuple[str, ...]]:
    return {family: tuple(ascii_fold(p) for p in phrases) for family, phrases in ROLE_FAMILIES.items()}


@cache
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in ascii_fold(phrase).split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def _head_family(text: str) -> str | None:
    matches = [
        (match.start(), match.end(), len(phrase), family)
        for family, phrases in _folded_families().items()
        for phrase in phrases
        if phrase in text  # a cheap test first: most phrases are not in a title at all
        for match in _phrase_pattern(phrase).finditer(text)
    ]
    if not matches:
        return None
    start, _, _, family = max(matches, key=lambda m: (m[1], m[2]))
    if family == GENERIC_SOFTWARE:
        # "Backend Engineer", "iOS Engineer": the word right before a generic head names the specialism.
        before = [m for m in matches if start - 1 <= m[1] <= start]
        if before:
            return max(before, key=lambda m: m[2])[3]
    return family


def role_family(title: str) -> str | None:
    """The family of a title's head noun, or None when no role phrase is known.

    The head comes before any qualifier ("Software Engineer - Healthcare", "Nurse (ICU)") and is
    the phrase that ends last, the longer one on a tie ("Healthcare Software Engineer", "Sales Engineer").
    A generic head takes the specialism its qualifier names: "Engineering Manager, Backend" is backend
    (with people management), "Senior Engineer (Data Platform)" data engineering.
    """
    head, _, rest = (re.split(r"(\s[-–—|:/]\s|[(,])", title, maxsplit=1) + ["", ""])[:3]
    family = _head_family(ascii_fold(head)) or _head_family(ascii_fold(title))
    if family in (GENERIC_SOFTWARE, "engineering management"):
        specialism = _head_family(ascii_fold(rest))
        if specialism in SOFTWARE_FAMILIES - {GENERIC_SOFTWARE, "engineering management"}:
            return specialism
    return family


def families_named(text: str) -> list[str]:
    """Every family a search names ("data engineer roles", "senior Python backend"), generic ones left out."""
    folded = ascii_fold(text)
    found: dict[str, None] = {}
    for family, phrases in _folded_families().items():
        if family != GENERIC_SOFTWARE and any(p in folded and _phrase_pattern(p).search(folded) for p in phrases):
            found.setdefault(family, None)
    # "data engineer" also contains "engineer"; a specialism beats its generic neighbours.
    return list(found)


def relation(posting_family: str | None, own: list[str]) -> str:
    """same | neighbour | software (another software family) | other (another field) | unknown."""
    if posting_family is None or not own:
        return "unknown"
    if posting_family in own:
        return "same"
    if posting_family == GENERIC_SOFTWARE and any(f in ("backend", "fullstack", "platform and sre") for f in own):
        return "same"  # a generic software role is a backend engineer's own job
    if any(frozenset({posting_family, f}) in _NEIGHBOURS for f in own):
        return "neighbour"
    if posting_family == GENERIC_SOFTWARE and set(own) & SOFTWARE_FAMILIES:
        return "neighbour"
    if posting_family in SOFTWARE_FAMILIES and set(own) & SOFTWARE_FAMILIES:
        return "software"
    return "other"


def is_management_title(title: str) -> bool:
    return bool(_MANAGEMENT_TITLE.search(ascii_fold(title)))


_TITLE_SENIORITY: tuple[tuple[Seniority, re.Pattern[str]], ...] = tuple(
    (level, re.compile(pattern, re.I))
    for level, pattern in (
        ("intern", r"\b(?:intern|internship|praktikant\w*|praktikum|werkstudent\w*|working student|apprentice)\b"),
        ("executive", r"\b(?:head of|director|vp|vice president|chief \w+ officer|cto|cfo|ceo|coo|cpo|leiter\w*)\b"),
        ("principal", r"\b(?:principal|distinguished|fellow)\b"),
        # "Staff" only as an engineering level: a staff nurse is not a lead.
        (
            "lead",
            r"\b(?:lead|team ?lead|tech ?lead|engineering manager|teamleit\w*)\b"
            r"|\bstaff (?:engineer|software|developer|data|machine|ml|backend|frontend|platform|scientist|designer)",
        ),
        ("senior", r"\b(?:senior|sr|snr)\b"),
        ("junior", r"\b(?:junior|jr|graduate|entry[- ]level|trainee|berufseinsteiger\w*)\b"),
        ("mid", r"\b(?:mid|mid[- ]level|intermediate)\b"),
    )
)
YEARS = re.compile(r"(\d{1,2})\s*\+?\s*(?:(?:-|–|to)\s*\d{1,2}\s*)?\+?\s*(?:years?|yrs|jahre)", re.I)


def title_level(title: str) -> Seniority | None:
    """The seniority a title (or an explicit level such as "Mid-level") names."""
    return next((level for level, pattern in _TITLE_SENIORITY if pattern.search(title)), None)


def level_for_years(years: float) -> Seniority:
    # Years alone never make a lead: that takes a title.
    return "junior" if years < 2 else "mid" if years < 5 else "senior"


def years_asked(text: str) -> float | None:
    """The years of experience a text asks for ("5+ years of experience", "mindestens 5 Jahre Erfahrung")."""
    for line in text.split("\n"):
        if (match := YEARS.search(line)) and re.search(
            r"experience|erfahrung|engineering|development|years of", line, re.I
        ):
            return float(match.group(1))
    return None


def seniority_of(title: str, hint: str = "", experience_text: str = "") -> Seniority | None:
    """From the title first, then an explicit level ('Mid-level'), then the years of experience asked for."""
    for text in (title, hint):
        if level := title_level(text):
            return level
    years = years_asked(experience_text)
    return level_for_years(years) if years is not None else None
