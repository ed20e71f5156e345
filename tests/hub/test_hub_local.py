"""A real JupyterHub from hub_config/ in local mode, on free loopback ports.

One hub, with ada's server started through the REST API, serves the module (starting them takes seconds on
two cores); each test stands on its own, in any order: log in, spawn another user, talk to the server through
configurable-http-proxy, a kernel, a terminal. The tests that stop a hub start their own.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from tornado import httpclient, websocket

from hubml.processes import free_ports
from local_hub import PASSWORD, REPO_ROOT, SPAWN_SECONDS, USER, LocalHub, hub_answers
from process_helpers import alive, descendants, process_environment, still_running
from wait_helpers import wait_for

pytestmark = pytest.mark.timeout(180)  # a hang guard: two hubs start in the longest test


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    local_hub = LocalHub(tmp_path_factory.mktemp("hub"))
    try:
        local_hub.spawn()
        yield local_hub
    finally:
        local_hub.stop()
        local_hub.kill_leftovers()


def test_login_takes_the_shared_password_and_refuses_a_wrong_one(hub):
    session = requests.Session()
    page = session.get(f"{hub.url}/hub/login", timeout=10)
    assert page.ok
    xsrf = session.cookies.get("_xsrf")
    wrong = session.post(f"{hub.url}/hub/login", data={"username": USER, "password": "nope", "_xsrf": xsrf},
                         allow_redirects=False, timeout=10)
    assert wrong.status_code == 403
    right = session.post(f"{hub.url}/hub/login", data={"username": USER, "password": PASSWORD, "_xsrf": xsrf},
                         allow_redirects=False, timeout=10)
    assert right.status_code == 302, right.text[:500]
    assert "jupyterhub-session-id" in session.cookies or any("jupyterhub" in c for c in session.cookies.keys())


def test_a_user_server_spawns_through_the_rest_api_and_stops(hub):
    user = "grace"
    assert hub.api("POST", f"/hub/api/users/{user}").status_code == 201
    started = hub.api("POST", f"/hub/api/users/{user}/server")
    assert started.status_code in (201, 202), started.text
    wait_for(lambda: hub.server_ready(user), SPAWN_SECONDS, f"{user}'s server\n{hub.log_text()}")
    hub.remember_processes()
    status = hub.api("GET", f"/user/{user}/api/status")
    assert status.status_code == 200, status.text
    assert "kernels" in status.json()
    assert hub.api("DELETE", f"/hub/api/users/{user}/server").status_code in (202, 204)
    wait_for(lambda: not hub.api("GET", f"/hub/api/users/{user}").json()["servers"], SPAWN_SECONDS,
             f"{user}'s server stopped")


def test_the_server_has_a_private_hubml_home_the_notebook_and_the_kernel_config(hub):
    home = hub.data / "users" / USER
    hubml_home = home / ".hubml"
    assert stat.S_IMODE(hubml_home.stat().st_mode) == 0o700
    kernel_config = home / ".ipython" / "profile_default" / "ipython_kernel_config.py"
    assert 'extensions = ["hubml"]' in kernel_config.read_text()
    quickstart = REPO_ROOT / "examples" / "quickstart.ipynb"
    if quickstart.exists():
        assert (home / "quickstart.ipynb").read_bytes() == quickstart.read_bytes()

    servers = [pid for pid in descendants(hub.process.pid)
               if b"jupyterhub-singleuser" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert servers, "no jupyterhub-singleuser process under the hub"
    environment = process_environment(servers[0])
    assert environment["HUBML_HOME"] == str(hubml_home)
    assert environment["HUBML_BACKEND"] == "local"
    assert environment["HUBML_USER"] == USER
    assert environment["HOME"] == str(home)


def test_the_hubml_server_extension_answers_through_the_proxy(hub):
    jobs = hub.api("GET", f"/user/{USER}/hubml/api/jobs")
    assert jobs.status_code == 200, f"{jobs.status_code}: {jobs.text[:300]}"
    assert jobs.json()["jobs"] == []  # the extension's listing, `{"jobs": [...]}`; a new user has none


def test_a_user_name_unfit_for_a_folder_is_refused(hub):
    refused = hub.api("POST", "/hub/api/users/no%20spaces%3B")
    assert refused.status_code == 400, refused.text
    assert "Failed to create user" in refused.json()["message"]
    assert hub.api("GET", "/hub/api/users/no%20spaces%3B").status_code == 404


async def execute(hub: LocalHub, kernel_id: str, code: str) -> str:
    """Run `code` in a kernel over the Jupyter websocket protocol, through the proxy; return its stdout."""
    url = f"ws://127.0.0.1:{hub.port}/user/{USER}/api/kernels/{kernel_id}/channels"
    request = httpclient.HTTPRequest(url, headers={"Authorization": f"token {hub.token}"})
    connection = await websocket.websocket_connect(request)
    msg_id = uuid.uuid4().hex
    connection.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": uuid.uuid4().hex,
                   "username": USER, "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    output = []
    try:
        while True:
            message = json.loads(await asyncio.wait_for(connection.read_message(), 60))
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                output.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                raise AssertionError("\n".join(message["content"]["traceback"]))
            elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return "".join(output)  # iopub's idle comes after all of the request's output
    finally:
        connection.close()


def test_every_kernel_loads_the_hubml_extension_and_sees_the_private_home(hub):
    kernel = hub.api("POST", f"/user/{USER}/api/kernels", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
    code = ("import os; shell = get_ipython()\n"
            "print('hubml' in shell.extension_manager.loaded, 'train' in shell.magics_manager.magics['cell'],"
            " os.environ['HUBML_HOME'])")
    printed = asyncio.run(execute(hub, kernel.json()["id"], code))
    assert printed.split() == ["True", "True", str(hub.data / "users" / USER / ".hubml")]
    hub.remember_processes()


async def terminal_output(hub: LocalHub, command: str, until: str) -> str:
    """Type `command` into a new JupyterLab terminal of the user's server, through the proxy; read until `until`."""
    name = hub.api("POST", f"/user/{USER}/api/terminals").json()["name"]
    url = f"ws://127.0.0.1:{hub.port}/user/{USER}/terminals/websocket/{name}"
    connection = await websocket.websocket_connect(
        httpclient.HTTPRequest(url, headers={"Authorization": f"token {hub.token}"}))
    connection.write_message(json.dumps(["stdin", command + "\r"]))
    output = ""
    try:
        while until not in output:
            message = json.loads(await asyncio.wait_for(connection.read_message(), 60))
            if message[0] == "stdout":
                output += message[1]
    finally:
        connection.close()
        hub.api("DELETE", f"/user/{USER}/api/terminals/{name}")
    return output


