"""JupyterHub configuration for hubml: one file, two modes.

    HUBML_HUB_MODE=local       (default) one machine: configurable-http-proxy from
                               hub_config/node_modules, one process per user,
                               a shared-password login. Start it with `make hub`.
    HUBML_HUB_MODE=kubernetes  a cluster: KubeSpawner with the profiles from
                               spawner_profiles/, a home PVC and a namespace per
                               user, the idle culler. Installed by helm/hubml.

Settings come from the environment so that tests, `make hub` and the Helm chart
drive the same file; each is listed where it is read. `hub_config/README.md`
tells how to log in and how to switch to PAM or OAuth.
"""
import json
import os
import shutil
import sys
from pathlib import Path

from tornado import web

# Not resolved: a ConfigMap mounts each file as a link into a hidden folder beside it (`..data/`), and the
# package is the folder the links are in.
HERE = Path(os.path.abspath(__file__)).parent
sys.path.insert(0, str(HERE.parent))  # makes `hub_config` importable, in the repo and in the chart

from hub_config import local_home, tenancy  # noqa: E402
from hub_config.profiles import (  # noqa: E402
    ProfileError,
    find_profile,
    load_profiles,
    normalize_user_options,
    profile_quota,
)

c = get_config()  # noqa: F821 (JupyterHub provides get_config)


def env(name: str, default: str = "") -> str:
    return os.environ.get(name) or default


# ---------------------------------------------------------------- shared by both modes


def configure_login(c, password: str) -> None:
    """A shared password for every user (a small team's setup); admins named in
    HUBML_HUB_ADMINS log in with HUBML_HUB_ADMIN_PASSWORD. Switch to PAM or OAuth
    with `hub.config` / HUBML_HUB_EXTRA_CONFIG (see hub_config/README.md)."""
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = password
    admins = {name for name in env("HUBML_HUB_ADMINS").split(",") if name}
    if admins and env("HUBML_HUB_ADMIN_PASSWORD"):
        c.Authenticator.admin_users = admins
        c.SharedPasswordAuthenticator.admin_password = env("HUBML_HUB_ADMIN_PASSWORD")
    c.Authenticator.allow_all = True
    # Names become folders, namespaces and label values: keep them plain.
    c.Authenticator.username_pattern = r"^[a-z0-9]([a-z0-9_.-]{0,30}[a-z0-9])?$"


def register_admin_service(c) -> None:
    """An API token for automation (tests, batch runs): HUBML_HUB_ADMIN_TOKEN."""
    token = env("HUBML_HUB_ADMIN_TOKEN")
    if not token:
        return
    c.JupyterHub.services.append({"name": "hubml-admin", "api_token": token})
    c.JupyterHub.load_roles.append({
        "name": "hubml-admin",
        "scopes": ["admin:users", "admin:servers", "access:servers", "tokens"],
        "services": ["hubml-admin"],
    })


def apply_extra_config(c, path: str) -> None:
    """Traitlets config as JSON, `{"Class": {"trait": value}}`: the chart's `hub.config`."""
    if not path:
        return
    for section, traits in json.loads(Path(path).read_text()).items():
        for trait, value in traits.items():
            c[section][trait] = value


# ---------------------------------------------------------------- local mode


def configure_local(c) -> None:
    data = local_home.hub_data_dir()
    data.mkdir(parents=True, exist_ok=True, mode=local_home.PRIVATE)
    bin_dir = Path(sys.executable).parent

    c.JupyterHub.ip = env("HUBML_HUB_IP", "127.0.0.1")
    c.JupyterHub.port = int(env("HUBML_HUB_PORT", "8000"))
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = int(env("HUBML_HUB_INTERNAL_PORT", "8081"))
    c.JupyterHub.db_url = f"sqlite:///{data / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(data / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('HUBML_HUB_PROXY_API_PORT', '8001')}"
    c.ConfigurableHTTPProxy.pid_file = str(data / "proxy.pid")

    c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(data / "users" / "{username}")
    c.Spawner.cmd = [str(bin_dir / "jupyterhub-singleuser")]
    c.Spawner.args = ["--ServerApp.jpserver_extensions=hubml.extension=True",
                      # Terminals: an interactive shell that keeps the PATH below. The default under a
                      # spawner is a login shell, and Debian's /etc/profile resets PATH, hiding `hubml`.
                      f"--ServerApp.terminado_settings=shell_command={shutil.which('bash') or '/bin/sh'}"]
    if os.geteuid() == 0:
        c.Spawner.args.append("--allow-root")  # this machine runs everything as root
    c.Spawner.pre_spawn_hook = local_home.prepare_spawner_home
    c.Spawner.environment = {
        # A JupyterLab terminal then finds this environment's `hubml` and `python`, as the kernels do.
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HUBML_BACKEND": "local",
        "HUBML_USER": lambda spawner: spawner.user.name,
        "HUBML_HOME": lambda spawner: str(local_home.hubml_home(local_home.spawner_home(spawner))),
    }
    # What the admin set for the machine (storage, and the local backend's capacity and defaults) holds
    # in every user's server, as it would in a notebook started by hand.
    for name in ("HUBML_STORAGE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
                 "HUBML_CAPACITY_CPU", "HUBML_CAPACITY_MEMORY", "HUBML_CAPACITY_GPUS", "HUBML_DEFAULT_CPU",
                 "HUBML_DEFAULT_MEMORY", "HUBML_MEMORY_ENFORCEMENT"):
        if env(name):
            c.Spawner.environment[name] = env(name)

    configure_login(c, local_home.shared_password(data))


# ---------------------------------------------------------------- kubernetes mode

NOTEBOOK_HOME = "/home/jovyan"


