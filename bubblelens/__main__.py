"""`python -m bubblelens` is the `bubblelens` command."""
from bubblelens.cli.main import run_command

run_command()
