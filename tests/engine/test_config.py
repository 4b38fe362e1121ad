import stat
import tomllib
from pathlib import Path

import pytest

from engine.config import (
    Config,
    ConfigError,
    ensure_data_dir,
    load_config,
    parse_config,
    resolve_data_dir,
)
from tests.conftest import REPO_ROOT


def test_shipped_default_config_equals_built_in_defaults() -> None:
    text = (REPO_ROOT / "resources" / "default_config.toml").read_text()
    assert parse_config(text) == Config()
    assert tomllib.loads(text)  # and it is plain TOML


def test_values_override_defaults_and_stay_frozen() -> None:
    config = parse_config("[index]\nef = 300\n[walk]\nexclude = ['*.log']\n")
    assert config.index.ef == 300
    assert config.index.m == Config().index.m
    assert config.walk.exclude == ("*.log",)
    with pytest.raises(AttributeError):
        config.index.ef = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    ["[index]\nef = 'many'\n", "[nope]\nx = 1\n", "[index]\nbogus = 1\n", "not toml ["],
)
def test_bad_config_is_a_clear_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_config(text)


def test_load_config_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[search]\nk = 'x'\n")
    with pytest.raises(ConfigError, match="config.toml"):
        load_config(tmp_path)
    assert load_config(tmp_path / "missing") == Config()


def test_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOWSE_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(str(tmp_path / "cli")) == tmp_path / "cli"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("DOWSE_DATA_DIR")
    assert "dowse" in str(resolve_data_dir(None)).lower()


def test_data_dir_is_private(tmp_path: Path) -> None:
    path = ensure_data_dir(tmp_path / "a" / "data")
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
