"""`jobland doctor` against the local API world: every configured service answers, or is named."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.local_world.base import LocalService, Reply
from tests.local_world.gmail import FakeGmail
from tests.local_world.smtp import PASSWORD, USERNAME, LocalSmtp


def api_world() -> LocalService:
    """The three read-only calls doctor makes, in their services' documented shapes."""
    world = LocalService("doctor-world")
    world.route(
        "GET",
        "/v1/models",
        lambda r: Reply(body={"object": "list", "data": [{"id": "gpt-4.1-mini", "object": "model"}]}),
    )
    world.route(
        "GET", "/account", lambda r: Reply(body={"account_rate_limit_per_hour": 1000, "plan_searches_left": 99})
    )
    world.route(
        "POST", "/search", lambda r: Reply(body={"requestId": "r1", "results": [], "costDollars": {"total": 0.005}})
    )
    return world.start()


def test_doctor_reports_each_role_and_checks_each_service(
    home: Path, database_url: str, tmp_path: Path, gmail_api: FakeGmail, smtp_server: LocalSmtp
) -> None:
    world = api_world()
    try:
        env = {
            "JOBLAND_LLM_BASE_URL": f"{world.url}/v1",
            "JOBLAND_LLM_API_KEY": "sk-secret-llm",
            "JOBLAND_JOB_SOURCES": '["folder", "serpapi", "exa"]',
            "JOBLAND_SERPAPI_API_KEY": "serp-secret",
            "JOBLAND_SERPAPI_BASE_URL": world.url,
            "JOBLAND_EXA_API_KEY": "exa-secret",
            "JOBLAND_EXA_BASE_URL": world.url,
            "JOBLAND_MAILER": "gmail",
            "JOBLAND_GMAIL_TOKEN_FILE": str(gmail_api.write_token_file(tmp_path / "token.json")),
            "JOBLAND_GMAIL_API_ENDPOINT": gmail_api.url,
        }
        result = run_cli(home, database_url, "doctor", "--format", "json", **env)
        checks = json.loads(result.stdout)
        assert {c["role"] for c in checks} == {
            "checkpoints and records",
            "LLM agents",
            "job discovery",
            "company research",
            "email",
            "PDF documents",
        }
        assert all(c["ok"] in (True, None) for c in checks), checks
        pdf = next(c for c in checks if c["role"] == "PDF documents")
        assert pdf["ok"] is True and "renderer process" in pdf["provider"]
        assert "HarfBuzz" in pdf["detail"] or "install libharfbuzz-subset0" in pdf["detail"]
        assert "gpt-4.1-mini" in next(c for c in checks if c["role"] == "LLM agents")["provider"]
        for secret in ("sk-secret-llm", "serp-secret", "exa-secret"):
            assert secret not in result.stdout
        paths = {r.path for r in world.requests}
        assert paths == {"/v1/models", "/account", "/search"}
        assert (
            next(r for r in world.requests if r.path == "/v1/models").headers["authorization"] == "Bearer sk-secret-llm"
        )

        smtp = {
            "JOBLAND_MAILER": "smtp",
            "JOBLAND_SMTP_HOST": smtp_server.host,
            "JOBLAND_SMTP_PORT": str(smtp_server.port),
            "JOBLAND_SMTP_USERNAME": USERNAME,
            "JOBLAND_SMTP_PASSWORD": PASSWORD,
            "JOBLAND_SMTP_CA_FILE": str(smtp_server.ca_file),
        }
        ok = run_cli(home, database_url, "doctor", "--format", "json", **smtp)
        email_check = next(c for c in json.loads(ok.stdout) if c["role"] == "email")
        assert email_check["ok"] is True and "STARTTLS" in email_check["detail"]
    finally:
        world.stop()

    down = run_cli(home, database_url, "doctor", check=False, **{**env, "JOBLAND_MAILER": "outbox"})
    assert down.returncode == 1, "a configured service that does not answer fails the doctor"
    assert "no answer from" in down.stdout and "FAILED" in down.stdout


def test_doctor_on_the_embedded_default_needs_nothing(home: Path, database_url: str) -> None:
    result = run_cli(home, database_url, "doctor")
    assert result.returncode == 0
    assert "embedded engine" in result.stdout and "outbox folder" in result.stdout
