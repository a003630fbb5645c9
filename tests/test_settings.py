"""Settings: environment over config file over defaults; clear errors; the graph for Studio."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from graph.builder import make_graph
from jobland.settings import Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("JOBLAND_EMAIL", "JOBLAND_HOME", "JOBLAND_CONFIG", "JOBLAND_NAME", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def test_config_file_then_environment(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = clean_env / "home"
    home.mkdir()
    (home / "config.toml").write_text('email = "me@example.org"\nname = "Me Myself"\ncv_max_lines = 12\n')
    monkeypatch.setenv("JOBLAND_HOME", str(home))
    settings = Settings()
    assert (settings.email, settings.name, settings.cv_max_lines) == ("me@example.org", "Me Myself", 12)
    assert settings.home == home.resolve()
    monkeypatch.setenv("JOBLAND_EMAIL", "other@example.org")
    context = Settings().context()
    assert context.user_email == "other@example.org" and context.outbox_dir == home.resolve() / "outbox"


def test_defaults_need_no_configuration(clean_env: Path) -> None:
    settings = Settings()
    assert settings.database_url is None, "embedded PostgreSQL by default"
    assert settings.email.endswith("@localhost")
    assert settings.home == (Path.home() / ".jobland").resolve()


def test_bad_address_is_refused_with_the_fix(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBLAND_EMAIL", "me@example.org\nBcc: x@evil.com")
    with pytest.raises(ValidationError, match="JOBLAND_EMAIL"):
        Settings()


def test_langgraph_json_graph_compiles_with_every_node() -> None:
    graph = make_graph()
    nodes = set(graph.get_graph().nodes)
    expected = {
        "intake",
        "load_profile",
        "discover",
        "screen_job",
        "shortlist",
        "build_package",
        "review",
        "deliver",
        "record",
    }
    assert expected <= nodes
