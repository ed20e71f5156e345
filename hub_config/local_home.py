"""Local mode: the hub's data folder, its login password and each user's home.

A user's home on one machine is `<hub data>/users/<name>/`. Before their server
starts, `prepare_home` makes sure it holds:

- `.hubml/`, mode 0700: the user's private `HUBML_HOME` (job database, logs);
- `quickstart.ipynb`, copied from `examples/` the first time (never overwritten);
- `.ipython/profile_default/ipython_kernel_config.py` loading the `hubml`
  IPython extension in every kernel, written only if the user has none.
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = REPO_ROOT / "examples" / "quickstart.ipynb"
KERNEL_CONFIG = """\
# Written by the hubml hub on your first login: load hubml's magics in every kernel.
# Edit freely; the hub never overwrites this file.
c.InteractiveShellApp.extensions = ["hubml"]
"""
PRIVATE = 0o700


def hub_data_dir() -> Path:
    """`$HUBML_HUB_DATA`, else `.hub/` in the repository (git-ignored)."""
    return Path(os.environ.get("HUBML_HUB_DATA") or REPO_ROOT / ".hub").resolve()


def user_home(data_dir: Path, username: str) -> Path:
    return data_dir / "users" / username


def hubml_home(home: Path) -> Path:
    return home / ".hubml"


def shared_password(data_dir: Path) -> str:
    """`$HUBML_HUB_PASSWORD`, else the one saved in `<data>/password`, else a new one saved there."""
    given = os.environ.get("HUBML_HUB_PASSWORD")
    if given:
        return given
    saved = data_dir / "password"
    if saved.exists():
        return saved.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE)
    password = secrets.token_urlsafe(12)
    saved.touch(mode=0o600)
    saved.write_text(password + "\n")
    return password


def prepare_home(home: Path, quickstart: Path = QUICKSTART, owner: pwd.struct_passwd | None = None) -> None:
    """Create the user's home, private HUBML_HOME, notebook and kernel config.

    `owner`: the system user who will own what is created here (PAM logins,
    where each server runs as its own user); None keeps the hub's user.
    """
    kernel_config = home / ".ipython" / "profile_default" / "ipython_kernel_config.py"
    folders = [home, hubml_home(home), kernel_config.parent.parent, kernel_config.parent]
    created = [folder for folder in folders if not folder.exists()]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    if home in created:
        home.chmod(PRIVATE)
    hubml_home(home).chmod(PRIVATE)  # every spawn: HUBML_HOME holds the user's jobs and keys
    if quickstart.exists() and not (home / quickstart.name).exists():
        shutil.copyfile(quickstart, home / quickstart.name)
        created.append(home / quickstart.name)
    if not kernel_config.exists():
        kernel_config.write_text(KERNEL_CONFIG)
        created.append(kernel_config)
    if owner is not None:
        for path in created:
            os.chown(path, owner.pw_uid, owner.pw_gid)


def spawner_home(spawner: Any) -> Path:
    """`SimpleLocalProcessSpawner`'s folder, else the system user's home (PAM + `LocalProcessSpawner`)."""
    if getattr(spawner, "home_dir", None):
        return Path(spawner.home_dir)
    return Path(pwd.getpwnam(spawner.user.name).pw_dir)


def prepare_spawner_home(spawner: Any) -> None:
    """JupyterHub `pre_spawn_hook` for both local spawners."""
    system_user = None if getattr(spawner, "home_dir", None) else pwd.getpwnam(spawner.user.name)
    prepare_home(spawner_home(spawner), owner=system_user)
