"""The hub tests import `hub_config` from the repository root (see hub_testing.py); on the real cluster they
share one installed chart (`make cluster-hub`)."""
import pytest

import hub_testing  # noqa: F401  (puts the repository root on sys.path before collection)


@pytest.fixture(scope="session")
def cluster_hub(kube_cluster):
    """The chart installed with Helm on the session's cluster (an upgrade to the same values if it already was),
    as a HubAPI with the admin token; uninstalled at the end unless it was installed before."""
    from cluster import hub

    was_installed = bool(hub.recorded_environment())
    environment = hub.install(verbose=False)
    yield hub_testing.HubAPI(environment["HUB_URL"], environment["HUB_API_TOKEN"])
    if not was_installed:
        hub.uninstall()
