"""The sidebar in a real JupyterLab, in Debian's headless Chromium driven by Playwright.

JupyterLab runs as its own process with the built labextension (`make
labextension`) and hubml's server extension; a job submitted through the
Client API shows up in the sidebar, its logs open, and Cancel ends it.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILT_LABEXTENSION = REPO_ROOT / "extension" / "labextension" / "static"
OUTPUT = REPO_ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 60.0
UI_TIMEOUT_MS = 30_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"jupyter lab did not answer {url} within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab(tmp_path, hubml_home):
    """A JupyterLab with the sidebar and the server extension, on a free port, in a private Jupyter environment."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's Chromium")
    if not (BUILT_LABEXTENSION / "package.json").exists():
        pytest.fail(f"the sidebar is not built: run `make labextension` ({BUILT_LABEXTENSION} is missing)")
    labextensions = tmp_path / "labextensions"
    labextensions.mkdir()
    (labextensions / "hubml").symlink_to(BUILT_LABEXTENSION)
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"hubml.extension": True}}}))
    # No "get Jupyter news?" toast over the screenshot.
    (config / "labconfig").mkdir()
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    root = tmp_path / "notebooks"
    root.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    environment = {**os.environ, "HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(config),
                   "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
                   "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime")}
    log = tmp_path / "lab.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", f"--port={port}",
             "--ip=127.0.0.1", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
             f"--LabApp.extra_labextensions_path={labextensions}"],
            env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/api/status?token={token}", process, log)
        yield {"url": url, "token": token, "log": log, "root": root}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def page(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"{lab['url']}/lab?token={lab['token']}")
            yield page
        finally:
            browser.close()


def test_sidebar_shows_a_job_opens_its_logs_and_cancels_it(page, lab, submit, wait_for_line):
    job = submit("sleeper", name="browser")
    wait_for_line(job, "ready")

    page.click('.jp-SideBar .lm-TabBar-tab[data-id="hubml-sidebar"]')
    row = page.locator(f'.hubml-job[data-id="{job.id}"]')
    row.locator(".hubml-state-RUNNING").wait_for()

    row.locator('[data-action="logs"]').click()
    logs = page.locator(f'.hubml-logs[data-job-id="{job.id}"] .hubml-log-text')
    logs.filter(has_text="ready").wait_for()

    row.locator('[data-action="cancel"]').click()
    page.locator(".jp-Dialog", has_text=f"Cancel job {job.id}?").wait_for()  # asked first
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    page.locator(f'.hubml-job[data-id="{job.id}"] .hubml-state-CANCELLED').wait_for()
    page.locator(f'.hubml-logs[data-job-id="{job.id}"][data-final="true"]').wait_for()
    assert job.state == "CANCELLED"
    assert page.locator(f'.hubml-job[data-id="{job.id}"] [data-action="cancel"]').count() == 0

    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "sidebar-job-cancelled.png"))


def test_sidebar_shows_resources_used_against_capacity_and_the_queue(one_cpu, page, lab, submit, wait_for_line):
    running, queued = submit("sleeper", name="holder"), submit("sleeper", name="waiter")
    wait_for_line(running, "ready")

    page.click('.jp-SideBar .lm-TabBar-tab[data-id="hubml-sidebar"]')
    page.locator('.hubml-quota[data-resource="cpu"]', has_text="1 / 1 used · 1 waiting").wait_for()
    page.locator(".hubml-queue", has_text="1 job queued: 1 waiting for cpu").wait_for()
    memory = page.locator('.hubml-quota[data-resource="memory"]').inner_text()
    assert "2 GiB / " in memory, memory  # the default request of the one running job
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "sidebar-quota-queue.png"))

    running.cancel()
    page.locator('.hubml-quota[data-resource="cpu"]', has_text="1 / 1 used").filter(
        has_not_text="waiting").wait_for()  # the queued job took the freed CPU
    page.locator(".hubml-queue", has_text="no jobs queued").wait_for()
    assert queued.state == "RUNNING"


