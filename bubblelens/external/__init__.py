"""External public data sets: Epoch AI's Notable AI Models and Robert Shiller's monthly S&P 500 data.

Whole tables copied unchanged from public mirrors into data/external, each described once in
data/external/datasets.toml (producer, citation, licence, mirror and commit, access day, caveats) rather
than row by row like the curated market series. `schema` holds the per-file rules, `load` validates the
folder and builds the frames (`load_external`), `derived` re-expresses them as month-end series (the
S&P 500 price/dividend ratio the bubble tests read). No imports here: importing a submodule must not
pull in the others (see tests/unit/test_layering.py).
"""
