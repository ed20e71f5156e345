"""Models in S3 storage (a real SeaweedFS server): the layout is checked there, and the endpoint serves from there."""
import numpy as np
import pytest
from deploy_helpers import HALF_PLUS_TWO

from hubml import storage
from hubml.client import Client
from hubml.exceptions import ModelLayoutError


def test_a_model_in_s3_storage_is_checked_and_served_by_name(s3_storage):
    client = Client()  # HUBML_STORAGE is the bucket now
    storage.upload(str(HALF_PLUS_TWO / "00000123"), f"{s3_storage}/models/hp/7")
    storage.upload(str(HALF_PLUS_TWO / "00000123" / "variables"), f"{s3_storage}/models/flat/variables")
    storage.write_text(f"{s3_storage}/models/flat/saved_model.pb", "")
    with pytest.raises(ModelLayoutError, match=f"{s3_storage}/models/flat/1/saved_model.pb"):
        client.deploy("flat")
    with pytest.raises(ModelLayoutError, match=f"{s3_storage}/models/hp/6 is missing"):
        client.deploy("hp", version=6)

    endpoint = client.deploy("hp")
    assert endpoint.record["model_uri"] == f"{s3_storage}/models/hp" and endpoint.versions == [7]
    np.testing.assert_allclose(endpoint.predict([3.0], protocol="rest"), [3.5])
    endpoint.undeploy()
