"""Status and metadata responses, built once as TF Serving's own protos.

gRPC returns them as they are; REST prints them with protobuf's JSON printer
(default fields kept, proto field names), which is what TF Serving's REST API
prints too.
"""
from __future__ import annotations

from google.protobuf import json_format
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2

from hubml.serving.models import VersionState
from hubml.serving.servable import Servable

SIGNATURE_DEF_FIELD = "signature_def"


def metadata_response(servable: Servable) -> get_model_metadata_pb2.GetModelMetadataResponse:
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, signature in servable.signatures.items():
        signature_map.signature_def[key].CopyFrom(signature)
    response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
    return response


def status_response(states: dict[int, VersionState]) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    for version, state in states.items():
        status = response.model_version_status.add(version=version)
        status.state = get_model_status_pb2.ModelVersionStatus.State.Value(state.state)
        status.status.error_code = error_codes_pb2.Code.Value(state.error_code)
        status.status.error_message = state.error_message
    return response


def to_json_dict(message) -> dict:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True,
                                     preserving_proto_field_name=True)


def metadata_json(servable: Servable) -> dict:
    """GetModelMetadataResponse as TF Serving's REST API prints it."""
    response = metadata_response(servable)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
    return {
        "model_spec": to_json_dict(response.model_spec),
        "metadata": {SIGNATURE_DEF_FIELD: to_json_dict(signature_map)},
    }


def model_spec(name: str, version: int, signature_name: str = "") -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=name, signature_name=signature_name)
    spec.version.value = version
    return spec
