"""One Settings object: environment, `.env`, then the config file, then defaults."""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from graph.context import Context

DEFAULT_HOME = Path("~/.jobland")
EXAMPLE_JOBS = Path(__file__).resolve().parent.parent / "examples" / "jobs"
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")


def config_file() -> Path:
    """$JOBLAND_CONFIG, else config.toml in the data folder."""
    explicit = os.environ.get("JOBLAND_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("JOBLAND_HOME", DEFAULT_HOME)).expanduser() / "config.toml"


class ApiUser(BaseModel):
    """Who an API token belongs to; their packages are sent to this address only."""

    user_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    email: str
    name: str = ""

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address; give each API user their own address")
        return value


PROVIDER_FIELDS = (
    "llm_base_url",
    "llm_api_key",
    "llm_model",
    "llm_role_models",
    "job_sources",
    "serpapi_api_key",
    "serpapi_base_url",
    "serpapi_max_results",
    "exa_api_key",
    "exa_base_url",
    "mailer",
    "gmail_token_file",
    "gmail_api_endpoint",
    "smtp_host",
    "smtp_port",
    "smtp_username",
    "smtp_password",
    "smtp_starttls",
    "smtp_ca_file",
    "service_limits",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBLAND_", env_file=".env", extra="ignore", populate_by_name=True)

    home: Path = Field(default=DEFAULT_HOME, description="Data folder: database, packages, outbox.")
    email: str = Field(
        default_factory=lambda: f"{getpass.getuser()}@localhost", description="Your own address; the only recipient."
    )
    name: str = Field(default="", description="Your name, shown on the recipient address.")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "JOBLAND_DATABASE_URL"),
        description="PostgreSQL for checkpoints and records; unset = embedded PostgreSQL under the data folder.",
    )
    max_concurrency: int = Field(default=16, ge=1, le=256, description="Graph tasks run at once.")
    render_pdf: bool = True
    high_threshold: int = Field(default=70, ge=0, le=100)
    medium_threshold: int = Field(default=50, ge=0, le=100)
    cv_max_lines: int = Field(default=18, ge=3, le=80)
    cv_style: Literal["classic", "modern"] = Field(default="classic", description="CV layout.")
    cv_pages: int = Field(default=2, ge=1, le=2, description="Pages the CV PDF may fill.")
    letter_max_words: int = Field(default=350, ge=120, le=1000, description="Words a cover letter may hold.")
    batch_budget_s: float = Field(
        default=3600.0, gt=0, description="Seconds a batch of packages may take to build (JOBLAND_BATCH_BUDGET_S)."
    )
    send_timeout_s: float = Field(default=120.0, gt=0, description="Seconds an email send may take.")
    node_timeouts: dict[str, float] = Field(
        default_factory=dict,
        description='Per-step time limits in seconds, over the defaults, as JSON: {"write_cv": 600}.',
    )
    api_tokens: dict[str, ApiUser] = Field(
        default_factory=dict,
        description='HTTP API users by bearer token, as JSON: {"<token>": {"user_id": ..., "email": ..., "name": ...}}.',
    )
    api_token: str | None = Field(
        default=None, description="Bearer token of the one local API user when api_tokens is empty."
    )
    jobs_dir: Path = Field(default=EXAMPLE_JOBS, description="Folder of postings the HTTP API searches.")
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="Largest CV the API accepts.")
    webhook_secret: str | None = Field(
        default=None, description="Signs every webhook call (X-JobLand-Signature-256); runs with a webhook need it."
    )
    webhook_allow_loopback: bool = Field(
        default=False, description="Let webhooks call loopback addresses (127.0.0.0/8, ::1): for tests only."
    )
    profiling_concurrency: int = Field(default=2, ge=1, le=32, description="CVs the API parses at once.")

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address; set JOBLAND_EMAIL to your own address")
        return value

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls, config_file()))

    def api_users(self) -> dict[str, ApiUser]:
        """Token -> user; without api_tokens, the local user (this configuration's address) holds api_token."""
        if self.api_tokens:
            return self.api_tokens
        if self.api_token:
            return {self.api_token: ApiUser(user_id="local", email=self.email, name=self.name)}
        return {}

    # Providers (unset = embedded). Keys also read from the services' usual variable names.
    llm_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("JOBLAND_LLM_BASE_URL", "OPENAI_BASE_URL")
    )
    llm_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("JOBLAND_LLM_API_KEY", "OPENAI_API_KEY")
    )
    llm_model: str = "gpt-4.1-mini"
    llm_role_models: dict[str, str] = Field(default_factory=dict)
    job_sources: tuple[str, ...] = ("folder",)
    serpapi_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("JOBLAND_SERPAPI_API_KEY", "SERPAPI_API_KEY")
    )
    serpapi_base_url: str | None = None
    serpapi_max_results: int = Field(default=30, ge=1, le=500)
    exa_api_key: str | None = Field(default=None, validation_alias=AliasChoices("JOBLAND_EXA_API_KEY", "EXA_API_KEY"))
    exa_base_url: str | None = None
    mailer: Literal["outbox", "gmail", "smtp"] = "outbox"
    gmail_token_file: str | None = None
    gmail_api_endpoint: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_ca_file: str | None = None
    service_limits: dict[str, dict[str, float]] = Field(default_factory=dict)

    def context(self) -> Context:
        return Context(
            user_email=self.email,
            user_name=self.name,
            home=str(self.home),
            high_threshold=self.high_threshold,
            medium_threshold=self.medium_threshold,
            cv_max_lines=self.cv_max_lines,
            cv_style=self.cv_style,
            cv_pages=self.cv_pages,
            letter_max_words=self.letter_max_words,
            batch_budget_s=self.batch_budget_s,
            send_timeout_s=self.send_timeout_s,
            render_pdf=self.render_pdf,
            **{name: getattr(self, name) for name in PROVIDER_FIELDS},
        )
