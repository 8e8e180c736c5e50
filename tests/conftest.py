"""Fixtures shared by the test modules: the shipped knowledge base and the `bmsdoc` command line.

A content/ that does not validate fails every test that needs it, naming the first problems (`bmsdoc kb validate`
lists them all): a broken knowledge base is never a reason to skip.
"""

from __future__ import annotations

import io
import sys

import pytest


def load_shipped_kb():
    """The real content/ (cached per process by kb.load); fails the calling test when it does not validate."""
    from kb.errors import KBInvalid
    from kb.load import load_kb

    try:
        return load_kb()
    except KBInvalid as e:
        pytest.fail("content/ does not validate (bmsdoc kb validate lists every problem): "
                    + "; ".join(map(str, e.problems[:3])), pytrace=False)


@pytest.fixture(scope="session")
def kb():
    """The shipped knowledge base. Modules that test the loader on their own content define their own `kb`."""
    return load_shipped_kb()


@pytest.fixture
def bmsdoc(capsys, monkeypatch):
    """The command line as a user types it, in this process: bmsdoc("check", path, "--json", stdin=None) ->
    (exit code, stdout, stderr). Arguments are turned into strings (paths may be passed as they are)."""
    from tui.cli import main

    def run(*argv, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture(autouse=True)
def _data_dir_reset():
    """A test that started the app with data_dir=... leaves the next test on the environment's directory."""
    yield
    from engine.datadir import set_data_dir

    set_data_dir(None)
