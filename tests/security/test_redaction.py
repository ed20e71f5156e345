"""`hubml.redaction`: which variables count as secrets, and the spec views that hide them."""
from __future__ import annotations

import pytest

from hubml.redaction import MASK, is_secret_name, redact_spec
from hubml.specs import TrainSpec

SECRET_NAMES = ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "WANDB_API_KEY", "HF_TOKEN",
                "GITHUB_TOKEN", "OPENAI_APIKEY", "DB_PASSWORD", "PGPASSWD", "GPG_PASSPHRASE", "GOOGLE_CREDENTIALS",
                "SSH_PRIVATE_KEY", "BASIC_AUTH", "jupyterhub_api_token"]
PLAIN_NAMES = ["PLAIN_SETTING", "HUBML_HOME", "EPOCHS", "CUDA_VISIBLE_DEVICES", "KEYBOARD_LAYOUT", "TF_CONFIG",
               "PATH", "MONKEY"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names_are_recognised(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_plain_names_are_not(name):
    assert not is_secret_name(name)


def test_a_spec_view_masks_secret_env_values_and_leaves_the_spec_itself_alone():
    spec = TrainSpec(name="job", code="print(1)", env={"HF_TOKEN": "hf_live", "EPOCHS": "3"})
    shown = redact_spec(spec.to_dict())
    assert shown["env"] == {"HF_TOKEN": MASK, "EPOCHS": "3"}
    assert spec.env["HF_TOKEN"] == "hf_live" and shown["code"] == "print(1)"


def test_a_sweep_spec_view_masks_its_templates_env():
    sweep = {"objective": "loss", "template": {"name": "t", "env": {"AWS_SECRET_ACCESS_KEY": "s", "A": "1"}}}
    assert redact_spec(sweep)["template"]["env"] == {"AWS_SECRET_ACCESS_KEY": MASK, "A": "1"}
    assert sweep["template"]["env"]["AWS_SECRET_ACCESS_KEY"] == "s"


def test_a_job_description_masks_and_the_bundle_spec_in_storage_too(client, hubml_home):
    import json

    job = client.train("import os\nprint(len(os.environ['HF_TOKEN']))\n", name="masked", env={"HF_TOKEN": "hf_live"})
    job.wait(timeout=60)
    assert job.to_json()["spec"]["env"] == {"HF_TOKEN": MASK}
    bundle_spec = json.loads((hubml_home / "storage" / "jobs" / job.id / "bundle" / "spec.json").read_text())
    assert bundle_spec["env"] == {"HF_TOKEN": MASK}
    assert "7" in [line.text for line in job.logs()], "the job itself got the real value"
