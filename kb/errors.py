"""Errors shared by every layer. A UserError becomes one line on stderr and exit code 2 at the command line."""

from __future__ import annotations

from dataclasses import dataclass


class UserError(Exception):
    """Bad input from the user (a file, a flag, a paste): shown as one line, never as a traceback."""


@dataclass(frozen=True, order=True)
class Problem:
    """One validation problem, located in a content file."""

    path: str
    line: int  # 1-based
    col: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class KBInvalid(Exception):
    """The knowledge base did not validate; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the knowledge base")
