import pytest

from bubblelens.core.config import PROFILES, canonical, load_config, profile_config
from bubblelens.core.errors import UsageError


@pytest.mark.parametrize("name", PROFILES)
def test_profiles_resolve(name):
    cfg = profile_config(name)
    assert cfg.profile == name
    assert canonical(cfg)["profile"] == name


def test_full_profile_is_the_reference_study():
    cfg = profile_config("full")
    assert cfg.dcgan.width == 1.0 and cfg.dcgan.epochs == 50 and cfg.dcgan.batch_size == 256
    assert cfg.dcgan.lr == 1e-4 and len(cfg.seeds_image) >= 5 and cfg.images.n_train == 60000
    assert cfg.sweep.widths and cfg.sweep.epochs


def test_smaller_profiles_scale_down():
    smoke, quick = profile_config("smoke"), profile_config("quick")
    assert smoke.dcgan.width < 1 and quick.dcgan.width < 1
    assert smoke.images.source == quick.images.source == "shipped"


def test_canonical_is_sorted_plain_data():
    c = canonical(profile_config("quick"))
    assert list(c) == sorted(c)
    assert isinstance(c["seeds_image"], list)


def test_toml_overrides(tmp_path):
    f = tmp_path / "o.toml"
    f.write_text("seeds_image = [7]\n[dcgan]\nepochs = 2\nlr = 1\n")
    cfg = load_config("quick", f)
    assert cfg.seeds_image == (7,) and cfg.dcgan.epochs == 2 and cfg.dcgan.lr == 1.0


@pytest.mark.parametrize("text, needle", [
    ("[dcgan]\nepochz = 2\n", "epochz"),
    ("[dcgan]\nepochs = 'two'\n", "epochs"),
    ("seeds_image = 3\n", "seeds_image"),
    ("[dcgan\n", "not valid TOML"),
])
def test_bad_overrides_name_the_setting(tmp_path, text, needle):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(UsageError, match=needle):
        load_config("quick", f)


def test_unknown_profile():
    with pytest.raises(UsageError, match="smoke, quick, full"):
        profile_config("huge")
