"""JupyterLab as a user gets it: a real local JupyterHub (hub_config/) spawns their server, they log in through
the hub's login page, and Debian's headless Chromium, driven by Playwright, works in their JupyterLab through
the hub's proxy: the sidebar, a notebook's widgets, the quick start, TensorBoard and a terminal.

Each test has a hub of its own (it starts in seconds), so a test's settings, such as a capacity of one CPU,
reach the server as an admin's would. The test's `client` works in the spawned user's HUBML_HOME, as one of
their notebooks does. Screenshots go to test-output/.
"""
from __future__ import annotations

import json
import os

import nbformat
import pytest

from local_hub import PASSWORD, REPO_ROOT, SPAWN_SECONDS, USER, LocalHub
from process_helpers import end_processes_of

BUILT_LABEXTENSION = REPO_ROOT / "extension" / "labextension" / "static"
OUTPUT = REPO_ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UI_TIMEOUT_MS = 30_000
# A kernel's first start imports hubml and TensorFlow's serving protos; a Keras job and a model server
# each import TensorFlow: minutes on two busy cores.
KERNEL_MS, TRAIN_MS = 120_000, 300_000
LAB_SETTINGS = {
    # No "get Jupyter news?" toast over the screenshots.
    ".jupyter/labconfig/page_config.json": {
        "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}},
    # xterm.js draws on a canvas; its screen-reader mode also keeps the rows as text the test can read.
    ".jupyter/lab/user-settings/@jupyterlab/terminal-extension/plugin.jupyterlab-settings": {
        "screenReaderMode": True},
}


@pytest.fixture
def lab(tmp_path, hubml_home, monkeypatch):
    """The user's JupyterLab behind a real local hub: {"hub", "url" (the server's, through the proxy), "root"}."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's Chromium")
    if not (BUILT_LABEXTENSION / "package.json").exists():
        pytest.fail(f"the sidebar is not built: run `make labextension` ({BUILT_LABEXTENSION} is missing)")
    data = tmp_path / "hub"
    data.mkdir()
    hub = LocalHub(data)
    home = hub.home()
    for relative, settings in LAB_SETTINGS.items():
        (home / relative).parent.mkdir(parents=True, exist_ok=True)
        (home / relative).write_text(json.dumps(settings))
    monkeypatch.setenv("HUBML_HOME", str(home / ".hubml"))
    try:
        yield {"hub": hub, "url": f"{hub.url}/user/{USER}", "root": home}
    finally:
        hub.stop()
        hub.kill_leftovers()
        end_processes_of(home)  # and whatever the user's jobs or endpoints left, if a test failed midway


@pytest.fixture
def page(lab):
    """A browser that logged in on the hub's login page: the hub spawns the server and redirects to its
    JupyterLab (a server that is not running answers 424 "launch it" to a deep link, so none is given)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"{lab['hub'].url}/hub/login")
            page.fill("#username_input", USER)
            page.fill("#password_input", PASSWORD)
            page.click("#login_submit")
            page.wait_for_url(f"**/user/{USER}/lab**", timeout=SPAWN_SECONDS * 1000)
            page.locator(".jp-SideBar").first.wait_for()
            lab["hub"].remember_processes()
            yield page
        finally:
            browser.close()


def screenshot(target, name: str, **options) -> None:
    OUTPUT.mkdir(exist_ok=True)
    target.screenshot(path=str(OUTPUT / name), **options)


def open_notebook(page, lab, name: str, cells: list[str]) -> None:
    """Write a notebook into the user's home, open it in JupyterLab and wait for its kernel."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, lab["root"] / name)
    open_existing_notebook(page, lab, name)


def open_existing_notebook(page, lab, name: str) -> None:
    page.goto(f"{lab['url']}/lab/tree/{name}")
    # A cell run before the new kernel is connected is dropped, not queued: wait for it first.
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(timeout=KERNEL_MS)


def run_cell(page, index: int):
    """Run the notebook's cell `index` as a user does (click, Shift+Enter); its output area."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    return cell.locator(".jp-OutputArea")


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

    screenshot(page, "sidebar-job-cancelled.png")


