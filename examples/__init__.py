"""The bundled example: a sample CV and the demo postings (`jobland demo`), installed with the package."""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
EXAMPLE_CV = EXAMPLES_DIR / "cv" / "alex-morgan.md"
EXAMPLE_JOBS = EXAMPLES_DIR / "jobs"
