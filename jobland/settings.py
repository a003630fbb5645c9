"""One Settings object: environment, `.env`, then the config file, then defaults."""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from graph.context import Context

DEFAULT_HOME = Path("~/.jobland")
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")


def config_file() -> Path:
    """$JOBLAND_CONFIG, else config.toml in the data folder."""
    explicit = os.environ.get("JOBLAND_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return Path(os.environ.get("JOBLAND_HOME", DEFAULT_HOME)).expanduser() / "config.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBLAND_", env_file=".env", extra="ignore")

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

    def context(self) -> Context:
        return Context(
            user_email=self.email,
            user_name=self.name,
            home=str(self.home),
            high_threshold=self.high_threshold,
            medium_threshold=self.medium_threshold,
            cv_max_lines=self.cv_max_lines,
            render_pdf=self.render_pdf,
        )
