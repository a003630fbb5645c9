"""Run settings handed to every node as `Runtime[Context]`: each one's default, description and bounds, once.

jobland.settings builds its run settings from these fields (environment variable JOBLAND_<NAME>, the
config file, then the default here); Studio shows them as the context form's defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# Keys never need to travel in a run's context (the LangGraph server stores and returns a run's context):
# a run that leaves one unset reads it from the environment of the process running the graph.
SECRET_VARIABLES = {
    "llm_api_key": ("JOBLAND_LLM_API_KEY", "OPENAI_API_KEY"),
    "serpapi_api_key": ("JOBLAND_SERPAPI_API_KEY", "SERPAPI_API_KEY"),
    "exa_api_key": ("JOBLAND_EXA_API_KEY", "EXA_API_KEY"),
    "smtp_password": ("JOBLAND_SMTP_PASSWORD",),
}


@dataclass(kw_only=True)
class Context:
    """Per-run configuration. The CLI and server build it from Settings; Studio uses the defaults."""

    user_id: str = field(default="local", metadata={"description": "Who owns the threads this run creates."})
    user_email: str = field(default="me@localhost", metadata={"description": "The only address packages are sent to."})
    user_name: str = field(default="", metadata={"description": "Display name for the recipient address."})
    home: str = field(default=str(Path.home() / ".jobland"), metadata={"description": "Data folder."})
    high_threshold: int = field(
        default=70, metadata={"description": "Match score at or above which a posting is High.", "ge": 0, "le": 100}
    )
    medium_threshold: int = field(
        default=50, metadata={"description": "Match score at or above which a posting is Medium.", "ge": 0, "le": 100}
    )
    embedding_max_tokens: int = field(
        default=128, metadata={"description": "Tokens of each text the embedder reads.", "ge": 16, "le": 512}
    )
    cv_max_lines: int = field(
        default=18, metadata={"description": "Highlight lines a tailored CV may hold (page budget).", "ge": 3, "le": 80}
    )
    render_pdf: bool = field(default=True, metadata={"description": "Render CV and letter PDFs."})
    cv_style: Literal["classic", "modern"] = field(
        default="classic", metadata={"description": 'CV layout: "classic" or "modern".'}
    )
    cv_pages: int = field(default=2, metadata={"description": "Pages the CV PDF may fill (1 or 2).", "ge": 1, "le": 2})
    letter_max_words: int = field(
        default=350, metadata={"description": "Words a cover letter may hold.", "ge": 120, "le": 1000}
    )
    batch_budget_s: float = field(
        default=3600.0,
        metadata={
            "description": "Seconds a batch of packages may take to build, from the end of the bulk screening; "
            "unfinished ones then time out.",
            "gt": 0,
        },
    )
    build_while_screening: bool = field(
        default=True,
        metadata={
            "description": "Build a package as soon as its posting's LLM screening says High, when every High is "
            "sure to be shortlisted (workers leave this to the build fan-out, which spreads packages over them)."
        },
    )
    send_timeout_s: float = field(
        default=120.0,
        metadata={
            "description": "Seconds an email send may take; past that its outcome is unknown (dead letter).",
            "gt": 0,
        },
    )
    public_url: str = field(
        default="http://127.0.0.1:8000",
        metadata={"description": "Where your JobLand server is reached: the review links in watch digests."},
    )

    default_cv: str | None = field(
        default=None, metadata={"description": "The master CV a request that names none uses (JOBLAND_CV)."}
    )
    default_jobs_dir: str | None = field(
        default=None,
        metadata={"description": "The folder of postings a request that names no source uses (JOBLAND_JOBS_DIR)."},
    )

    # Providers. Unset = the embedded default (no keys, no network).
    llm_base_url: str | None = field(
        default=None,
        metadata={
            "description": "OpenAI-compatible API (OpenAI, Ollama, vLLM); unset = embedded engine.",
            "env": ("JOBLAND_LLM_BASE_URL", "OPENAI_BASE_URL"),
        },
    )
    llm_api_key: str | None = field(default=None, repr=False, metadata={"description": "API key for llm_base_url."})
    llm_model: str = field(default="gpt-4.1-mini", metadata={"description": "Model for every LLM role."})
    llm_role_models: dict[str, str] = field(
        default_factory=dict,
        metadata={"description": "Per-role model overrides: screener, researcher, writer, intake."},
    )
    job_sources: tuple[str, ...] = field(
        default=("folder",),
        metadata={
            "description": 'Where postings come from: "folder", "serpapi", "exa", "jobspy" (boards join by themselves).'
        },
    )
    serpapi_api_key: str | None = field(
        default=None, repr=False, metadata={"description": "SerpAPI key (google_jobs)."}
    )
    serpapi_base_url: str | None = field(
        default=None, metadata={"description": "SerpAPI endpoint; unset = serpapi.com."}
    )
    serpapi_max_results: int = field(
        default=30, metadata={"description": "Postings fetched from SerpAPI per search.", "ge": 1, "le": 500}
    )
    exa_api_key: str | None = field(
        default=None, repr=False, metadata={"description": "Exa key (job boards and company research)."}
    )
    exa_base_url: str | None = field(default=None, metadata={"description": "Exa endpoint; unset = api.exa.ai."})
    boards: dict[str, list[str]] = field(
        default_factory=dict,
        metadata={
            "description": 'Company career boards to scan, by service: {"greenhouse": ["acme"], "lever": ["globex"], '
            '"ashby": ["initech"], "workday": ["tenant/site@host"]}; each listed board is a job source of its own.'
        },
    )
    greenhouse_base_url: str | None = field(
        default=None, metadata={"description": "Greenhouse Job Board API; unset = boards-api.greenhouse.io."}
    )
    lever_base_url: str | None = field(
        default=None, metadata={"description": "Lever Postings API; unset = api.lever.co."}
    )
    ashby_base_url: str | None = field(
        default=None, metadata={"description": "Ashby posting API; unset = api.ashbyhq.com."}
    )
    workday_base_url: str | None = field(
        default=None, metadata={"description": "Workday CXS endpoint for every board; unset = each board's host."}
    )
    jobspy_sites: tuple[str, ...] = field(
        default=("indeed", "linkedin"),
        metadata={"description": 'Boards the optional "jobspy" source scrapes (indeed, linkedin, glassdoor, google).'},
    )
    jobspy_max_results: int = field(
        default=30, metadata={"description": "Postings the jobspy source asks each site for.", "ge": 1, "le": 500}
    )
    jobspy_country: str = field(
        default="usa", metadata={"description": "Country whose Indeed and Glassdoor the jobspy source searches."}
    )
    board_max_results: int = field(
        default=200, metadata={"description": "Postings read from one company board per search.", "ge": 1, "le": 2000}
    )
    allow_loopback: bool = field(
        default=False,
        metadata={
            "description": "Let webhooks and pasted job links reach loopback addresses (127.0.0.0/8, ::1): for tests "
            "only.",
            "env": ("JOBLAND_ALLOW_LOOPBACK", "JOBLAND_WEBHOOK_ALLOW_LOOPBACK"),
        },
    )
    mailer: Literal["outbox", "gmail", "smtp"] = field(
        default="outbox", metadata={"description": 'How packages are emailed: "outbox", "gmail", "smtp".'}
    )
    gmail_token_file: str | None = field(default=None, metadata={"description": "OAuth token JSON for Gmail."})
    gmail_api_endpoint: str | None = field(default=None, metadata={"description": "Gmail API endpoint override."})
    sheet_id: str | None = field(
        default=None,
        metadata={
            "description": "Google Sheet (its id) the application tracker syncs to after every delivery and "
            "status change; unset = only `jobland applications sync --sheet ID`."
        },
    )
    sheets_token_file: str | None = field(
        default=None,
        metadata={"description": "OAuth token JSON for Google Sheets (scope spreadsheets); unset = the Gmail one."},
    )
    sheets_api_endpoint: str | None = field(
        default=None, metadata={"description": "Google Sheets API endpoint override."}
    )
    smtp_host: str | None = field(default=None, metadata={"description": "SMTP server."})
    smtp_port: int = field(default=587, metadata={"description": "SMTP port."})
    smtp_username: str | None = field(default=None, metadata={"description": "SMTP user."})
    smtp_password: str | None = field(default=None, repr=False, metadata={"description": "SMTP password."})
    smtp_starttls: bool = field(default=True, metadata={"description": "Upgrade the SMTP connection with STARTTLS."})
    smtp_ca_file: str | None = field(
        default=None, metadata={"description": "CA certificate(s) to trust for SMTP TLS; unset = the system's."}
    )
    service_limits: dict[str, dict[str, float]] = field(
        default_factory=dict,
        metadata={
            "description": "Per-service overrides: {service: {max_concurrency, requests_per_second, max_attempts, "
            "base_delay, max_delay, max_retry_after}}; max_retry_after (default 600 s) is the longest Retry-After "
            "waited for, beyond which the call gives up."
        },
    )

    broker_url: str | None = field(
        default=None,
        metadata={
            "description": "Redis for Celery workers and the shared service budget (redis://host:6379/0); "
            "unset = runs in the process that starts them, limits counted per process."
        },
    )
    broker_key_prefix: str = field(
        default="jobland:",
        metadata={"description": "Prefix of every Redis key JobLand writes (queues and limits), to share a Redis."},
    )

    def __post_init__(self) -> None:
        for name, variables in SECRET_VARIABLES.items():
            if getattr(self, name) is None:
                setattr(self, name, next((os.environ[v] for v in variables if os.environ.get(v)), None))

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()

    @property
    def outbox_dir(self) -> Path:
        return self.home_path / "outbox"

    @property
    def packages_dir(self) -> Path:
        return self.home_path / "packages"
