from __future__ import annotations

import pytest


@pytest.fixture
def stop_boards(hubml_home):
    yield
    from hubml import tensorboard
    from hubml.client import Client

    for board in tensorboard.running(Client()):
        board.stop()
