"""bubblelens: measured, cited evidence on whether generative AI delivers what the market expects."""
from pathlib import Path

__version__ = "0.1.0"

# The package is installed editable from its repository; shipped data and templates live beside it.
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
TEMPLATES_DIR = REPO_ROOT / "templates"
