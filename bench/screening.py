"""Calibration of the embedded screener on the team's labelled set (tests/fixtures/screening).

    python bench/screening.py [--folder tests/fixtures/screening] [--verbose] [--sweep]

Screens every labelled (persona, posting) pair the way `jobland run` would (the persona's CV imported,
its search read by intake, every posting read by the folder source), then prints the confusion matrix,
exact agreement, High precision and recall, Low postings rated High and the share of listed "missing
skills" that are not real gaps (a listed skill that matches none of the labelled gaps). --sweep prints
exact agreement and Low-rated-High for a grid of High/Medium thresholds, to set them from.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from jobland.agents.intake import parse_search_message
from jobland.agents.screener import screen_batch
from jobland.domain.models import JobPosting, JobScreeningOutput, Probability, Profile, SearchRequest
from jobland.domain.skills import canonical_skill, extract_terms
from jobland.domain.text import normalize_text
from jobland.graph.context import Context
from jobland.tools.cv_import import import_profile
from jobland.tools.job_folder import load_folder

ROOT = Path(__file__).resolve().parent.parent
LABELLED_SET = ROOT / "tests" / "fixtures" / "screening"
CLASSES: tuple[Probability, ...] = ("High", "Medium", "Low")
# The day the set was written: no posting in it has expired by then.
SCREENED_ON = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Label:
    persona: str
    posting: str
    probability: Probability
    reason: str
    gaps: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    label: Label
    screening: JobScreeningOutput

    @property
    def false_missing(self) -> list[str]:
        return [s for s in self.screening.missing_skills if not _is_gap(s, self.label.gaps)]


def _fold(text: str) -> str:
    return " ".join(normalize_text(text).casefold().replace("-", " ").split())


def _is_gap(skill: str, gaps: tuple[str, ...]) -> bool:
    name = _fold(skill)
    return any(
        name == _fold(g)
        or name in _fold(g)
        or _fold(g) in name
        or canonical_skill(skill) == canonical_skill(g)
        or any(part.strip() in {t for t, _ in extract_terms(g)} for part in re.split(r",| or ", skill))
        for g in gaps
    )


def read_labels(folder: Path) -> list[Label]:
    with (folder / "labels.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Label(
            persona=row["persona"],
            posting=row["posting"],
            probability=row["label"],  # type: ignore[arg-type]
            reason=row["reason"],
            gaps=tuple(g.strip() for g in (row.get("gaps") or "").split(";") if g.strip()),
        )
        for row in rows
    ]


def read_personas(folder: Path) -> dict[str, tuple[Profile, SearchRequest]]:
    """Each persona's profile and its search, read by intake as a chat message is."""
    searches = yaml.safe_load((folder / "personas" / "searches.yaml").read_text(encoding="utf-8"))
    return {
        name: (import_profile(folder / "personas" / entry["cv"]), parse_search_message(entry["query"]))
        for name, entry in searches.items()
    }


def postings_by_file(folder: Path) -> dict[str, JobPosting]:
    batch = load_folder(folder / "postings", now=SCREENED_ON)
    if batch.discarded:
        raise SystemExit(f"the labelled set has unreadable postings: {[d.reason for d in batch.discarded]}")
    return {p.source.removeprefix("folder:"): p for p in batch.postings}


async def screen_labelled_set(folder: Path = LABELLED_SET, context: Context | None = None) -> list[Outcome]:
    labels = read_labels(folder)
    profiles = read_personas(folder)
    postings = postings_by_file(folder)
    context = context or Context()
    outcomes: list[Outcome] = []
    for persona, (profile, request) in profiles.items():
        mine = [label for label in labels if label.persona == persona]
        chosen = [postings[label.posting] for label in mine]
        screenings = await screen_batch(profile, chosen, context, SCREENED_ON, request)
        outcomes += [Outcome(label, screening) for label, screening in zip(mine, screenings, strict=True)]
    return outcomes


@dataclass(frozen=True)
class Calibration:
    confusion: Counter[tuple[str, str]]
    total: int
    exact: float
    high_precision: float
    high_recall: float
    low_as_high: int
    missing_listed: int
    missing_false: int

    @property
    def false_missing_share(self) -> float:
        return self.missing_false / self.missing_listed if self.missing_listed else 0.0


def calibrate(outcomes: list[Outcome]) -> Calibration:
    confusion = Counter((o.label.probability, o.screening.probability) for o in outcomes)
    rated_high = sum(confusion[(label, "High")] for label in CLASSES)
    labelled_high = sum(confusion[("High", rated)] for rated in CLASSES)
    return Calibration(
        confusion=confusion,
        total=len(outcomes),
        exact=sum(confusion[(c, c)] for c in CLASSES) / len(outcomes),
        high_precision=confusion[("High", "High")] / rated_high if rated_high else 1.0,
        high_recall=confusion[("High", "High")] / labelled_high if labelled_high else 1.0,
        low_as_high=confusion[("Low", "High")],
        missing_listed=sum(len(o.screening.missing_skills) for o in outcomes),
        missing_false=sum(len(o.false_missing) for o in outcomes),
    )


def render(calibration: Calibration) -> str:
    width = 8
    lines = ["label \\ rated".ljust(14) + "".join(c.rjust(width) for c in CLASSES)]
    for label in CLASSES:
        lines.append(label.ljust(14) + "".join(str(calibration.confusion[(label, c)]).rjust(width) for c in CLASSES))
    agreed = sum(calibration.confusion[(c, c)] for c in CLASSES)
    lines += [
        f"exact agreement: {agreed}/{calibration.total} = {calibration.exact:.1%}",
        f"High precision: {calibration.high_precision:.1%}   High recall: {calibration.high_recall:.1%}",
        f"Low rated High: {calibration.low_as_high}",
        f'false "missing skills": {calibration.missing_false}/{calibration.missing_listed}'
        f" = {calibration.false_missing_share:.1%}",
    ]
    return "\n".join(lines)


async def sweep(folder: Path) -> None:
    print("high medium  exact  High recall  Low->High")
    for high in range(60, 85, 5):
        for medium in range(35, 60, 5):
            found = calibrate(await screen_labelled_set(folder, Context(high_threshold=high, medium_threshold=medium)))
            print(f"{high:4} {medium:6}  {found.exact:5.1%}  {found.high_recall:11.1%}  {found.low_as_high:9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=LABELLED_SET)
    parser.add_argument("--verbose", action="store_true", help="print every disagreement and false missing skill")
    parser.add_argument("--sweep", action="store_true", help="agreement for a grid of thresholds")
    args = parser.parse_args()
    if args.sweep:
        asyncio.run(sweep(args.folder))
        return
    outcomes = asyncio.run(screen_labelled_set(args.folder))
    if args.verbose:
        for o in outcomes:
            wrong = o.screening.probability != o.label.probability
            if wrong or o.false_missing:
                mark = f"{o.label.probability}->{o.screening.probability}" if wrong else "ok"
                print(f"[{mark}] {o.label.persona} {o.label.posting} ({o.screening.match_score}): {o.label.reason}")
                print("    " + " | ".join(o.screening.reasons[:4]))
                if o.false_missing:
                    print(f"    false missing: {', '.join(o.false_missing)}")
    print(render(calibrate(outcomes)))


if __name__ == "__main__":
    main()
