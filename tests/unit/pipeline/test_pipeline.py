import pytest

from bubblelens.core.errors import UsageError
from bubblelens.pipeline.context import STAGES, needed_stages


def test_all_stages_by_default():
    assert needed_stages(None) == list(STAGES)


def test_only_runs_dependencies_in_order():
    assert needed_stages("train") == ["data", "train"]
    assert needed_stages("market") == ["market"]
    assert needed_stages("claims") == ["data", "features", "train", "evaluate", "market", "claims"]


def test_only_unknown_stage():
    with pytest.raises(UsageError, match="--only"):
        needed_stages("nope")
