"""`python -m jobland` runs the CLI."""

from jobland.cli import main

main()
