"""`EndpointWidget`: an endpoint's state, addresses and served versions, and a "try it" box.

It polls the `Endpoint` handle while the endpoint starts, and stops once it
serves (or failed); Refresh asks again, e.g. after a new version was exported.
The try-it box takes TF Serving's predict JSON (or bare instances) and shows
the model's answer as JSON; once the endpoint serves, it holds an example
request built from the model's signature (`hubml.serving.examples`), which
works as given.
"""
from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

import ipywidgets

from hubml.exceptions import InvalidArgument, NotFound
from hubml.extension.widgets.base import POLL_SECONDS, HandleWidget, pre, title_html
from hubml.handles.endpoint import jsonable, split_request_body

if TYPE_CHECKING:
    from hubml.handles.endpoint import Endpoint

STARTING = "PENDING"


class EndpointWidget(HandleWidget):
    def __init__(self, endpoint: Endpoint, interval: float = POLL_SECONDS):
        self.endpoint = endpoint
        self.header = ipywidgets.HTML()
        self.addresses = ipywidgets.HTML()
        self.request = ipywidgets.Textarea(placeholder="TF Serving's predict JSON, once the endpoint serves",
                                           description="Request",
                                           layout=ipywidgets.Layout(width="95%", height="5em"))
        self.predict_button = ipywidgets.Button(description="Predict", icon="play", button_style="primary")
        self.refresh_button = ipywidgets.Button(description="Refresh", icon="refresh")
        self.undeploy_button = ipywidgets.Button(description="Undeploy", icon="trash", button_style="danger")
        self.answer = ipywidgets.HTML()
        self.predict_button.on_click(lambda button: self.act(button, self._predict))
        self.refresh_button.on_click(lambda button: self.act(button, lambda: ""))
        self.undeploy_button.on_click(lambda button: self.act(button, self._undeploy))
        super().__init__([
            self.header,
            self.addresses,
            self.request,
            ipywidgets.HBox([self.predict_button, self.refresh_button, self.undeploy_button]),
            self.answer,
        ], interval=interval)

    def refresh(self) -> bool:
        try:
            record = self.endpoint.record
        except NotFound:
            self.header.value = title_html(self.endpoint.name, "", "UNDEPLOYED")
            self.addresses.value = ""
            self.predict_button.disabled = self.undeploy_button.disabled = True
            return False
        self.header.value = title_html(record["name"], record["model"], record["state"], record.get("reason", ""))
        versions = ", ".join(str(version) for version in record["versions"]) or "none yet"
        self.addresses.value = (
            "<table>"
            f"<tr><th align=left>REST</th><td><code>{html.escape(self.endpoint.predict_url)}</code></td></tr>"
            f"<tr><th align=left>gRPC</th><td><code>{html.escape(record['grpc_target'])}</code></td></tr>"
            f"<tr><th align=left>versions</th><td>{html.escape(versions)}</td></tr>"
            f"<tr><th align=left>model</th><td><code>{html.escape(record['model_uri'])}</code></td></tr>"
            "</table>")
        if record["state"] == "READY" and not self.request.value:
            self.request.value = json.dumps(self.endpoint.example_request())
        return record["state"] == STARTING

    def _predict(self) -> str:
        text = self.request.value.strip() or json.dumps(self.endpoint.example_request())
        try:
            payload = json.loads(text)
        except ValueError as error:
            raise InvalidArgument("request", f"is not JSON: {error}") from None
        instances, signature = split_request_body(payload)
        result = self.endpoint.predict(instances, signature_name=signature)
        self.answer.value = pre(json.dumps(jsonable(result)))
        return ""

    def _undeploy(self) -> str:
        self.endpoint.undeploy()
        return f"undeployed {self.endpoint.name}"