def test_a_terminal_finds_hubml_and_shares_the_notebooks_home(hub):
    printed = asyncio.run(terminal_output(
        hub, "echo home=$HUBML_HOME; command -v hubml; hubml jobs list --output json; echo done-$((6*7))", "done-42"))
    assert f"home={hub.data / 'users' / USER / '.hubml'}" in printed
    assert f"{Path(sys.executable).parent}/hubml" in printed  # this environment's command, not "not found"
    assert "[]" in printed and "command not found" not in printed
    hub.remember_processes()


def test_the_hub_stops_cleanly_with_no_process_left(tmp_path):
    """Stopping the hub (Ctrl-C or SIGTERM) also stops the proxy, the running server and its kernel.

    JupyterHub stops its servers and waits for them, but sends the proxy SIGTERM and exits without waiting
    (`ConfigurableHTTPProxy.stop`): the proxy may still be ending when the hub has gone, so the test waits
    for every process to end, with a deadline that names those that outlived the hub."""
    own_hub = LocalHub(tmp_path)
    try:
        own_hub.spawn()
        assert own_hub.api("POST", f"/user/{USER}/api/kernels", json={"name": "python3"}).status_code == 201
        own_hub.remember_processes()
        assert len(own_hub.seen) >= 4, "expected hub, proxy, server and kernel"
        own_hub.stop()
        assert own_hub.process.returncode == 0, own_hub.log_text()
        outlived = still_running(own_hub.seen)
        wait_for(lambda: not still_running(own_hub.seen), 15,
                 f"the processes that outlived the hub to end: {outlived}")
        assert not (tmp_path / "proxy.pid").exists()
    finally:
        own_hub.stop()
        own_hub.kill_leftovers()


def test_make_hub_prints_the_url_and_the_login_then_serves(tmp_path):
    """`make hub` runs `python -m hub_config.run`: it says where and how, then becomes the hub."""
    port, proxy_api_port, internal_port = free_ports(3)
    env = {**os.environ, "HUBML_HUB_DATA": str(tmp_path), "HUBML_HUB_PORT": str(port),
           "HUBML_HUB_PROXY_API_PORT": str(proxy_api_port), "HUBML_HUB_INTERNAL_PORT": str(internal_port)}
    env.pop("HUBML_HUB_PASSWORD", None)
    process = subprocess.Popen([sys.executable, "-m", "hub_config.run"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        banner = [process.stdout.readline() for _ in range(2)]
        password = (tmp_path / "password").read_text().strip()
        assert banner[0].strip() == f"hubml hub: http://127.0.0.1:{port}/"
        assert banner[1].strip().endswith(f"the password: {password}") and len(password) >= 16
        assert stat.S_IMODE((tmp_path / "password").stat().st_mode) == 0o600
        wait_for(lambda: hub_answers(f"http://127.0.0.1:{port}"), 40, "the hub")
    finally:
        seen = descendants(process.pid) | {process.pid}
        process.send_signal(signal.SIGINT)  # Ctrl-C
        process.wait(timeout=30)
    outlived = still_running(seen)  # the proxy may still be ending (see the test above)
    wait_for(lambda: not still_running(seen), 15, f"the processes that outlived the hub to end: {outlived}")


def test_a_tensorboard_a_kernel_started_ends_when_the_hub_stops(tmp_path):
    """TensorBoard runs detached from the kernel (it outlives it), but not past the user's server: nothing hubml
    started for a user is left once the hub, and so the server, has stopped."""
    own_hub = LocalHub(tmp_path)
    try:
        own_hub.spawn()
        kernel = own_hub.api("POST", f"/user/{USER}/api/kernels", json={"name": "python3"}).json()
        code = ("import hubml\nclient = hubml.Client()\njob = client.train('print(1)', name='tb').wait(timeout=60)\n"
                "print(job.tensorboard().pid)")
        board = int(asyncio.run(execute(own_hub, kernel["id"], code)).split()[-1])
        assert alive(board) and os.getsid(board) == board  # detached from the kernel: a session of its own
        own_hub.stop()
        wait_for(lambda: not alive(board), 30, "the TensorBoard to end with the server that started it")
    finally:
        own_hub.stop()
        own_hub.kill_leftovers()
