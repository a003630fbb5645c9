"""No fact is derived in more than one place: each vocabulary a reader knows is written in one module
(seniority words of titles, "still in this job", spoken-language levels, salary periods and amounts,
skill aliases, place spellings, month names, workplace words, the nouns of job titles), and every other
module asks that one. A second copy of a table is how two readers came to disagree (seniority on 5 of 49
titles, required skills on 3 of 37 postings)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ["agents", "domain", "graph", "jobland", "tools"]

# A few words only that table holds, by the module that owns it.
OWNERS = {
    "domain/roles.py": ("berufseinsteiger", "teamleit", "sachbearbeiter"),  # seniority, the nouns of a job title
    "domain/person.py": ("bis heute", "aujourd'hui", "actualidad"),  # "still in this job"
    # CEFR levels from words, and a level as a German letter writes it
    "domain/languages.py": ("verhandlungssicher", "mother tongue", "jlpt", "muttersprache"),
    "domain/salary.py": ("tagessatz", "stundenlohn", "tausend"),  # salary periods and amounts
    "domain/skills.py": ("k8s",),  # skill aliases
    "domain/places.py": ("praha", "nürnberg"),  # place spellings beside the gazetteer (letters write them too)
    "domain/dates.py": ("dezember", "jänner", "maerz"),  # month names
    # remote, hybrid, on-site and "no remote" words, of postings, location fields and searches alike
    "domain/workplace.py": ("work from home", "nur vor ort", "hybrides? arbeiten", "on[- ]?site only"),
}


def _strings(path: Path) -> str:
    """Every string constant of a module (regular expressions included), folded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return "\n".join(
        n.value.casefold() for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def test_each_vocabulary_is_written_in_one_module() -> None:
    modules = [p for folder in PACKAGE for p in (ROOT / folder).rglob("*.py")] + [ROOT / "server.py"]
    texts = {str(p.relative_to(ROOT)): _strings(p) for p in modules if p.is_file()}
    for owner, words in OWNERS.items():
        for word in words:
            holders = sorted(name for name, text in texts.items() if word in text)
            assert holders == [owner], f"{word!r} is written in {holders}; only {owner} should hold it (ask it)"
