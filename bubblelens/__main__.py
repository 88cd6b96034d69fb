"""`python -m bubblelens` is the `bubblelens` command."""
from bubblelens.cli.main import main

main()
