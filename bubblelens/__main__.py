"""`python -m bubblelens` is the `bubblelens` command."""
from .cli import main

main()
