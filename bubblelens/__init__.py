"""bubblelens: measured, cited evidence on whether generative AI delivers what the market expects.

The subpackages follow the data flow (docs/architecture.md):
datasets -> models -> training -> evaluation --+
market -> analysis ----------------------------+-> claims -> report;  pipeline runs the stages, cli parses.
This file stays thin on purpose: Python runs it before any submodule, so every import here would widen
every stage's code fingerprint.
"""

__version__ = "0.1.0"
