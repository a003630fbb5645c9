"""Jinja2 document templates, loaded by name with StrictUndefined."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

TEMPLATES_DIR = Path(__file__).parent


def latex_escape(value: object) -> str:
    """Escape LaTeX special characters so that any field is typeset as text."""
    replacements = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
    return "".join(replacements.get(ch, ch) for ch in str(value))


def markdown_escape(value: object) -> str:
    """Escape characters that Markdown would read as markup or raw HTML."""
    text = str(value)
    for ch in "\\`*_{}[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return text


_HYPHENATED = re.compile(r"\S*\w-\w\S*")


def html_unbroken(value: object) -> Markup:
    """HTML-escaped text whose hyphenated words cannot break at the hyphen (class "nobr" in document.css).

    Words are found in the text before it is escaped, and each piece is escaped on its own: a span never
    lands inside an entity ("R&amp;D-led" read as "R&" + "amp;D-led" showed "&amp;" literally).
    """
    text, pieces, position = str(value), [], 0
    for word in _HYPHENATED.finditer(text):
        pieces += [escape(text[position : word.start()]), Markup('<span class="nobr">%s</span>') % word.group(0)]
        position = word.end()
    return Markup("").join([*pieces, escape(text[position:])])


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "htm", "xml"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["latex"] = latex_escape
    env.filters["md"] = markdown_escape
    env.filters["unbroken"] = html_unbroken
    return env


def template_names() -> list[str]:
    return sorted(p.name for p in TEMPLATES_DIR.glob("*.j2"))


def render(name: str, **values: object) -> str:
    """Render templates/<name> (e.g. "cv.html.j2"); a missing value raises instead of printing nothing."""
    return environment().get_template(name).render(**values)
