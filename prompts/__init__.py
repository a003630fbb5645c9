"""Prompts for the LLM agents, one file per prompt, loaded by name with StrictUndefined."""

from __future__ import annotations

import re
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


def quoted_data(tag: str, text: str) -> str:
    """Untrusted text (a posting, a web page) fenced as <tag>...</tag>, quoted data for a human message.

    Any <tag> or </tag> inside the text is defused, so nothing in it can close the fence and speak as instructions.
    """
    defused = re.sub(rf"<(/?)\s*{re.escape(tag)}\s*>", r"‹\1" + tag + "›", text, flags=re.IGNORECASE)
    return f"<{tag}>\n{defused}\n</{tag}>"
