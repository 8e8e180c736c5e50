"""Where bmsdoc keeps what it writes (checklist progress, recordings, reports, app settings): one function.

Order: the directory the app was started with (`set_data_dir`, e.g. `BmsDocApp(data_dir=...)`), else the
BMSDOC_DATA_DIR environment variable, else platformdirs' per-user data directory. Nothing here writes the
environment.
"""

from __future__ import annotations

import os
from pathlib import Path

_chosen: Path | None = None


def set_data_dir(path: str | Path | None) -> None:
    """Use `path` for everything this process writes from now on (None: back to the environment / default)."""
    global _chosen
    _chosen = Path(path) if path is not None else None


def data_dir() -> Path:
    if _chosen is not None:
        return _chosen
    env = os.environ.get("BMSDOC_DATA_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_path

    return user_data_path("bmsdoc")


def umask_mode(path: str) -> None:
    """mkstemp makes 0600 files; an exported or saved file gets the mode the user's umask gives new files."""
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(path, 0o666 & ~mask)
    except OSError:
        pass
