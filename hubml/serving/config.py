"""TF Serving's configuration files, read with protobuf's own text format.

`--model_config_file` holds a `ModelServerConfig` (the official message from
`tensorflow-serving-api`); `--batching_parameters_file` holds a
`BatchingParameters`. That second message is not shipped in the pip package,
so it is declared here with the same field names and numbers as
`tensorflow_serving/servables/tensorflow/session_bundle_config.proto`, in a
private descriptor pool so it can never clash with a real copy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2
from tensorflow_serving.config import model_server_config_pb2

from hubml.exceptions import InvalidArgument

ModelServerConfig = model_server_config_pb2.ModelServerConfig


def _declare_batching_parameters():
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    proto = descriptor_pb2.FileDescriptorProto(
        name="hubml/batching_parameters.proto", package="tensorflow.serving", syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    message = proto.message_type.add(name="BatchingParameters")
    wrapped = [("max_batch_size", "Int64Value"), ("batch_timeout_micros", "Int64Value"),
               ("max_enqueued_batches", "Int64Value"), ("num_batch_threads", "Int64Value"),
               ("thread_pool_name", "StringValue")]
    optional, message_type = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL, descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
    for number, (name, wrapper) in enumerate(wrapped, start=1):
        message.field.add(name=name, number=number, label=optional, type=message_type,
                          type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=6, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7, label=optional,
                      type=descriptor_pb2.FieldDescriptorProto.TYPE_BOOL)
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


BatchingParametersProto = _declare_batching_parameters()


@dataclass(frozen=True)
class BatchingOptions:
    """Dynamic batching knobs; hubml's defaults (sized for a CPU) fill what the file leaves out."""

    max_batch_size: int = 32
    batch_timeout_micros: int = 1000
    max_enqueued_batches: int = 100
    num_batch_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    allowed_batch_sizes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.num_batch_threads < 1 or self.batch_timeout_micros < 0:
            raise InvalidArgument("--batching_parameters_file",
                                  "max_batch_size and num_batch_threads must be >= 1, batch_timeout_micros >= 0")
        if self.allowed_batch_sizes and self.allowed_batch_sizes[-1] != self.max_batch_size:
            raise InvalidArgument("--batching_parameters_file",
                                  "the last allowed_batch_sizes entry must equal max_batch_size")


def _read_text(path: str, flag: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise InvalidArgument(flag, f"cannot read {path}: {error.strerror}") from error


def parse_model_config(text: str, flag: str = "--model_config_file") -> ModelServerConfig:
    """Parse a `ModelServerConfig` in text format; only `model_config_list` is served."""
    try:
        config = text_format.Parse(text, ModelServerConfig())
    except text_format.ParseError as error:
        raise InvalidArgument(flag, f"not a ModelServerConfig in text format: {error}") from error
    validate_model_config(config, flag)
    return config


def validate_model_config(config: ModelServerConfig, flag: str = "config") -> None:
    """Refuse what cannot be served: no model list, duplicate or empty names, no base path."""
    if config.WhichOneof("config") != "model_config_list":
        raise InvalidArgument(flag, "only model_config_list is supported")
    names = [model.name for model in config.model_config_list.config]
    if not names or len(set(names)) != len(names) or not all(names):
        raise InvalidArgument(flag, f"models need unique, non-empty names (got {names})")
    for model in config.model_config_list.config:
        if not model.base_path:
            raise InvalidArgument(flag, f"model {model.name!r} has no base_path")
        if model.model_platform not in ("", "tensorflow"):
            raise InvalidArgument(flag, f"model {model.name!r}: only model_platform 'tensorflow' is served")


def read_model_config(path: str) -> ModelServerConfig:
    return parse_model_config(_read_text(path, "--model_config_file"))


def single_model_config(name: str, base_path: str) -> ModelServerConfig:
    """The config `--model_name` / `--model_base_path` stand for."""
    config = ModelServerConfig()
    config.model_config_list.config.add(name=name, base_path=base_path, model_platform="tensorflow")
    return config


def read_batching_options(path: str | None) -> BatchingOptions:
    """Read `--batching_parameters_file`; without one, the defaults apply."""
    if path is None:
        return BatchingOptions()
    try:
        proto = text_format.Parse(_read_text(path, "--batching_parameters_file"), BatchingParametersProto())
    except text_format.ParseError as error:
        raise InvalidArgument("--batching_parameters_file", f"not BatchingParameters in text format: {error}") from error
    defaults = BatchingOptions()
    chosen = {
        name: getattr(proto, name).value if proto.HasField(name) else getattr(defaults, name)
        for name in ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads")
    }
    return BatchingOptions(**chosen, allowed_batch_sizes=tuple(proto.allowed_batch_sizes))
