"""Nothing hides a broken module: a command, a KB extension or a backend that fails to import is an error that
names it, not a feature quietly "not in this build"."""

import pytest

import kb.validate
import tui.commands
from tui.cli import build_parser


def test_a_command_module_that_does_not_import_is_an_error_not_a_missing_command(monkeypatch):
    monkeypatch.setattr(tui.commands, "COMMANDS", [*tui.commands.COMMANDS, "no_such_command"])
    with pytest.raises(ModuleNotFoundError, match="tui.commands.no_such_command"):
        build_parser()


def test_every_listed_command_is_offered():
    text = build_parser().format_help()
    for name in tui.commands.COMMANDS:
        assert name in text


def test_a_kb_extension_that_does_not_import_is_an_error(monkeypatch):
    monkeypatch.setattr(kb.validate, "EXTENSIONS", [*kb.validate.EXTENSIONS, "kb.no_such_extension"])
    with pytest.raises(ModuleNotFoundError, match="kb.no_such_extension"):
        kb.validate.import_extensions()


def test_the_tui_names_no_backend_as_missing_from_the_build():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "tui"
    hits = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if "in this build" in line or "find_spec(" in line]
    assert hits == []
