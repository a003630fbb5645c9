"""One Settings object: environment, `.env`, then the config file, then defaults."""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
import typing
from pathlib import Path
from typing import Any

import pydantic
from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from jobland.examples import EXAMPLE_JOBS
from jobland.graph.context import SECRET_VARIABLES, Context

DEFAULT_HOME = Path("~/.jobland")
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


# Context fields that Settings holds under names of their own (or not at all: the owner comes from the API user).
OWN_NAMES = {
    "user_id": None,
    "user_email": "email",
    "user_name": "name",
    "home": "home",
    "default_cv": "cv",
    "default_jobs_dir": "jobs_dir",
}
# Every other Context field is a run setting of the same name, defined in graph/context.py only.
RUN_FIELDS = tuple(f.name for f in dataclasses.fields(Context) if f.name not in OWN_NAMES)
_BOUNDS = ("ge", "gt", "le", "lt")


def _run_setting(f: dataclasses.Field) -> tuple[Any, Any]:
    """A Context field as a settings field: the same type, default, description and bounds; keys as SecretStr."""
    hint = typing.get_type_hints(Context)[f.name]
    kwargs: dict[str, Any] = {k: v for k, v in f.metadata.items() if k in _BOUNDS}
    kwargs["description"] = f.metadata.get("description")
    if f.name in SECRET_VARIABLES:
        hint, kwargs["validation_alias"] = SecretStr | None, AliasChoices(*SECRET_VARIABLES[f.name])
    elif "env" in f.metadata:
        kwargs["validation_alias"] = AliasChoices(*f.metadata["env"])
    if f.default_factory is not dataclasses.MISSING:
        return hint, Field(default_factory=f.default_factory, **kwargs)
    return hint, Field(default=f.default, **kwargs)


def _revealed(value: object) -> object:
    """A secret's value for the run's Context (kept in memory only; Studio runs read keys from the environment)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class _Settings(BaseSettings):
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
    browser_session_s: float = Field(
        default=12 * 3600, gt=0, le=30 * 86400, description="Seconds a review-page sign-in lasts."
    )
    jobs_dir: Path = Field(
        default=EXAMPLE_JOBS, description="Folder of postings the HTTP API, chat and Studio search by default."
    )
    cv: Path | None = Field(
        default=None, description="Your master CV, used when a request names none (Studio, chat with a message only)."
    )
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="Largest CV the API accepts.")
    webhook_secret: str | None = Field(
        default=None, description="Signs every webhook call (X-JobLand-Signature-256); runs with a webhook need it."
    )
    profiling_concurrency: int = Field(default=2, ge=1, le=32, description="CVs the API parses at once.")
    parse_timeout_s: float = Field(
        default=8.0, gt=0, description="Seconds the API's reading of one CV may take (in a process of its own)."
    )
    parse_max_memory_bytes: int = Field(
        default=768 * 1024 * 1024, ge=64 * 1024 * 1024, description="Memory the reading of one CV may take."
    )
    parse_max_unpacked_bytes: int = Field(
        default=100 * 1024 * 1024,
        ge=1024 * 1024,
        description="Bytes the compressed parts of a CV (DOCX members, PDF streams) may unpack to.",
    )
    uploads_per_user: int = Field(
        default=2, ge=1, le=64, description="CV uploads one API user may have being read at once (more: 429)."
    )
    runs_per_user: int = Field(
        default=3, ge=1, le=64, description="Runs one API user may have going at once on a server (more: 429)."
    )

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

    def context(self) -> Context:
        own = {"user_email": self.email, "user_name": self.name, "home": str(self.home)}
        own |= {"default_cv": str(self.cv) if self.cv else None, "default_jobs_dir": str(self.jobs_dir)}
        return Context(**own, **{name: _revealed(getattr(self, name)) for name in RUN_FIELDS})


# One Settings object: its own fields above, and every run setting as Context defines it.
Settings = pydantic.create_model(
    "Settings",
    __base__=_Settings,
    __module__=__name__,
    __doc__="JobLand's configuration: environment, `.env`, then the config file, then the defaults.",
    **{f.name: _run_setting(f) for f in dataclasses.fields(Context) if f.name in RUN_FIELDS},
)
