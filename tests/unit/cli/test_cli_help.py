"""`bubblelens build --help` as a newcomer reads it: rich markup must not eat bracketed text."""
from __future__ import annotations

from typer.testing import CliRunner

from bubblelens.cli.main import app


def test_build_help_keeps_brackets():
    out = CliRunner().invoke(app, ["build", "--help"], env={"COLUMNS": "250", "NO_COLOR": "1"}).output
    text = " ".join(out.split())                      # rich wraps and pads; compare on words
    assert "'bubblelens[ray]'" in text                # the extra to install for --executor ray
    assert "e.g. [dcgan] epochs = 5" in text          # a TOML table, not rich markup
