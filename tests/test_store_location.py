"""Which store a process opens: ``database_url`` / ``$CHATML_DATABASE_URL``, else SQLite in the data dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatml_lab.config import Config
from chatml_lab.core.manager import ChatML
from chatml_lab.errors import ConfigError
from chatml_lab.ipython.config import ChatML as NotebookConfig
from chatml_lab.storage.location import masked, open_store, store_target


def test_no_url_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    assert Config().database_url is None
    assert store_target(None, tmp_path) == tmp_path / "state" / "chatml.db"


def test_the_environment_sets_the_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHATML_DATABASE_URL", f"sqlite:///{tmp_path}/elsewhere.db")
    config = Config()
    assert config.database_url == f"sqlite:///{tmp_path}/elsewhere.db"
    store = open_store(config, tmp_path / "data")
    try:
        store.set_setting("k", "v")
        assert store.location == str(tmp_path / "elsewhere.db")
    finally:
        store.close()
    assert (tmp_path / "elsewhere.db").exists()
    assert not (tmp_path / "data" / "state" / "chatml.db").exists()


@pytest.mark.parametrize(
    "url",
    ["mysql://db/chatml", "sqlite:///relative.db", "sqlite://", "/abs/path.db", "postgresql:/one-slash"],
)
def test_a_bad_url_is_one_line_naming_the_fix(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config(database_url=url)
    message = str(caught.value)
    assert "\n" not in message
    assert "sqlite:////abs/path.db" in message


def test_a_password_never_shows() -> None:
    assert (
        masked("postgresql://me:s3cret@db.example:5433/chatml")
        == "postgresql://me:***@db.example:5433/chatml"
    )
    assert masked("postgresql://me@db.example/chatml") == "postgresql://me@db.example/chatml"
    with pytest.raises(ConfigError) as caught:
        Config(database_url="mysql://me:s3cret@db.example/chatml")
    assert "s3cret" not in str(caught.value)


def test_every_process_opens_the_same_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The manager (and through its config, the runner and the runner host) opens the URL's store."""
    db = tmp_path / "shared.db"
    cm = ChatML(data_dir=tmp_path / "a", config=Config(database_url=f"sqlite:///{db}"))
    try:
        cm.set_setting("branch_prefix", "team")
        assert cm.settings()["database"] == str(db)
    finally:
        cm.close()
    other = ChatML(data_dir=tmp_path / "b", config=Config(database_url=f"sqlite:///{db}"))
    try:
        assert other.settings()["branch_prefix"] == "team"
    finally:
        other.close()
    assert (
        Config.from_json(Config(database_url=f"sqlite:///{db}").to_json()).database_url == f"sqlite:///{db}"
    )


def test_the_notebook_setting_reaches_the_core(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nb.db"
    assert NotebookConfig(database_url=url).core_config().database_url == url
    monkeypatch.setenv("CHATML_DATABASE_URL", url)
    # Unset in the notebook: the environment's URL, not None.
    assert NotebookConfig().core_config().database_url == url
    assert os.environ["CHATML_DATABASE_URL"] == url


def test_doctor_and_settings_name_the_database(engine: str, cm: ChatML) -> None:
    from chatml_lab.doctor import run_checks
    from chatml_lab.storage.schema import MIGRATIONS

    [check] = [c for c in run_checks(cm) if c.name == "database"]
    assert check.ok and check.detail.startswith(cm.store.location)
    assert f"({engine}, schema {len(MIGRATIONS)})" in check.detail
    assert cm.settings()["database"] == cm.store.location
    if engine == "postgresql":
        assert cm.store.location == os.environ["CHATML_DATABASE_URL"]  # no password to mask here


def test_the_retry_bound_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Config().database_retry_for == 30.0
    monkeypatch.setenv("CHATML_DATABASE_RETRY_FOR", "2.5")
    assert Config().database_retry_for == 2.5
    monkeypatch.setenv("CHATML_DATABASE_RETRY_FOR", "soon")
    with pytest.raises(ConfigError, match="not a number of seconds"):
        Config()