def configure_kubernetes(c) -> None:
    profiles = load_profiles(include_gpu=env("HUBML_GPU_PROFILES", "true") == "true")
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.JupyterHub.ip = "0.0.0.0"
    c.JupyterHub.hub_ip = "0.0.0.0"
    # Notebooks live in other namespaces: reach the hub by its namespaced name.
    c.JupyterHub.hub_connect_ip = f"hub.{env('POD_NAMESPACE', 'default')}.svc"
    c.JupyterHub.cleanup_servers = False  # a hub restart must not stop notebooks
    c.JupyterHub.db_url = env("HUBML_HUB_DB_URL", "sqlite:////srv/jupyterhub/jupyterhub.sqlite")
    c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
    c.ConfigurableHTTPProxy.should_start = False  # the chart runs the proxy in its own pod
    c.ConfigurableHTTPProxy.api_url = env("HUBML_PROXY_API_URL", "http://proxy-api:8001")

    configure_user_namespaces(c)
    configure_home_volume(c)
    configure_profiles(c, profiles)
    c.KubeSpawner.environment = notebook_environment()
    configure_idle_culler(c)
    configure_login(c, env("HUBML_HUB_PASSWORD"))


def configure_user_namespaces(c) -> None:
    """One namespace per user; names fixed here, not left to KubeSpawner defaults."""
    c.KubeSpawner.slug_scheme = "safe"
    c.KubeSpawner.enable_user_namespaces = True
    c.KubeSpawner.user_namespace_template = "hubml-{username}"
    c.KubeSpawner.user_namespace_labels = {tenancy.USER_LABEL: "{unescaped_username}"}
    c.KubeSpawner.extra_labels = {tenancy.USER_LABEL: "{unescaped_username}"}
    c.KubeSpawner.service_account = tenancy.NOTEBOOK_ACCOUNT
    c.KubeSpawner.automount_service_account_token = True  # the hubml client talks to the API
    c.KubeSpawner.uid = 1000  # jovyan, as in the docker-stacks images
    c.KubeSpawner.fs_gid = 100


def configure_home_volume(c) -> None:
    """A PVC per user. The template and slug scheme are pinned so a KubeSpawner
    upgrade (whose defaults have changed before) never points a user at a new,
    empty home."""
    c.KubeSpawner.pvc_name_template = "hubml-home-{user_server}"
    c.KubeSpawner.remember_pvc_name = True
    c.KubeSpawner.storage_pvc_ensure = True
    c.KubeSpawner.storage_capacity = env("HUBML_HOME_CAPACITY", "10Gi")
    c.KubeSpawner.storage_access_modes = ["ReadWriteOnce"]
    if env("HUBML_HOME_STORAGE_CLASS"):
        c.KubeSpawner.storage_class = env("HUBML_HOME_STORAGE_CLASS")
    c.KubeSpawner.volumes = {"home": {"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}}
    c.KubeSpawner.volume_mounts = {"home": {"name": "home", "mountPath": NOTEBOOK_HOME}}


def configure_profiles(c, profiles: list) -> None:
    c.KubeSpawner.profile_list = profiles

    def apply_profile_options(spawner, user_options: dict) -> None:
        try:
            spawner.user_options = normalize_user_options(user_options, profiles)
        except ProfileError as error:
            raise web.HTTPError(400, "%s", error) from error

    async def prepare_user_namespace(spawner) -> None:
        profile = find_profile(profiles, spawner.user_options.get("profile"))
        await tenancy.ensure_user_namespace(spawner, profile_quota(profile))

    c.KubeSpawner.apply_user_options = apply_profile_options
    c.KubeSpawner.pre_spawn_hook = prepare_user_namespace


def notebook_environment() -> dict:
    """What makes the hubml extension use the Kubernetes backend in the user's namespace."""
    environment = {
        "HUBML_BACKEND": "kubernetes",
        "HUBML_NAMESPACE": "{namespace}",
        "HUBML_USER": "{unescaped_username}",
        "HUBML_HOME": f"{NOTEBOOK_HOME}/.hubml",
        **tenancy.storage_env(),
    }
    if env("HUBML_S3_BUCKET"):
        environment["HUBML_STORAGE"] = f"s3://{env('HUBML_S3_BUCKET')}/users/{{username}}"
    if env("AWS_ENDPOINT_URL"):
        environment["AWS_ENDPOINT_URL"] = env("AWS_ENDPOINT_URL")
    extra = env("HUBML_SINGLEUSER_EXTRA_ENV")  # the chart's singleuser.extraEnv, as JSON
    if extra:
        environment.update(json.loads(extra))
    return environment


def configure_idle_culler(c) -> None:
    if env("HUBML_CULL_ENABLED", "true") != "true":
        return
    c.JupyterHub.services.append({
        "name": "idle-culler",
        "command": [
            sys.executable, "-m", "jupyterhub_idle_culler",
            f"--timeout={env('HUBML_CULL_TIMEOUT', '3600')}",
            f"--cull-every={env('HUBML_CULL_EVERY', '600')}",
        ],
    })
    c.JupyterHub.load_roles.append({
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    })


# ---------------------------------------------------------------- choose the mode

MODE = env("HUBML_HUB_MODE", "local")
c.JupyterHub.services = []
c.JupyterHub.load_roles = []
if MODE == "local":
    configure_local(c)
elif MODE == "kubernetes":
    configure_kubernetes(c)
else:
    raise ValueError(f"HUBML_HUB_MODE must be 'local' or 'kubernetes', not {MODE!r}")
register_admin_service(c)
apply_extra_config(c, env("HUBML_HUB_EXTRA_CONFIG"))
