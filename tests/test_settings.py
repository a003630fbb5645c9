"""Settings: environment over config file over defaults; clear errors; the graph for Studio."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydantic import ValidationError

from jobland.graph.builder import make_graph
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


def test_keys_are_secret_in_settings_and_runs_read_them_from_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobland.graph.context import Context
    from jobland.studio import context_with_defaults

    monkeypatch.setenv("JOBLAND_LLM_API_KEY", "sk-local-secret-1234")
    monkeypatch.setenv("JOBLAND_SMTP_PASSWORD", "smtp-secret-5678")
    settings = Settings()
    assert "sk-local-secret-1234" not in repr(settings) and "smtp-secret-5678" not in repr(settings)
    context = settings.context()
    assert context.llm_api_key == "sk-local-secret-1234" and "sk-local-secret-1234" not in repr(context)
    # Studio's context form shows no key, and a run whose context carries none reads it from the server's environment.
    studio_context = context_with_defaults(context)
    assert studio_context().llm_api_key == "sk-local-secret-1234"
    secret_defaults = [
        f.default for f in dataclasses.fields(studio_context) if f.name.endswith(("api_key", "password"))
    ]
    assert secret_defaults and all(d is None for d in secret_defaults)
    monkeypatch.delenv("JOBLAND_LLM_API_KEY")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-variable")
    assert Context().llm_api_key == "sk-openai-variable", "the services' usual variable names count too"
