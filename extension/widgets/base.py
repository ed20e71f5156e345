"""What every hubml widget shares: polling its handle on a thread, the state badge, button actions.

A widget refreshes from its handle on a daemon thread until the handle is
final, then stops: a notebook full of finished jobs polls nothing. Backend
calls a button starts (cancel, deploy, predict) also run on a thread, so the
kernel stays free to run cells while they wait.
"""
from __future__ import annotations

import html
import threading
import weakref
from typing import Any, Callable

import ipywidgets

from hubml.exceptions import HubMLError

POLL_SECONDS = 1.0
STATE_COLORS = {
    "PENDING": "#6c757d", "RUNNING": "#0d6efd", "SUCCEEDED": "#198754", "FAILED": "#dc3545",
    "CANCELLED": "#fd7e14", "PRUNED": "#6f42c1", "READY": "#198754", "AVAILABLE": "#198754", "STARTING": "#0d6efd",
}
LIVE_WIDGETS: weakref.WeakSet[HandleWidget] = weakref.WeakSet()


def badge(state: str) -> str:
    color = STATE_COLORS.get(state.upper(), "#6c757d")
    return (f'<span class="hubml-badge" style="background:{color};color:white;border-radius:4px;'
            f'padding:1px 8px;font-weight:bold">{html.escape(state)}</span>')


def title_html(name: str, ident: str, state: str, reason: str = "") -> str:
    """The title line every widget opens with: name, id, state badge, why."""
    return f"<b>{html.escape(name)}</b> <code>{html.escape(ident)}</code> {badge(state)} {html.escape(reason)}"


def pre(text: str) -> str:
    return ('<pre style="max-height:16em;overflow:auto;margin:0;font-size:11px;line-height:1.3">'
            f"{html.escape(text)}</pre>")


def error_text(error: Exception) -> str:
    return f'<span style="color:#dc3545">{html.escape(str(error))}</span>'


class Poller:
    """Calls `refresh()` every `interval` s on a daemon thread until it returns False or `stop()` is called."""

    def __init__(self, refresh: Callable[[], bool], interval: float = POLL_SECONDS):
        self.refresh = refresh
        self.interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="hubml-widget-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            if not self.refresh():
                return


class HandleWidget(ipywidgets.VBox):
    """A box over one handle: `refresh()` redraws it and says whether to keep polling."""

    def __init__(self, children: list[ipywidgets.Widget], interval: float = POLL_SECONDS, **kwargs: Any):
        super().__init__(children=children, **kwargs)
        self.message = ipywidgets.HTML()
        self.children = (*children, self.message)
        self.poller = Poller(self._safe_refresh, interval)
        if self._safe_refresh():
            self.poller.start()
        LIVE_WIDGETS.add(self)

    def refresh(self) -> bool:
        raise NotImplementedError

    def _safe_refresh(self) -> bool:
        """A backend hiccup shows on the widget and the polling goes on; a bug still raises."""
        try:
            return self.refresh()
        except HubMLError as error:
            self.message.value = error_text(error)
            return True

    def act(self, button: ipywidgets.Button, action: Callable[[], str]) -> None:
        """Run a button's backend call on a thread; its returned text (or error) shows under the widget."""
        def run() -> None:
            button.disabled = True
            try:
                self.message.value = html.escape(action())
            except HubMLError as error:
                self.message.value = error_text(error)
            finally:
                button.disabled = False
                self._safe_refresh()

        threading.Thread(target=run, name="hubml-widget-action", daemon=True).start()

    def close(self) -> None:
        if hasattr(self, "poller"):  # ipywidgets also closes half-built widgets on garbage collection
            self.poller.stop()
        super().close()


def stop_all() -> None:
    """Stop every live widget's polling (the extension is unloaded, the kernel is shutting down)."""
    for widget in list(LIVE_WIDGETS):
        widget.poller.stop()
