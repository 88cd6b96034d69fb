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


def _mixture_ctx(profile: str, **mixture):
    from dataclasses import replace
    from types import SimpleNamespace

    from bubblelens.core.config import profile_config

    cfg = profile_config(profile)
    return SimpleNamespace(cfg=replace(cfg, mixture=replace(cfg.mixture, **mixture)), device="cpu")


def test_mixture_seeds_train_in_chunks_of_the_ensemble_size():
    from bubblelens.pipeline.model_stages import _mixture_units

    ctx = _mixture_ctx("quick")
    units = _mixture_units(ctx, "ring8", "vanilla")
    assert [u.key for u in units] == ["mlp_gan-ring8-vanilla-s0-9", "mlp_gan-ring8-vanilla-s10-19"]
    assert [u.kwargs["seeds"] for u in units] == [tuple(range(10)), tuple(range(10, 20))]
    whole = _mixture_units(_mixture_ctx("quick", ensemble_size=0), "ring8", "vanilla")
    assert [u.key for u in whole] == ["mlp_gan-ring8-vanilla"] and whole[0].kwargs["seeds"] == tuple(range(20))
    uneven = _mixture_units(_mixture_ctx("quick", ensemble_size=8), "ring8", "pacgan")
    assert [len(u.kwargs["seeds"]) for u in uneven] == [8, 8, 4]
    with pytest.raises(UsageError, match="ensemble_size"):
        _mixture_units(_mixture_ctx("quick", ensemble_size=-1), "ring8", "vanilla")
