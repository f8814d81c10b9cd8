"""Hostile config files: random and mutated TOML either loads or gives exactly one clear line."""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import config
from kiosk.config import ConfigError

from .conftest import REPO

DEFAULT = (REPO / "config.toml").read_text(encoding="utf-8")
SECTIONS = list(config.SECTIONS)
KEYS = [f.name for cls in config.SECTIONS.values() for f in cls.__dataclass_fields__.values()]

toml_scalars = st.one_of(
    st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: "nan" if f != f else ("inf" if f == float("inf") else ("-inf" if f == float("-inf") else repr(f)))),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(string.printable, max_size=12).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
    st.just("[]"), st.just('["a", "b", "c", "d", "e"]'), st.just("{}"), st.just("1979-05-27"))


def check(tmp_path, text):
    path = tmp_path / "fuzz.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    try:
        loaded = config.load(path)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and str(path) in message
        return None
    assert isinstance(loaded, config.Config)
    return loaded


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(section=st.sampled_from(SECTIONS + ["camra", "x"]), key=st.sampled_from(KEYS + ["foo"]), value=toml_scalars)
def test_random_documents(tmp_path, section, key, value):
    check(tmp_path, f"[{section}]\n{key} = {value}\n")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_default_config(tmp_path, data):
    text = DEFAULT
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace"]))
        chunk = data.draw(st.text(string.printable + "ㅆ가\x00", min_size=1, max_size=6))
        if op == "delete":
            text = text[:at] + text[at + len(chunk):]
        elif op == "insert":
            text = text[:at] + chunk + text[at:]
        else:
            text = text[:at] + chunk + text[at + len(chunk):]
    check(tmp_path, text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_random_bytes(tmp_path, raw):
    check(tmp_path, raw)
