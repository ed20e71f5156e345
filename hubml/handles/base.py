"""What every long-running handle shares: an id, a name, and a record asked for again until it is final."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hubml.client import Client


class Handle:
    def __init__(self, client: Client, record: Any):
        self.client = client
        self._record = record

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def record(self) -> Any:
        """The latest record from where the work runs (final records are not asked for again)."""
        if not self._record.final:
            self._record = self._fetch()
        return self._record

    @property
    def state(self) -> str:
        return self.record.state

    @property
    def done(self) -> bool:
        return self.record.final

    def _fetch(self) -> Any:
        raise NotImplementedError
