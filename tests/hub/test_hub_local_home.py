"""hub_config/local_home.py: what a user's home holds before their server starts."""
from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from hub_config import local_home


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_home_gets_a_private_hubml_home_the_notebook_and_the_kernel_config(tmp_path):
    quickstart = tmp_path / "quickstart.ipynb"
    quickstart.write_text('{"cells": []}')
    home = tmp_path / "users" / "ada"
    local_home.prepare_home(home, quickstart)
    assert mode(home) == 0o700 and mode(home / ".hubml") == 0o700
    assert (home / "quickstart.ipynb").read_text() == '{"cells": []}'
    assert 'extensions = ["hubml"]' in (home / ".ipython/profile_default/ipython_kernel_config.py").read_text()


def test_a_returning_users_edits_are_kept_and_hubml_home_made_private_again(tmp_path):
    quickstart = tmp_path / "quickstart.ipynb"
    quickstart.write_text("original")
    home = tmp_path / "ada"
    local_home.prepare_home(home, quickstart)
    (home / "quickstart.ipynb").write_text("my edits")
    (home / ".ipython/profile_default/ipython_kernel_config.py").write_text("c.InteractiveShellApp.extensions = []")
    (home / ".hubml").chmod(0o755)
    local_home.prepare_home(home, quickstart)
    assert (home / "quickstart.ipynb").read_text() == "my edits"
    assert (home / ".ipython/profile_default/ipython_kernel_config.py").read_text() == "c.InteractiveShellApp.extensions = []"
    assert mode(home / ".hubml") == 0o700


def test_a_missing_quickstart_is_skipped(tmp_path):
    local_home.prepare_home(tmp_path / "ada", tmp_path / "absent.ipynb")
    assert not (tmp_path / "ada" / "absent.ipynb").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_with_pam_logins_what_the_hub_creates_belongs_to_the_user(tmp_path):
    nobody = pwd.getpwnam("nobody")
    home = tmp_path / "nobody-home"
    home.mkdir(mode=0o755)  # a system user's existing home keeps its mode
    local_home.prepare_home(home, tmp_path / "absent.ipynb", owner=nobody)
    assert mode(home) == 0o755
    for path in (home / ".hubml", home / ".ipython", home / ".ipython/profile_default/ipython_kernel_config.py"):
        assert path.stat().st_uid == nobody.pw_uid, path
    assert home.stat().st_uid == 0  # not created here, so not handed over


def test_the_home_of_each_local_spawner(tmp_path):
    simple = SimpleNamespace(home_dir=str(tmp_path / "ada"), user=SimpleNamespace(name="ada"))
    assert local_home.spawner_home(simple) == tmp_path / "ada"
    system = SimpleNamespace(user=SimpleNamespace(name="root"))  # LocalProcessSpawner has no home_dir
    assert local_home.spawner_home(system) == Path(pwd.getpwnam("root").pw_dir)


def test_the_password_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("HUBML_HUB_PASSWORD", raising=False)
    first = local_home.shared_password(tmp_path)
    assert len(first) >= 16 and local_home.shared_password(tmp_path) == first
    assert mode(tmp_path / "password") == 0o600
    monkeypatch.setenv("HUBML_HUB_PASSWORD", "chosen-by-the-admin")
    assert local_home.shared_password(tmp_path) == "chosen-by-the-admin"
