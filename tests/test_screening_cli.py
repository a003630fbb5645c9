"""`jobland screen --query/--location`: the person's search changes the verdicts, as with `jobland run`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_cli

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

SET = FIXTURES / "screening"


def _verdicts(home: Path, database_url: str, jobs: Path, *search: str) -> dict[str, str]:
    cv = SET / "personas" / "dana-weber.md"
    out = run_cli(home, database_url, "screen", "--cv", str(cv), "--jobs", str(jobs), *search, "--format", "json")
    return {row["source"].split("-")[0]: row["probability"] for row in json.loads(out.stdout)}


def test_screen_reads_the_query_and_the_locations(home: Path, database_url: str, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for name in ("d01-kontrast-senior-data-engineer.html", "d20-quadrat-data-engineer.md"):
        shutil.copy(SET / "postings" / name, jobs / name)
    # Berlin hybrid (d01) and remote within Germany (d20).
    assert _verdicts(home, database_url, jobs, "--query", "data engineer roles, Berlin or remote") == {
        "d01": "High",
        "d20": "High",
    }
    remote_only = _verdicts(home, database_url, jobs, "--query", "data engineer roles, remote")
    assert remote_only == {"d01": "Low", "d20": "High"}
    hamburg = _verdicts(home, database_url, jobs, "--query", "data engineer roles", "--location", "Hamburg")
    assert hamburg == {"d01": "Low", "d20": "High"}
