import pytest

from kiosk import config
from kiosk.config import ConfigError

from .conftest import REPO


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_repo_config_is_the_generated_default():
    # config.toml documents every option the code reads, because it is generated from the table.
    assert (REPO / "config.toml").read_text(encoding="utf-8") == config.render_default()
    assert config.load() == config.Config()


def test_seed_texts_are_the_default_rank_texts():
    assert config.Config().verdict.rank_texts[0] == "ㅆㅎㅌㅊ 입니다..힘내세요.."
    assert config.Config().verdict.rank_texts[4] == "ㅆㅅㅌㅊ 입니다. 축하합니다!"


def test_values_are_read_and_ints_accepted_for_floats(tmp_path):
    c = config.load(write(tmp_path, "[detection]\nscale_factor = 1.2\nmax_face = 1\n"))
    assert c.detection.scale_factor == 1.2 and c.detection.max_face == 1.0
    assert c.detection.min_neighbors == config.DetectionConfig().min_neighbors


def test_unknown_key_names_key_and_suggests(tmp_path):
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, "[detection]\nscale_factr = 1.2\n"))
    message = str(err.value)
    assert "scale_factr" in message and "did you mean 'scale_factor'" in message
    assert "\n" not in message


def test_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown section \[detecton\].*did you mean 'detection'"):
        config.load(write(tmp_path, "[detecton]\nscale_factor = 1.2\n"))


@pytest.mark.parametrize("text, allowed", [
    ("[detection]\nscale_factor = 0.5\n", "a number from 1.01 to 2.0"),
    ("[detection]\nmin_neighbors = 2.5\n", "a whole number from 1 to 20"),
    ("[detection]\nmin_neighbors = true\n", "a whole number"),
    ("[models]\ndir = 3\n", "a string"),
    ("[verdict]\nrank_texts = [\"a\", \"b\"]\n", "a list of 5 non-empty strings"),
    ("[detection]\nscale_factor = nan\n", "a number from 1.01"),
])
def test_bad_values_name_key_and_allowed(tmp_path, text, allowed):
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, text))
    assert allowed in str(err.value) and str(tmp_path) in str(err.value)


def test_broken_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "[detection\n"))
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="must be a table"):
        config.load(write(tmp_path, "detection = 3\n"))


def test_overrides_win_over_file(tmp_path):
    c = config.load(write(tmp_path, "[models]\nthreads = 2\n"), overrides={"models": {"threads": 3}})
    assert c.models.threads == 3


def test_config_objects_are_immutable():
    with pytest.raises(Exception):
        config.Config().detection.scale_factor = 2.0
