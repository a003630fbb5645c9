"""Prompts for the LLM agents, one file per prompt, loaded by name with StrictUndefined."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

PROMPTS_DIR = Path(__file__).parent


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(PROMPTS_DIR), undefined=StrictUndefined, keep_trailing_newline=True)


def prompt_names() -> list[str]:
    return sorted(p.name for p in PROMPTS_DIR.glob("*.md"))


def load_prompt(name: str, **values: object) -> str:
    """Render prompts/<name>.md; a missing value raises."""
    return _environment().get_template(f"{name}.md").render(**values)
