"""Live sources (placeholder until drivers.live lands)."""
from typing import Any, AsyncIterator


def demo_scenarios():
    return []


async def stream_events(spec: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
    yield "error", ("live data is not available in this build (drivers.live is missing)",)


def recorder_for(app, spec):
    return None, "recording is not available in this build"