def test_sidebar_shows_resources_used_against_capacity_and_the_queue(one_cpu, page, lab, submit, wait_for_line):
    running, queued = submit("sleeper", name="holder"), submit("sleeper", name="waiter")
    wait_for_line(running, "ready")

    page.click('.jp-SideBar .lm-TabBar-tab[data-id="hubml-sidebar"]')
    page.locator('.hubml-quota[data-resource="cpu"]', has_text="1 / 1 used · 1 waiting").wait_for()
    page.locator(".hubml-queue", has_text="1 job queued: 1 waiting for cpu").wait_for()
    memory = page.locator('.hubml-quota[data-resource="memory"]').inner_text()
    assert "2 GiB / " in memory, memory  # the default request of the one running job
    screenshot(page, "sidebar-quota-queue.png")

    running.cancel()
    page.locator('.hubml-quota[data-resource="cpu"]', has_text="1 / 1 used").filter(
        has_not_text="waiting").wait_for()  # the queued job took the freed CPU
    page.locator(".hubml-queue", has_text="no jobs queued").wait_for()
    assert queued.state == "RUNNING"


def test_notebook_shows_a_job_widget_and_the_sidebar_a_sweep_and_a_train_cell(page, lab, submit, tune):
    job = submit("ticker", name="plotted").wait(timeout=60)
    sweep = tune((1, 2, 3)).wait(timeout=60)
    open_notebook(page, lab, "work.ipynb", [f"import hubml\nhubml.Client().job({job.id!r})"])
    output = run_cell(page, 0)
    # The handle's rich display is a live ipywidget in JupyterLab.
    output.locator(".hubml-badge", has_text="SUCCEEDED").wait_for(timeout=KERNEL_MS)
    assert output.locator('svg[data-points="3"]').count() == 1  # the loss curve, one point per epoch
    assert "epoch 3" in output.inner_text()

    page.click('.jp-SideBar .lm-TabBar-tab[data-id="hubml-sidebar"]')
    row = page.locator(f'.hubml-sweep[data-id="{sweep.id}"]')
    row.filter(has_text="3/3 trials finished").wait_for()
    assert "best score 0.000 (trial" in row.inner_text()

    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.first.click()
    page.click('.hubml-panel [data-action="insert-train"]')
    cells.nth(1).filter(has_text="%%train --name my-model").wait_for()
    assert "ReportCallback" in cells.nth(1).inner_text()
    screenshot(page, "notebook-widget-sweep-train-cell.png")


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
    screenshot(page, "sidebar-empty-states.png")


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
    screenshot(page, "sidebar-console.png", full_page=True)
    screenshot(panel, "sidebar-console-panel.png")

    panel.locator('.hubml-endpoint[data-id="doubler"] [data-action="undeploy"]').click()
    dialog = page.locator(".jp-Dialog", has_text="Undeploy doubler?")
    dialog.wait_for()
    screenshot(page, "sidebar-undeploy-confirmation.png")
    dialog.locator("button", has_text="Keep it").click()
    dialog.wait_for(state="detached")
    assert [e.name for e in client.endpoints()] == ["doubler"]  # kept: nothing happens without a yes
    panel.locator('.hubml-endpoint[data-id="doubler"] [data-action="undeploy"]').click()
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    panel.locator(".hubml-endpoints .hubml-empty").wait_for()
    assert client.endpoints() == []


GATED_TRAIN_CELL = """%%train --name gated
import os, time
import hubml
print("waiting for the gate", flush=True)
hubml.report(step=1, epoch=1, epochs=2, loss=0.5)
while not os.path.exists({gate!r}):
    time.sleep(0.05)
print("through the gate", flush=True)
hubml.report(step=2, epoch=2, epochs=2, loss=0.25)
"""


def test_a_train_cell_shows_its_widget_and_progress_while_it_waits_and_repeats_nothing(page, lab, client, tmp_path):
    gate = tmp_path / "gate"
    open_notebook(page, lab, "gated.ipynb", [GATED_TRAIN_CELL.format(gate=str(gate))])
    output = run_cell(page, 0)
    cell = page.locator(".jp-Notebook .jp-Cell").first
    output.locator(".hubml-badge", has_text="RUNNING").wait_for(timeout=KERNEL_MS)
    output.filter(has_text="epoch 1/2").wait_for()  # the progress line, while the cell still blocks
    output.filter(has_text="waiting for the gate").wait_for()  # the log tail too
    assert cell.locator(".jp-InputPrompt").inner_text().strip() == "[*]:"
    screenshot(page, "notebook-train-cell-live.png")

    gate.touch()
    output.locator(".hubml-badge", has_text="SUCCEEDED").wait_for(timeout=TRAIN_MS)
    output.filter(has_text="epoch 2/2").wait_for()
    cell.locator(".jp-InputPrompt", has_text="[1]:").wait_for()  # the cell returned
    assert output.inner_text().count("through the gate") == 1  # the widget's log, not repeated at the end
    (job,) = client.jobs()
    assert job.name == "gated" and job.state == "SUCCEEDED"


