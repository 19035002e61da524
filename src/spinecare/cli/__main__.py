"""`python -m spinecare.cli`."""

from spinecare.cli import run

run()
