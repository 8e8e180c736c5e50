"""One home for the data directory (engine.datadir): the app's choice, else BMSDOC_DATA_DIR, else the user's data
directory; the app never writes the environment, and checklists, recordings and reports all land in one place."""

import os

from drivers.record import default_path
from engine.checklist import Progress
from engine.datadir import data_dir, set_data_dir


def test_the_environment_names_it_and_every_writer_follows(tmp_path, monkeypatch):
    monkeypatch.setenv("BMSDOC_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    assert default_path() == tmp_path / "sessions.sqlite"
    assert Progress.path_for("wolf-20s", "commissioning").is_relative_to(tmp_path / "checklists")


def test_without_the_environment_it_is_the_users_data_directory(monkeypatch):
    from platformdirs import user_data_path

    monkeypatch.delenv("BMSDOC_DATA_DIR", raising=False)
    assert data_dir() == user_data_path("bmsdoc")


def test_the_app_chooses_it_without_touching_the_environment(tmp_path, monkeypatch):
    from tui.app import BmsDocApp

    monkeypatch.setenv("BMSDOC_DATA_DIR", str(tmp_path / "from-env"))
    before = dict(os.environ)
    BmsDocApp(data_dir=tmp_path / "app", autostart=False, animate=False)
    assert dict(os.environ) == before
    assert data_dir() == tmp_path / "app" and default_path() == tmp_path / "app" / "sessions.sqlite"
    set_data_dir(None)
    assert data_dir() == tmp_path / "from-env"
