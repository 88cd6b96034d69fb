"""The domain feature extractor: real (tiny) training on the shipped images, shapes, determinism, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bubblelens.evaluation import features
from bubblelens.core.config import FeatureParams, profile_config
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split

TINY = FeatureParams(epochs=1, batch_size=64, lr=2e-3, width=4)


@pytest.fixture(scope="module")
def data():
    tr = load_split(SHIPPED_IMAGES, "train", 1000)
    te = load_split(SHIPPED_IMAGES, "test", 500)
    return tr, te


@pytest.fixture(scope="module")
def trained(data):
    tr, te = data
    return features.train_classifier(TINY, tr.images, tr.labels, te.images, te.labels, seed=0)


def test_training_learns_and_reports(trained):
    state, info = trained
    assert info["test_accuracy"] > 0.5            # 10 classes: chance is 0.1; one tiny epoch on 1000 images reaches ~0.65
    assert info["n_train"] == 1000 and info["n_test"] == 500
    assert info["feature_dim"] == features.FEATURE_DIM and info["feature_layer"] == features.FEATURE_LAYER == "penultimate"
    assert info["params"] == sum(v.numel() for k, v in state.items() if "running" not in k and "num_batches" not in k)
    assert info["config"] == {"batch_size": 64, "epochs": 1, "lr": 2e-3, "width": 4}
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_training_is_deterministic(data):
    tr, te = data
    runs = [features.train_classifier(TINY, tr.images[:256], tr.labels[:256], te.images[:64], te.labels[:64], seed=s)
            for s in (3, 3, 4)]
    assert all(torch.equal(runs[0][0][k], runs[1][0][k]) for k in runs[0][0])
    assert not all(torch.equal(runs[0][0][k], runs[2][0][k]) for k in runs[0][0])   # the seed matters


def test_extractor_features_and_predictions(data, trained):
    _, te = data
    ext = features.FeatureExtractor.from_state(trained[0], TINY)
    f = ext.features(te.images, batch_size=128)   # ragged last batch
    assert f.shape == (500, features.FEATURE_DIM) and f.dtype == np.float64
    assert np.all(f >= 0) and np.isfinite(f).all()  # ReLU layer
    assert np.array_equal(f, ext.features(te.images, batch_size=500))  # eval mode: batch-independent
    pred = ext.predict(te.images)
    assert pred.shape == (500,) and pred.dtype == np.int64
    assert np.mean(pred == te.labels) == pytest.approx(trained[1]["test_accuracy"])
    # features are the penultimate layer: the head applied to them gives the predictions
    logits = ext.model.head(torch.from_numpy(f).float())
    assert np.array_equal(logits.argmax(1).numpy(), pred)


def test_extractor_rejects_bad_images(trained):
    ext = features.FeatureExtractor.from_state(trained[0], TINY)
    with pytest.raises(ValueError, match="uint8"):
        ext.features(np.zeros((2, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        ext.predict(np.zeros((2, 32, 32), dtype=np.uint8))


def test_profiles_build_their_own_classifier():
    """Each profile's feature params are its own (not the dataclass defaults) and give a working extractor."""
    default = FeatureParams()
    smoke, quick = profile_config("smoke").features, profile_config("quick").features
    assert smoke != default and quick != default and smoke != quick
    model = features.DomainClassifier(smoke.width)
    out = model.embed(torch.zeros(2, 1, 28, 28))
    assert out.shape == (2, features.FEATURE_DIM)
