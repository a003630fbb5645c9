"""Run settings handed to every node as `Runtime[Context]`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(kw_only=True)
class Context:
    """Per-run configuration. The CLI and server build it from Settings; Studio uses the defaults."""

    user_id: str = field(default="local", metadata={"description": "Who owns the threads this run creates."})
    user_email: str = field(default="me@localhost", metadata={"description": "The only address packages are sent to."})
    user_name: str = field(default="", metadata={"description": "Display name for the recipient address."})
    home: str = field(default=str(Path.home() / ".jobland"), metadata={"description": "Data folder."})
    high_threshold: int = field(
        default=70, metadata={"description": "Match score at or above which a posting is High."}
    )
    medium_threshold: int = field(
        default=50, metadata={"description": "Match score at or above which a posting is Medium."}
    )
    embedding_max_tokens: int = field(default=128, metadata={"description": "Tokens of each text the embedder reads."})
    cv_max_lines: int = field(
        default=18, metadata={"description": "Highlight lines a tailored CV may hold (page budget)."}
    )
    render_pdf: bool = field(default=True, metadata={"description": "Render CV and letter PDFs."})
    cv_style: str = field(default="classic", metadata={"description": 'CV layout: "classic" or "modern".'})
    cv_pages: int = field(default=2, metadata={"description": "Pages the CV PDF may fill (1 or 2)."})
    letter_max_words: int = field(default=350, metadata={"description": "Words a cover letter may hold."})

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()

    @property
    def outbox_dir(self) -> Path:
        return self.home_path / "outbox"

    @property
    def packages_dir(self) -> Path:
        return self.home_path / "packages"
