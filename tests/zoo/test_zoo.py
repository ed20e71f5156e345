"""Each zoo recipe trains (tiny: 2 epochs on its generated data) and answers its documented example request.

The three jobs start together, each through another front end (`%train --zoo`,
`hubml zoo train`, `hubml.zoo.train`), so their TensorFlow start-ups overlap;
each test then waits for its own job, serves the model with `client.deploy`
and predicts, and undeploys.
"""
from __future__ import annotations

import numpy as np
import pytest

import hubml.zoo
from hubml.exceptions import InvalidArgument
from hubml.specs import TrainSpec

EXPECTED = {"dense-classifier": ["red", "blue"], "small-cnn": ["horizontal"],
            "text-classifier": ["positive", "negative"]}
CLASS_COUNT = {"dense-classifier": 3, "small-cnn": 3, "text-classifier": 2}


@pytest.fixture(scope="module")
def zoo_jobs(tmp_path_factory):
    """The three recipes' jobs, started at once in a private HUBML_HOME; yields (client, {recipe: job})."""
    from IPython.core.interactiveshell import InteractiveShell

    from hubml.cli import main
    from hubml.client import Client

    home = tmp_path_factory.mktemp("zoo") / "hubml-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUBML_HOME", str(home))
        patch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
        patch.delenv("HUBML_STORAGE", raising=False)
        patch.delenv("HUBML_BACKEND", raising=False)
        client = Client()
        shell = InteractiveShell.instance()
        shell.run_line_magic("reload_ext", "hubml")
        dense = shell.run_line_magic("train", "--zoo dense-classifier --detach")
        assert main(["zoo", "train", "small-cnn", "--detach", "--hparam", "epochs=2"]) == 0
        text = hubml.zoo.train(client, "text-classifier", hparams={"epochs": 2})
        jobs = {"dense-classifier": dense, "small-cnn": client.jobs()[1], "text-classifier": text}
        try:
            yield client, jobs
        finally:
            for endpoint in client.endpoints():
                client.undeploy(endpoint.name)
            for job in client.jobs():
                job.cancel()
            shell.run_line_magic("unload_ext", "hubml")


def check_answer(endpoint, recipe: str) -> None:
    example = hubml.zoo.recipe(recipe).example
    answer = endpoint.predict(example["instances"], protocol="rest")
    assert [name.decode() if isinstance(name, bytes) else name for name in answer["classes"]] == EXPECTED[recipe]
    probabilities = np.asarray(answer["probabilities"])
    assert probabilities.shape == (len(example["instances"]), CLASS_COUNT[recipe])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_dense_classifier_trains_and_deploys_in_one_line(zoo_jobs, capsys):
    from hubml.cli import main

    client, jobs = zoo_jobs
    job = jobs["dense-classifier"].wait(timeout=240)
    assert job.name == "dense-classifier" and job.model["model"] == "dense-classifier"
    assert [m["epoch"] for m in job.metrics()] == [1, 2]
    assert main(["zoo", "deploy", "dense-classifier"]) == 0  # a trained version exists: no new job
    endpoint = client.endpoint("dense-classifier")
    assert len(client.jobs()) == 3 and "Try it: curl -d '{\"instances\"" in capsys.readouterr().out
    check_answer(endpoint, "dense-classifier")
    client.undeploy(endpoint.name)


@pytest.mark.parametrize("recipe", ["small-cnn", "text-classifier"])
def test_the_recipe_trains_and_answers_its_example_request(zoo_jobs, recipe):
    client, jobs = zoo_jobs
    job = jobs[recipe].wait(timeout=240)
    assert job.spec.hparams == hubml.zoo.recipe(recipe).hparams
    endpoint = client.deploy(job, name=recipe)
    check_answer(endpoint, recipe)
    client.undeploy(endpoint.name)


def test_a_recipe_refuses_a_cell_of_code_and_unknown_hyperparameters():
    with pytest.raises(InvalidArgument, match="leave the cell empty"):
        hubml.zoo.recipe_spec("small-cnn", TrainSpec(name="x", code="print(1)"))
    with pytest.raises(InvalidArgument, match="small-cnn has no hyperparameter units"):
        hubml.zoo.recipe_spec("small-cnn", TrainSpec(name="x", hparams={"units": 3}))
    with pytest.raises(InvalidArgument, match="choose one of dense-classifier, small-cnn, text-classifier"):
        hubml.zoo.recipe("resnet-152")
    spec = hubml.zoo.recipe_spec("small-cnn", TrainSpec(name="notebook-1", hparams={"epochs": 7}), named=False)
    assert (spec.name, spec.model, spec.hparams["epochs"], spec.hparams["filters"]) == ("small-cnn", "small-cnn", 7, 16)
    spec.validate()


def test_every_recipe_documents_its_signature_and_an_example_that_matches_its_data():
    for recipe in hubml.zoo.RECIPES.values():
        text = recipe.describe()
        assert "serving signature" in text and "example request" in text and "(input)" in text
        assert recipe.example["instances"]
        compile(recipe.code, recipe.script, "exec")