def test_notebook_shows_a_job_widget_and_the_sidebar_a_sweep_and_a_train_cell(page, lab, submit, tune):
    job = submit("ticker", name="plotted").wait(timeout=60)
    sweep = tune((1, 2, 3)).wait(timeout=60)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import hubml\nhubml.Client().job({job.id!r})")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, lab["root"] / "work.ipynb")

    # The handle's rich display is a live ipywidget in JupyterLab.
    page.goto(f"{lab['url']}/lab/tree/work.ipynb?token={lab['token']}")
    cells = page.locator(".jp-Notebook .jp-Cell")
    # A cell run before the new kernel is connected is dropped, not queued: wait for it first.
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(timeout=120_000)
    cells.first.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    output = cells.first.locator(".jp-OutputArea")
    try:  # the kernel's first start imports hubml and TensorFlow's serving protos: give it time
        output.locator(".hubml-badge", has_text="SUCCEEDED").wait_for(timeout=180_000)
    except Exception:
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "notebook-widget-timeout.png"))
        raise
    assert output.locator('svg[data-points="3"]').count() == 1  # the loss curve, one point per epoch
    assert "epoch 3" in output.inner_text()

    page.click('.jp-SideBar .lm-TabBar-tab[data-id="hubml-sidebar"]')
    row = page.locator(f'.hubml-sweep[data-id="{sweep.id}"]')
    row.filter(has_text="3/3 trials finished").wait_for()
    assert "best score 0.000 (trial" in row.inner_text()

    cells.first.click()
    page.click('.hubml-panel [data-action="insert-train"]')
    cells.nth(1).filter(has_text="%%train --name my-model").wait_for()
    assert "ReportCallback" in cells.nth(1).inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "notebook-widget-sweep-train-cell.png"))


def sidebar(page):
    page.click('.jp-SideBar .lm-TabBar-tab[data-id="hubml-sidebar"]')
    return page.locator(".hubml-panel")


def test_an_empty_sidebar_says_what_to_do_and_has_its_own_icon(page, lab, hubml_home):
    panel = sidebar(page)
    for section, words in (("jobs", "%%train"), ("sweeps", "%%tune"), ("models", "HUBML_MODEL_DIR"),
                           ("endpoints", "Deploy")):
        panel.locator(f".hubml-{section} .hubml-empty", has_text=words).wait_for()
    tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="hubml-sidebar"] svg')
    assert "hubml" in (tab.get_attribute("data-icon") or "")  # its own LabIcon, not a stock one
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "sidebar-empty-states.png"))


def test_the_sidebar_is_a_console_sweeps_models_endpoints_try_it_and_confirmations(page, lab, client, submit,
                                                                                    tune):
    sweep = tune((1, 2, 3)).wait(timeout=120)
    job = submit("exporter", name="doubler").wait(timeout=180)
    endpoint = client.deploy(job, name="doubler")
    endpoint.predict([[1.0, 2.0]], protocol="rest")  # one request the endpoint's metrics count

    panel = sidebar(page)
    block = panel.locator(f'.hubml-sweep[data-id="{sweep.id}"]')
    block.filter(has_text="3/3 trials finished").wait_for()
    assert block.locator(".hubml-trial").count() == 3
    best = block.locator(".hubml-trial.hubml-best")
    assert best.count() == 1 and best.get_attribute("data-trial") == str(sweep.best.number)
    assert "score" in block.locator("th").all_inner_texts()  # final metrics compared side by side
    trial_jobs = {trial.job_id for trial in sweep.record.trials}
    listed = set(panel.locator(".hubml-jobs .hubml-job").evaluate_all("rows => rows.map(r => r.dataset.id)"))
    assert listed == {job.id} and not listed & trial_jobs  # trials are under their sweep, not in Jobs

    model = panel.locator('.hubml-model[data-id="doubler"]')
    version = model.locator('.hubml-version[data-version="1"]')
    version.filter(has_text=job.id).wait_for()
    assert "doubler" in version.locator("td").nth(3).inner_text()  # the endpoint serving it

    row = panel.locator('.hubml-endpoint[data-id="doubler"]')
    row.locator(".hubml-state-READY").wait_for()
    row.filter(has_text="1 request(s)").wait_for()
    assert "/proxy/" in row.locator(".hubml-address").inner_text()  # reachable through the server
    request = row.locator(".hubml-request")
    assert json.loads(request.input_value()) == {"instances": [[0.5, 0.5]]}  # from the model's signature
    row.locator('[data-action="predict"]').click()
    panel.locator('.hubml-endpoint[data-id="doubler"] .hubml-answer', has_text='"predictions"').wait_for()
    assert json.loads(panel.locator('.hubml-endpoint[data-id="doubler"] .hubml-answer').inner_text()) == {
        "predictions": [[1.0, 1.0]]}
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "sidebar-console.png"), full_page=True)
    panel.screenshot(path=str(OUTPUT / "sidebar-console-panel.png"))

    panel.locator('.hubml-endpoint[data-id="doubler"] [data-action="undeploy"]').click()
    dialog = page.locator(".jp-Dialog", has_text="Undeploy doubler?")
    dialog.wait_for()
    page.screenshot(path=str(OUTPUT / "sidebar-undeploy-confirmation.png"))
    dialog.locator("button", has_text="Keep it").click()
    dialog.wait_for(state="detached")
    assert [e.name for e in client.endpoints()] == ["doubler"]  # kept: nothing happens without a yes
    panel.locator('.hubml-endpoint[data-id="doubler"] [data-action="undeploy"]').click()
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    panel.locator(".hubml-endpoints .hubml-empty").wait_for()
    assert client.endpoints() == []
