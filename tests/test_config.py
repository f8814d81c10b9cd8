import dataclasses

import pytest

from kiosk import config
from kiosk.config import ConfigError

from .conftest import REPO


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_repo_config_is_the_generated_default(monkeypatch, tmp_path):
    # config.toml documents every option the code reads, because it is generated from the table.
    assert (REPO / "config.toml").read_text(encoding="utf-8") == config.render_default()
    monkeypatch.setattr(config, "SYSTEM_CONFIG", tmp_path / "absent.toml")
    assert config.load() == config.Config() == config.load(REPO / "config.toml")


def test_search_order_is_flag_then_etc_then_built_in(monkeypatch, tmp_path):
    system = write(tmp_path, "[models]\nthreads = 2\n")
    monkeypatch.setattr(config, "SYSTEM_CONFIG", system)
    assert config.find() == system and config.load().models.threads == 2
    flag = tmp_path / "flag.toml"
    flag.write_text("[models]\nthreads = 3\n")
    assert config.load(flag).models.threads == 3
    monkeypatch.setattr(config, "SYSTEM_CONFIG", tmp_path / "absent.toml")
    assert config.find() is None and config.load().models.threads == 1


def test_models_are_the_shipped_ones_or_relative_to_the_config_file(tmp_path, monkeypatch):
    assert (config.Config().models_dir / "manifest.json").is_file()
    monkeypatch.chdir("/")
    c = config.load(write(tmp_path, '[models]\ndir = "mine"\n'))
    assert c.models_dir == tmp_path / "mine"


@pytest.mark.parametrize("text, words", [
    ("[detection]\nmin_face = 0.6\nmax_face = 0.5\n", "[detection] min_face = 0.6 is larger than max_face"),
    ("[live]\nmin_face = 0.6\nmax_face = 0.5\n", "[live] min_face = 0.6 is larger than max_face"),
    ("[button]\npin = 27\nled_pin = 27\n", "[button] led_pin = 27 is the button's pin"),
    ('[booth]\ncaptures_dir = ""\n', "expected an absolute path"),
    ('[booth]\ncaptures_dir = "captures"\n', "expected an absolute path"),
    ('[booth]\ncaptures_dir = "/var/x\\u0000y"\n', "expected an absolute path"),
    ('[screen]\nfont = "/a\\u0000.ttf"\n', "expected a string"),
])
def test_options_that_cannot_work_together_or_at_all(tmp_path, text, words):
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, text))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_led_on_the_button_pin_is_fine_when_the_button_is_off(tmp_path):
    assert config.load(write(tmp_path, "[button]\ngpio = false\npin = 27\nled_pin = 27\n")).button.led_pin == 27


def test_deeply_nested_arrays_are_one_line_not_a_traceback(tmp_path):
    with pytest.raises(ConfigError, match="nested too deeply|not valid TOML"):
        config.load(write(tmp_path, "[booth]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n"))


def test_a_fifo_or_a_huge_file_is_refused_without_reading(tmp_path):
    import os
    import threading

    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_error(fifo)), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock the reader that opened the FIFO, so the test run can end
        with open(fifo, "w"):
            pass
    assert outcome and "not a regular file" in outcome[0]
    big = write(tmp_path, "#" * (config.MAX_CONFIG_BYTES + 1))
    assert "larger than" in _error(big)


def _error(path):
    try:
        config.load(path)
    except ConfigError as exc:
        return str(exc)
    return ""


def test_seed_texts_are_the_default_rank_texts():
    assert config.Config().wording.rank_texts[0] == "ㅆㅎㅌㅊ 입니다..힘내세요.."
    assert config.Config().wording.rank_texts[4] == "ㅆㅅㅌㅊ 입니다. 축하합니다!"


def test_english_set_and_single_overrides_and_the_older_rank_texts(tmp_path):
    from kiosk.texts import EN, KO

    assert set(EN) == set(KO)  # every text has both languages
    english = config.load(write(tmp_path, '[texts]\nlanguage = "en"\nhint_none = "Come closer!"\n')).wording
    assert english["hint_steady"] == EN["hint_steady"] and english["hint_none"] == "Come closer!"
    assert english.rank_texts == tuple(EN[f"rank_{n}"] for n in range(1, 6))
    softer = config.load(write(tmp_path, '[texts]\nrank_1 = "다음엔 더 잘 나올 거예요"\n')).wording
    assert softer.rank_texts[0] == "다음엔 더 잘 나올 거예요" and softer.rank_texts[1] == KO["rank_2"]
    older = config.load(write(tmp_path, '[verdict]\nrank_texts = ["a", "b", "c", "d", "e"]\n')).wording
    assert older.rank_texts == ("a", "b", "c", "d", "e")
    assert english.score_line("woman", 3.14, 4) == "woman · score 3.14 / 5 · ★★★★☆"


def test_the_notice_says_what_is_kept_and_who_decides():
    from kiosk.texts import Texts

    words = Texts.of("en")
    assert words.notice(auto=False, captures_saved=False) == ("A camera and an AI estimate gender and a score · "
                                                              "no photo is stored · only when you press the button")
    assert "saved on this booth" in words.notice(False, True) and "holding still" in words.notice(True, False)


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
    ("[texts]\nlanguage = \"fr\"\n", 'one of "ko", "en"'),
    ("[texts]\nhint_none = \"" + "x" * 61 + "\"\n", "[texts] hint_none"),
    ("[texts]\nrank_2 = \"" + "x" * 41 + "\"\n", "at most 40 characters"),
    ("[texts]\nscore_line = \"{points}\"\n", "not a template of {gender}, {score:.2f} and {stars}"),
    ("[texts]\nhint_nobody = \"hi\"\n", "did you mean 'hint_none'"),
    ("[screen]\nfill = \"yes\"\n", 'one of "auto", "on", "off"'),
    ("[light]\npin = 17\n", "[light] pin = 17 is already the button's"),
    ("[brand]\ntitle = \"" + "x" * 61 + "\"\n", "[brand] title"),
    ("[verdict]\nrank_texts = [\"a\", \"b\", \"c\", \"d\", \"" + "e" * 41 + "\"]\n", "of at most 40 characters"),
    ("[detection]\nscale_factor = nan\n", "a number from 1.01"),
    ("[web]\nurl = \"booth.local:8080\"\n", "[web] url = 'booth.local:8080' is not allowed; expected empty or an http://"),
    ("[web]\ntakeaway_minutes = 0\n", "a whole number from 1 to 120"),
    ("[texts]\ntakeaway_note = \"{mins} min\"\n", "not a template of {minutes}"),
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
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.Config().detection.scale_factor = 2.0


def test_a_utf8_bom_as_windows_editors_write_it_is_accepted(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes("\ufeff[models]\nthreads = 2\n".encode("utf-8"))
    assert config.load(path).models.threads == 2


def test_kiosk_config_names_a_font_or_models_folder_that_is_not_there(tmp_path, capsys):
    from kiosk.cli import main

    assert main(["config", "--config", str(write(tmp_path, '[screen]\nfont = "/nonexistent/Nanum.ttf"\n'))]) == 2
    err = capsys.readouterr().err
    assert "[screen] font" in err and "/nonexistent/Nanum.ttf" in err and len(err.splitlines()) == 1
    assert main(["config", "--config", str(write(tmp_path, f'[models]\ndir = "{tmp_path}"\n'))]) == 2
    assert "[models] dir" in capsys.readouterr().err
    assert main(["config", "--config", str(write(tmp_path, ""))]) == 0
