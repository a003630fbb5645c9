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
    "jobland/cli.py",
    "jobland/__main__.py",
    "jobland/commands.py",
    "jobland/terminal.py",
    "jobland/chat.py",
    "jobland/studio.py",
    "jobland/api_runs.py",
    "jobland/browser_sessions.py",
    "jobland/browser_safety.py",
    "jobland/request_limits.py",
}
# Layer (folder or file) -> the top-level packages of this project it must never import.
FORBIDDEN = {
    "domain": {"tools", "agents", "graph", "jobland", "server"},
    "tools": {"agents", "graph", "jobland", "server"},
    "templates": {"tools", "agents", "graph", "jobland", "server"},
    "prompts": {"tools", "agents", "graph", "jobland", "server"},
    "agents": {"jobland", "server", "graph.builder"},
    "graph": {"jobland", "server"},
    "faces": {"agents", "tools", "graph"},
    "service": {"server", "jobland.cli", "jobland.chat"},
}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
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
    return top if top in FORBIDDEN else None


MODULES = sorted(
    p
    for p in [*ROOT.glob("*.py"), *ROOT.glob("*/**/*.py")]
    if p.parts[len(ROOT.parts)] not in {".venv", "tests", "bench", "build", ".git"} and layer_of(p)
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_imports_point_one_way(path: Path) -> None:
    forbidden = FORBIDDEN[layer_of(path)]
    broken = sorted(
        name for name in imported(path) if any(name == f or name.startswith(f + ".") for f in forbidden)
    )
    assert not broken, f"{path.relative_to(ROOT)} ({layer_of(path)}) imports {broken}"


def test_every_face_is_checked() -> None:
    assert {p.relative_to(ROOT).as_posix() for p in MODULES} >= {f for f in FACES if (ROOT / f).exists()}
    assert len(MODULES) > 60