def test_the_quick_start_runs_in_jupyterlab_quietly_and_its_try_it_box_answers_as_given(page, lab, client):
    """~/quickstart.ipynb, put there by the hub, run with Run > Run All Cells as a new user would."""
    open_existing_notebook(page, lab, "quickstart.ipynb")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    cells = page.locator(".jp-Notebook .jp-Cell")
    train = cells.filter(has_text="%%train --name quickstart").locator(".jp-OutputArea")
    train.locator(".hubml-badge", has_text="SUCCEEDED").wait_for(timeout=TRAIN_MS)
    train.filter(has_text="epoch 3/3").wait_for()
    log = train.locator("pre").last.inner_text()
    for chatter in ("cuInit", "oneDNN", "cpu_feature_guard", "[worker-0] [worker-0]"):
        assert chatter not in log, f"{chatter!r} in the job widget's log tail:\n{log}"
    train.scroll_into_view_if_needed()
    screenshot(page, "quickstart-train-widget.png")

    deploy = cells.filter(has_text="%deploy job --name quickstart").locator(".jp-OutputArea")
    deploy.locator(".hubml-badge", has_text="READY").wait_for(timeout=TRAIN_MS)
    request = deploy.locator("textarea")
    page.wait_for_function("area => area.value.includes('instances')", arg=request.element_handle())
    example = json.loads(request.input_value())
    assert len(example["instances"][0]) == 8  # from the model's signature: 8 features
    deploy.locator("button", has_text="Predict").click()
    answer = deploy.locator("pre", has_text="[[")
    answer.wait_for()
    (probabilities,) = json.loads(answer.inner_text())
    assert len(probabilities) == 2 and abs(sum(probabilities) - 1.0) < 1e-3  # the softmax's two classes
    deploy.scroll_into_view_if_needed()
    screenshot(page, "quickstart-endpoint-try-it.png")

    last = cells.filter(has_text="%predict quickstart").locator(".jp-OutputArea")
    last.filter(has_text="[").wait_for(timeout=TRAIN_MS)
    # Nothing in red: no TensorFlow or gRPC chatter on stderr, no error.
    assert page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    assert page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]').count() == 0
    assert [endpoint.name for endpoint in client.endpoints()] == ["quickstart"]


def test_the_sidebar_opens_a_jobs_tensorboard_with_its_scalars_and_no_callback(page, lab, client, submit):
    job = submit("ticker", name="curves").wait(timeout=60)  # hubml.report only: no TensorBoard code
    panel = sidebar(page)
    row = panel.locator(f'.hubml-job[data-id="{job.id}"]')
    row.locator(".hubml-state-SUCCEEDED").wait_for()
    with page.context.expect_page() as opened:
        row.locator('[data-action="tensorboard"]').click()
    board = opened.value
    assert f"/user/{USER}/proxy/" in board.url  # through the user's server, as a browser behind the hub needs
    board.get_by_text("loss", exact=True).first.wait_for(timeout=KERNEL_MS)
    assert board.get_by_text("No dashboards are active").count() == 0
    screenshot(board, "tensorboard-from-the-sidebar.png")


def test_a_jupyterlab_terminal_runs_hubml_on_the_notebooks_jobs(page, lab, submit):
    job = submit("chatty", name="seen-from-the-terminal").wait(timeout=60)
    page.locator(".jp-LauncherCard", has_text="Terminal").first.click()
    terminal = page.locator(".jp-Terminal").first
    terminal.locator(".xterm-helper-textarea").wait_for(state="attached")
    terminal.click()
    page.keyboard.type("hubml jobs list\n")
    rows = terminal.locator(".xterm-accessibility-tree")
    rows.filter(has_text=job.id).wait_for()
    text = rows.inner_text()
    assert "seen-from-the-terminal" in text and "SUCCEEDED" in text and "command not found" not in text
    screenshot(page, "terminal-hubml-jobs-list.png")
