"""One module per `bmsdoc` subcommand. Each defines `register(subparsers)` and sets `func` on its parser.

Command modules import their heavy dependencies inside their run function, so `bmsdoc --help` and quick
commands stay fast.
"""

# The order here is the order in `bmsdoc --help`.
COMMANDS = ["check", "diagnose", "select", "checklist", "chat", "scan", "watch", "history", "fleet", "log", "health", "kb"]
