"""The import rules of the layers, read from every module's AST: faces -> service -> graph -> agents -> tools/domain.

Faces (the CLI, the HTTP server and its helpers, chat, the Studio adapter) reach agents/, tools/ and graph/
only through the application service (jobland/service.py re-exports what they may use).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

FACES = {
    "server.py",
    "jobland/server.py",  # the link to server.py that installs it as jobland.server
    "jobland/cli.py",
    "jobland/__main__.py",
    "jobland/commands.py",
    "jobland/terminal.py",
    "jobland/chat.py",
    "jobland/studio.py",
    "jobland/browser_sessions.py",
    "jobland/browser_safety.py",
    "jobland/request_limits.py",
    "jobland/cli_watch.py",
    "jobland/tracking_cli.py",
}
# Layer (folder or file) -> the parts of the `jobland` package it may import; anything else of it is refused.
LOWER = ("jobland.domain", "jobland.examples")
ALLOWED = {
    "domain": LOWER,
    "tools": (*LOWER, "jobland.tools"),
    "templates": (*LOWER, "jobland.templates"),
    "prompts": (*LOWER, "jobland.prompts"),
    "agents": (
        *LOWER,
        "jobland.tools",
        "jobland.agents",
        "jobland.graph.state",
        "jobland.graph.context",
        "jobland.prompts",
        "jobland.templates",
    ),
    "graph": (*LOWER, "jobland.tools", "jobland.agents", "jobland.graph", "jobland.prompts", "jobland.templates"),
    # The service layer (jobland/ but the faces) may use every layer below, never a face.
    "service": (
        *LOWER,
        "jobland.tools",
        "jobland.agents",
        "jobland.graph",
        "jobland.prompts",
        "jobland.templates",
        "jobland.service",
        "jobland.settings",
        "jobland.deliveries",
        "jobland.profiling",
        "jobland.doctor",
        "jobland.webhooks",
        "jobland.thread_list",
        "jobland.api_runs",
        "jobland.watches",
        "jobland.tracking",
        "jobland.workers",
    ),
}
# Faces reach agents/, tools/ and graph/ only through the service.
ALLOWED["faces"] = tuple(a for a in ALLOWED["service"] if a not in {"jobland.tools", "jobland.agents", "jobland.graph"})
ALLOWED["faces"] += tuple(
    f"jobland.{f.removeprefix('jobland/').removesuffix('.py')}" for f in FACES if f.startswith("jobland/")
)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "jobland":
            names.update(f"jobland.{alias.name}" for alias in node.names)  # from jobland import terminal
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def layer_of(path: Path) -> str | None:
    relative = path.relative_to(ROOT).as_posix()
    if relative in FACES:
        return "faces"
    if relative.startswith("jobland/"):
        return "service"
    top = relative.split("/")[0]
    return top if top in ALLOWED else None


MODULES = sorted(
    p
    for p in [*ROOT.glob("*.py"), *ROOT.glob("*/**/*.py")]
    if p.parts[len(ROOT.parts)] not in {".venv", "tests", "bench", "build", ".git"} and layer_of(p)
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_imports_point_one_way(path: Path) -> None:
    allowed = ALLOWED[layer_of(path)]
    ours = (name for name in imported(path) if name == "jobland" or name.startswith("jobland."))
    broken = sorted(n for n in ours if not any(n == a or n.startswith(a + ".") for a in allowed))
    assert not broken, f"{path.relative_to(ROOT)} ({layer_of(path)}) imports {broken}"


def test_every_face_is_checked() -> None:
    assert {p.relative_to(ROOT).as_posix() for p in MODULES} >= {f for f in FACES if (ROOT / f).exists()}
    assert len(MODULES) > 60
