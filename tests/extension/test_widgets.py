"""Widgets built on real handles follow their local-backend jobs, endpoints and sweeps as they run and end."""
from __future__ import annotations

import json
import re

from hubml.extension.widgets import widget_for
from hubml.extension.widgets.endpoint import EndpointWidget
from hubml.extension.widgets.job import JobWidget

FAST = 0.1  # widget polling interval for tests, in seconds


def test_job_widget_follows_a_job_to_success_then_stops_polling(submit, eventually):
    job = submit("ticker")
    widget = widget_for(job, interval=FAST)
    assert isinstance(widget, JobWidget) and widget.poller.running
    eventually(lambda: "RUNNING" in widget.header.value)
    eventually(lambda: widget.progress.value == 2 and widget.progress.max == 3)
    eventually(lambda: "SUCCEEDED" in widget.header.value)
    eventually(lambda: not widget.poller.running)
    assert widget.progress.value == 3 and widget.progress.bar_style == "success"
    assert "epoch 3" in widget.log_view.value and "epoch 3/3" in widget.progress_text.value
    assert 'data-points="3"' in widget.curves.value and ">loss<" in widget.curves.value
    assert widget.cancel_button.layout.display == "none" and widget.deploy_button.layout.display == "none"


def test_job_widget_cancel_button_ends_the_job(submit, wait_for_line, eventually):
    job = submit("sleeper")
    wait_for_line(job, "ready")
    widget = JobWidget(job, interval=FAST)
    eventually(lambda: "ready" in widget.log_view.value)
    widget.cancel_button.click()
    eventually(lambda: "CANCELLED" in widget.header.value and "CANCELLED" in widget.message.value)
    eventually(lambda: not widget.poller.running)
    assert job.state == "CANCELLED" and widget.cancel_button.layout.display == "none"
    assert widget.progress.layout.display == "none"  # it reported no epochs: no bar pretending otherwise


def test_job_widget_shows_a_failure(client, eventually):
    job = client.train("print('about to fail', flush=True)\nraise SystemExit(3)", name="fails")
    widget = JobWidget(job, interval=FAST)
    eventually(lambda: "FAILED" in widget.header.value)
    eventually(lambda: "about to fail" in widget.log_view.value)
    assert "exited with code 3" in widget.header.value


def test_deploy_button_then_endpoint_widget_try_it(submit, client, eventually):
    job = submit("exporter", name="doubler")
    widget = JobWidget(job, interval=FAST)
    eventually(lambda: widget.deploy_button.layout.display == "", timeout=120)
    widget.deploy_button.click()
    # The message is the action's last word, written after `widget.endpoint` and the endpoint's widget are set.
    eventually(lambda: "deployed doubler version 1" in widget.message.value, timeout=120)
    assert widget.endpoint is not None

    endpoint = widget.children[-1]  # the job's widget shows the endpoint it deployed
    assert isinstance(endpoint, EndpointWidget) and endpoint.endpoint.name == "doubler"
    eventually(lambda: "READY" in endpoint.header.value)
    assert "versions</th><td>1<" in endpoint.addresses.value and ":predict" in endpoint.addresses.value
    assert not endpoint.poller.running  # serving: nothing left to wait for
    assert json.loads(endpoint.request.value) == {"instances": [[0.5, 0.5]]}  # from the signature: [None, 2] float
    endpoint.predict_button.click()  # the example works as given
    eventually(lambda: "[[1.0, 1.0]]" in endpoint.answer.value, timeout=60)
    endpoint.request.value = json.dumps({"instances": [[1.0, 2.0], [3.0, 4.0]]})
    endpoint.predict_button.click()
    eventually(lambda: "[[2.0, 4.0], [6.0, 8.0]]" in endpoint.answer.value, timeout=60)
    endpoint.request.value = "{not json"
    endpoint.predict_button.click()
    eventually(lambda: "is not JSON" in endpoint.message.value)
    endpoint.undeploy_button.click()
    eventually(lambda: "UNDEPLOYED" in endpoint.header.value)
    assert client.endpoints() == []


def test_sweep_widget_table_sorts_by_objective_and_plots_each_trial(tune, eventually):
    sweep = tune((1, 2, 3, 4))
    widget = widget_for(sweep, interval=FAST)
    eventually(lambda: "SUCCEEDED" in widget.header.value, timeout=60)
    eventually(lambda: not widget.poller.running)
    assert "4/4 trials finished" in widget.header.value
    assert 'data-points="4"' in widget.plot.value and 'class="best"' in widget.plot.value

    def first_column(column: int) -> list[str]:
        rows = re.findall(r'<tr class="trial"[^>]*>(.*?)</tr>', widget.table.value)
        return [re.findall(r"<td>(.*?)</td>", row)[column] for row in rows]

    assert first_column(0) == ["0", "1", "2", "3"]
    widget.sort.value = "objective, best first"
    by_score = first_column(1)  # the x of each row: 2 scores 0, 1 and 3 score -1, 4 scores -4
    assert by_score[0] == "2" and set(by_score[1:3]) == {"1", "3"} and by_score[3] == "4"
