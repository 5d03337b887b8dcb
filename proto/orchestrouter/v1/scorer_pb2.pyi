from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EmbeddingBatch(_message.Message):
    __slots__ = ("data", "rows", "dim")
    DATA_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    rows: int
    dim: int
    def __init__(self, data: _Optional[bytes] = ..., rows: _Optional[int] = ..., dim: _Optional[int] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("embeddings",)
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    embeddings: EmbeddingBatch
    def __init__(self, embeddings: _Optional[_Union[EmbeddingBatch, _Mapping]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("win_probabilities", "router_id", "router_version")
    WIN_PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    win_probabilities: _containers.RepeatedScalarFieldContainer[float]
    router_id: str
    router_version: str
    def __init__(self, win_probabilities: _Optional[_Iterable[float]] = ..., router_id: _Optional[str] = ..., router_version: _Optional[str] = ...) -> None: ...

class ScoreStreamRequest(_message.Message):
    __slots__ = ("id", "request", "trace_context")
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    id: int
    request: ScoreRequest
    trace_context: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[int] = ..., request: _Optional[_Union[ScoreRequest, _Mapping]] = ..., trace_context: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ScoreStreamResponse(_message.Message):
    __slots__ = ("id", "response", "error_code", "error_message")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: int
    response: ScoreResponse
    error_code: int
    error_message: str
    def __init__(self, id: _Optional[int] = ..., response: _Optional[_Union[ScoreResponse, _Mapping]] = ..., error_code: _Optional[int] = ..., error_message: _Optional[str] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EmbedderInfo(_message.Message):
    __slots__ = ("name", "dim")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    name: str
    dim: int
    def __init__(self, name: _Optional[str] = ..., dim: _Optional[int] = ...) -> None: ...

class GetModelInfoResponse(_message.Message):
    __slots__ = ("router_id", "router_version", "embedder", "model_names", "strong_model", "weak_model", "training_data_json", "calibration_quantiles", "calibration_reference")
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    STRONG_MODEL_FIELD_NUMBER: _ClassVar[int]
    WEAK_MODEL_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_QUANTILES_FIELD_NUMBER: _ClassVar[int]
    CALIBRATION_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    router_id: str
    router_version: str
    embedder: EmbedderInfo
    model_names: _containers.RepeatedScalarFieldContainer[str]
    strong_model: str
    weak_model: str
    training_data_json: str
    calibration_quantiles: _containers.RepeatedScalarFieldContainer[float]
    calibration_reference: str
    def __init__(self, router_id: _Optional[str] = ..., router_version: _Optional[str] = ..., embedder: _Optional[_Union[EmbedderInfo, _Mapping]] = ..., model_names: _Optional[_Iterable[str]] = ..., strong_model: _Optional[str] = ..., weak_model: _Optional[str] = ..., training_data_json: _Optional[str] = ..., calibration_quantiles: _Optional[_Iterable[float]] = ..., calibration_reference: _Optional[str] = ...) -> None: ...
