"""JSON Resume both ways: every export validates against the official schema (vendored in
tests/fixtures/jsonresume/schema.json), the official sample round-trips with no field lost, dates come in in any
common form and go out as ISO 8601, and a real JSON Resume theme renders the export."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from jobland.commands import export_files
from jobland.domain.json_resume import iso_date, profile_to_json_resume, tailored_json_resume
from jobland.domain.models import Profile
from jobland.tools.cv_import import import_profile
from tests.conftest import EXAMPLE_CV, FIXTURES, run_cli
from tests.support.packages import make_package, make_posting

SCHEMA = json.loads((FIXTURES / "jsonresume" / "schema.json").read_text())
SAMPLE = FIXTURES / "jsonresume" / "sample.resume.json"
AWESOME_CV = FIXTURES / "resumes" / "awesome-cv-resume.pdf"
LINKEDIN = FIXTURES / "resumes" / "linkedin-style" / "linkedin-style.pdf"


def schema_errors(resume: dict[str, Any]) -> list[str]:
    """Every way the document breaks the schema, formats (uri, email) included."""
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    assert "uri" in validator.format_checker.checkers, "install rfc3986-validator: uri formats go unchecked without"
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(resume)]


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    else:
        yield path, value


@cache
def imported(path: Path) -> Profile:
    """Each CV read once for the module (a PDF goes through Docling); the tests only read the profile."""
    return import_profile(path)


@pytest.mark.parametrize("cv", [EXAMPLE_CV, SAMPLE, AWESOME_CV, LINKEDIN], ids=lambda p: p.name)
def test_export_validates_against_the_official_schema(cv: Path) -> None:
    resume = profile_to_json_resume(imported(cv))
    assert schema_errors(resume) == []
    assert resume["basics"]["name"] and resume["work"], "a real export, not an empty document"
    for item in resume["work"]:
        assert all(isinstance(h, str) for h in item.get("highlights", [])), "highlights are strings"


def test_official_sample_round_trips_with_no_field_lost(tmp_path: Path) -> None:
    original = json.loads(SAMPLE.read_text())
    exported = profile_to_json_resume(imported(SAMPLE))
    want, got = dict(leaves(original)), dict(leaves(exported))
    assert len(want) >= 90
    assert {path: value for path, value in want.items() if got.get(path) != value} == {}
    # and back again: importing the export gives the same profile
    again = tmp_path / "again.json"
    again.write_text(json.dumps(exported))
    assert profile_to_json_resume(import_profile(again)) == exported


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("Mar 2021", "2021-03"),
        ("March 2021", "2021-03"),
        ("Sep. 2023", "2023-09"),
        ("2021-03", "2021-03"),
        ("03/2021", "2021-03"),
        ("3.2021", "2021-03"),
        ("2021", "2021"),
        ("since 2019", "2019"),
        ("März 2020", "2020-03"),
        ("2014-12-01", "2014-12-01"),
        ("01.12.2014", "2014-12-01"),
        ("1 Dec 2014", "2014-12-01"),
        ("2017-12-24T15:53:00", "2017-12-24"),
        ("present", None),
        ("heute", None),
        ("Marketing 2021", None),
        ("13/2021", None),
    ],
)
def test_dates_in_any_common_form_go_out_as_iso_8601(written: str, iso: str | None) -> None:
    assert iso_date(written) == iso


def test_json_resume_with_written_dates_and_preferences(tmp_path: Path) -> None:
    resume = {
        "basics": {"name": "Sam Rivera", "url": "samrivera.dev", "profiles": [{"network": "GitHub", "url": ""}]},
        "work": [
            {"name": "Acme", "position": "Engineer", "startDate": "Mar 2021", "endDate": "present", "highlights": []},
            {"name": "Beta", "position": "Analyst", "startDate": "03/2018", "endDate": "February 2021"},
        ],
        "education": [{"institution": "TU Berlin", "studyType": "M.Sc.", "startDate": "2014", "endDate": "2016"}],
        "meta": {"jobland": {"remote": "remote_only", "locations": ["Lisbon"]}},
    }
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(resume))
    exported = profile_to_json_resume(import_profile(path))
    assert schema_errors(exported) == []
    assert [(w["startDate"], w.get("endDate")) for w in exported["work"]] == [("2021-03", None), ("2018-03", "2021-02")]
    assert exported["basics"]["url"] == "https://samrivera.dev"
    assert exported["meta"]["jobland"] == {"locations": ["Lisbon"], "remote": "remote_only"}
    path.write_text(json.dumps(exported))
    assert import_profile(path).preferences.remote == "remote_only", "preferences survive the round trip"


def test_tailored_cv_exports_what_the_cv_shows() -> None:
    profile = imported(EXAMPLE_CV)
    posting = make_posting(title="Senior Backend Engineer", skills=("Python", "Kafka", "PostgreSQL"))
    package = make_package(profile, posting)
    assert package.cv is not None
    resume = tailored_json_resume(profile, package.cv)
    assert schema_errors(resume) == []
    bullets = {line.text for line in package.cv.lines if line.highlight_ids}
    exported = {h for item in resume.get("work", []) + resume.get("projects", []) for h in item.get("highlights", [])}
    assert exported == bullets, "every bullet the CV shows, and no other"
    assert {w["name"] for w in resume["work"]} == {w.name for w in profile.work}, "every employer stays"
    assert [e["institution"] for e in resume["education"]] == [e.institution for e in profile.education]
    shown_skills = next(line.text for line in package.cv.lines if "skills" in line.source_fields)
    for skill in resume.get("skills", []):
        assert skill["name"] in shown_skills or skill.get("keywords"), "a skill group the CV shows"


def test_package_export_carries_the_tailored_cv_as_json_resume(tmp_path: Path) -> None:
    profile = imported(EXAMPLE_CV)
    package = make_package(profile, make_posting(title="Senior Backend Engineer", skills=("Python", "Kafka")))
    files = export_files(package, package.version(), tmp_path, profile)
    exported = json.loads(files["cv.json"])
    assert schema_errors(exported) == []
    assert exported == tailored_json_resume(profile, package.cv)


def test_profile_command_writes_json_resume(home: Path, database_url: str) -> None:
    resume = json.loads(run_cli(home, database_url, "profile", str(EXAMPLE_CV), "--format", "json-resume").stdout)
    assert schema_errors(resume) == []
    assert resume["work"][0]["name"] == "Lumen Analytics GmbH" and resume["work"][0]["startDate"] == "2021-03"
    assert resume["basics"]["profiles"][0]["url"].startswith("https://")


@pytest.fixture(scope="module")
def resumed() -> Iterator[Path]:
    """The `resumed` CLI and the `even` theme, installed from npm into a folder of their own."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the JSON Resume theme test needs Node.js and npm")
    folder = Path(tempfile.mkdtemp(prefix="jobland-resumed-"))
    try:
        install = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), "resumed@6", "jsonresume-theme-even"],
            capture_output=True,
            text=True,
            timeout=240,
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip("the npm registry did not answer within 240 s: cannot install resumed and its theme")
    if install.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"npm could not install resumed and jsonresume-theme-even: {install.stderr.strip()[-300:]}")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("cv", [EXAMPLE_CV, SAMPLE, LINKEDIN], ids=lambda p: p.name)
def test_a_json_resume_theme_renders_the_export(cv: Path, resumed: Path) -> None:
    profile = imported(cv)
    source, page = resumed / f"{cv.stem}.json", resumed / f"{cv.stem}.html"
    source.write_text(json.dumps(profile_to_json_resume(profile)))
    subprocess.run(
        [str(resumed / "node_modules" / ".bin" / "resumed"), "render", str(source), "--theme", "jsonresume-theme-even"]
        + ["--output", str(page)],
        cwd=resumed,
        check=True,
        capture_output=True,
        timeout=60,
    )
    html = page.read_text()
    assert "[object Object]" not in html
    assert profile.basics.name in html
    for item in profile.work:
        for highlight in item.highlights:
            assert highlight.text.replace("&", "&amp;") in html.replace("&#x27;", "'").replace("&#39;", "'")
