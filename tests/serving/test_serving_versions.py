"""A new version folder is picked up while clients send requests, and none of them fails."""
from __future__ import annotations

import os
import shutil
import threading

from hubml.exceptions import ServingError
from hubml.serving.client import PredictClient
from wait_helpers import wait_for


def test_new_version_is_served_without_failing_requests_in_flight(start_server, testdata, tmp_path):
    base = tmp_path / "model"
    shutil.copytree(testdata / "saved_model_half_plus_two_cpu" / "00000123", base / "1")
    server = start_server(f"--model_base_path={base}", "--model_name=m", "--file_system_poll_wait_seconds=0.2")
    client = PredictClient(server.grpc_target, server.rest_url, "m")
    answers: list[float] = []
    failures: list[Exception] = []
    stop = threading.Event()

    def send(protocol: str) -> None:
        while not stop.is_set():
            try:
                answers.append(float(client.predict([2.0], protocol=protocol)[0]))
            except ServingError as error:
                failures.append(error)

    senders = [threading.Thread(target=send, args=(protocol,)) for protocol in ("grpc", "rest", "rest")]
    for sender in senders:
        sender.start()
    try:
        wait_for(lambda: len(answers) > 20, 60, "20 answers from version 1", interval=0.05)
        staged = tmp_path / "staging"
        shutil.copytree(testdata / "saved_model_half_plus_three" / "00000123", staged)
        os.rename(staged, base / "2")  # appears whole, as a finished export does
        wait_for(lambda: answers[-1] == 4.0, 60, "version 2's answer", interval=0.05)  # half_plus_three answers 2/2 + 3
        served_new = len(answers)
        wait_for(lambda: len(answers) > served_new + 20, 60, "20 more answers", interval=0.05)
    finally:
        stop.set()
        for sender in senders:
            sender.join(30)
    assert failures == []
    assert set(answers) == {3.0, 4.0}
    assert answers[answers.index(4.0):].count(3.0) <= 3  # at most the requests already in flight
    assert [(s["version"], s["state"]) for s in client.status(protocol="rest")] == [("2", "AVAILABLE"), ("1", "END")]


