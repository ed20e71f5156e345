# `make run` and `make test` work on a bare machine: each builds .venv/ first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed

.PHONY: venv run quickstart test bench clean

venv: $(STAMP)

# hubml with every extra, and what the suite needs, at the exact versions of requirements/constraints.txt.
$(STAMP): setup.py requirements/constraints.txt requirements/test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade uv
	$(UV) pip install --python $(PY) --compile-bytecode -c requirements/constraints.txt -r requirements/test.txt \
		-e '.[all]'
	touch $@

# The local hub: prints its URL and how to log in; the quick-start notebook is in every new user's home.
run: hub

# The quick-start notebook, headless through papermill: trains, and prints where everything landed.
quickstart: venv
	$(PY) -m hubml.quickstart

# Everything the suite drives for real: the venv, the hub's proxy, the built sidebar, Debian's Chromium,
# and what the real cluster is built and run with (the session fixture builds and starts it: cluster/).
# PYTEST_ARGS passes options through, e.g. `make test PYTEST_ARGS="-p randomly"` for a shuffled order.
test: venv hub-deps labextension chromium cluster-deps
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest tests $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info

# ---- the hub (issue 5): local JupyterHub, configurable-http-proxy from npm ----
HUB_PROXY := hub_config/node_modules/.bin/configurable-http-proxy

.PHONY: hub hub-deps

hub-deps: $(HUB_PROXY)

$(HUB_PROXY): hub_config/package.json hub_config/package-lock.json
	command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	npm ci --prefix hub_config --no-audit --no-fund
	touch $@

hub: venv hub-deps
	$(PY) -m hub_config.run

# ---- the JupyterLab sidebar (issue 6): built with npm into extension/labextension/static ----
LABEXT := extension/labextension
LABEXT_BUILT := $(LABEXT)/static/package.json

.PHONY: labextension chromium

labextension: $(LABEXT_BUILT)

# The browser tests drive Debian's Chromium with Playwright (never `playwright install`).
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

$(LABEXT_BUILT): $(STAMP) $(LABEXT)/package.json $(LABEXT)/package-lock.json $(LABEXT)/tsconfig.json \
		$(wildcard $(LABEXT)/src/*.ts) $(wildcard $(LABEXT)/style/*)
	command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	npm ci --prefix $(LABEXT) --no-audit --no-fund
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH npm run --prefix $(LABEXT) build:prod
	# An editable install skips setup.py's data_files: link them into the venv as `jupyter labextension develop` would.
	mkdir -p $(VENV)/share/jupyter/labextensions $(VENV)/etc/jupyter/jupyter_server_config.d
	ln -sfn $(CURDIR)/$(LABEXT)/static $(VENV)/share/jupyter/labextensions/hubml
	cp extension/jupyter-config/jupyter_server_config.d/hubml.json $(VENV)/etc/jupyter/jupyter_server_config.d/
	touch $@

# ---- the serving benchmark (issue 3): KServe's peer in its own virtualenv, wrk from Debian ----
BENCH_VENV := .bench-venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): requirements/bench-kserve.txt | venv
	test -x $(BENCH_VENV)/bin/python || $(UV) venv -q --python $(PY) $(BENCH_VENV)
	$(UV) pip install --python $(BENCH_VENV)/bin/python --compile-bytecode -r requirements/bench-kserve.txt
	touch $@

# `make bench BENCH_ARGS=--quick` for the three-minute run.
bench: venv $(BENCH_STAMP)
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(PY) benchmarks/serving.py $(BENCH_ARGS)

# ---- a real single-node Kubernetes (issue 13), built from upstream Go modules; see docs/kubernetes.md ----
.PHONY: cluster cluster-down cluster-deps

# Debian's containerd, runc, CNI plugins and what the kubelet, kube-proxy and kube-router call; debootstrap builds
# the images.
CLUSTER_DEBS := containerd runc containernetworking-plugins iptables ipset conntrack ethtool socat debootstrap

cluster-deps:
	@for tool in containerd runc iptables ipset conntrack debootstrap socat; do command -v $$tool >/dev/null || missing=1; done; \
	  test -x /usr/lib/cni/bridge || missing=1; \
	  if [ -n "$$missing" ]; then apt-get update && apt-get install -y $(CLUSTER_DEBS); fi
	command -v go >/dev/null || (apt-get update && apt-get install -y golang-go)

# Builds what is missing (cached by version under ~/.cache/hubml-cluster), starts the cluster, waits for the node
# and cluster DNS; its last line is KUBECONFIG=<path>. `source .cluster/env` points hubml at it.
cluster: venv cluster-deps
	$(PY) -m cluster up

cluster-down: venv
	$(PY) -m cluster down

# hubml's chart installed with Helm (built from its Go module) on the running cluster, with the hub, proxy and
# notebook images built offline; adds HUB_URL and HUB_API_TOKEN to .cluster/env. Removed by cluster-hub-down.
.PHONY: cluster-hub cluster-hub-down
cluster-hub: cluster hub-deps labextension
	$(PY) -m cluster hub-up

cluster-hub-down: venv
	$(PY) -m cluster hub-down

# Spawn → server answering through the proxy, p50 over 5, against a bare pod of the same image.
.PHONY: bench-hub
bench-hub: cluster-hub
	$(PY) benchmarks/hub_spawn.py

# Submit → Running and → first log line over 10 small jobs, on the cluster against the local backend.
.PHONY: bench-jobs
bench-jobs: cluster
	$(PY) benchmarks/job_latency.py

# 100 small Keras jobs at once on the local backend, with the default requests against none (the old behaviour).
.PHONY: bench-local-load
bench-local-load: venv
	nice -n 10 $(PY) benchmarks/local_load.py $(BENCH_ARGS)
