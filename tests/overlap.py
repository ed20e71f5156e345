"""How many spans of time overlap at most: for tests that check how many jobs or trials ran at once."""
from __future__ import annotations

from typing import Iterable


def most_at_once(spans: Iterable[tuple[float, float]]) -> int:
    """The largest number of (start, end) spans that overlap at any moment; an end before a start at a tie."""
    events = sorted(event for start, end in spans for event in ((start, 1), (end, -1)))
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak
