"""The router model artifact: one ONNX file that describes itself through its metadata.

Input ``embeddings`` float32 [N, D]; output ``win_probability`` float32 [N], the estimate that
the premium (strong) model's answer is strictly better than the small (weak) model's. This module
is the format (names, metadata, reading a file with ONNX Runtime); the graph builders that write
it are training's (``orchestrouter.training.onnx_graphs``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

INPUT_NAME = "embeddings"
OUTPUT_NAME = "win_probability"
FORMAT_VERSION = "1"
_PREFIX = "orchestrouter."

DEFAULT_MODEL_PATH = Path(__file__).parent / "models" / "default.onnx"


class ArtifactError(ValueError):
    """The file is not a router model this project can load, and the message says why."""


@dataclass(frozen=True)
class RouterModelInfo:
    """RouterModelInfo: what a router model says about itself in its metadata."""

    router_id: str
    version: str
    embedder_name: str
    embedder_dim: int
    model_names: tuple[str, ...]
    strong_model: str
    weak_model: str
    training_data: dict[str, Any] = field(default_factory=dict)
    # Win-probability quantiles over a reference prompt set, for the premium-share dial; their
    # meaning (and the maths on them) is orchestrouter.router.calibration's.
    calibration_reference: str = ""
    calibration_quantiles: tuple[float, ...] = ()

    def to_metadata(self) -> dict[str, str]:
        meta = {
            "format_version": FORMAT_VERSION,
            "router_id": self.router_id,
            "version": self.version,
            "embedder_name": self.embedder_name,
            "embedder_dim": str(self.embedder_dim),
            "model_names": json.dumps(list(self.model_names)),
            "strong_model": self.strong_model,
            "weak_model": self.weak_model,
            "training_data": json.dumps(self.training_data, sort_keys=True),
        }
        if self.calibration_quantiles:
            meta["calibration"] = json.dumps(
                {"reference": self.calibration_reference, "quantiles": list(self.calibration_quantiles)}
            )
        return {_PREFIX + k: v for k, v in meta.items()}

    @classmethod
    def from_metadata(cls, props: dict[str, str], source: str = "model") -> RouterModelInfo:
        meta = {k[len(_PREFIX) :]: v for k, v in props.items() if k.startswith(_PREFIX)}
        required = [
            "format_version",
            "router_id",
            "version",
            "embedder_name",
            "embedder_dim",
            "model_names",
            "strong_model",
            "weak_model",
        ]
        missing = [k for k in required if k not in meta]
        if missing:
            raise ArtifactError(f"{source}: metadata lacks {', '.join(_PREFIX + k for k in missing)}")
        if meta["format_version"] != FORMAT_VERSION:
            raise ArtifactError(f"{source}: format_version {meta['format_version']!r}, expected {FORMAT_VERSION}")
        try:
            dim = int(meta["embedder_dim"])
            names = tuple(json.loads(meta["model_names"]))
            training = json.loads(meta.get("training_data", "{}"))
            cal = json.loads(meta["calibration"]) if "calibration" in meta else {"reference": "", "quantiles": []}
            reference, quantiles = str(cal["reference"]), tuple(float(q) for q in cal["quantiles"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{source}: malformed metadata ({exc})") from exc
        if dim <= 0:
            raise ArtifactError(f"{source}: embedder_dim must be positive, got {dim}")
        return cls(
            router_id=meta["router_id"],
            version=meta["version"],
            embedder_name=meta["embedder_name"],
            embedder_dim=dim,
            model_names=names,
            strong_model=meta["strong_model"],
            weak_model=meta["weak_model"],
            training_data=training,
            calibration_reference=reference,
            calibration_quantiles=quantiles,
        )


def open_session(path: str | Path, options: ort.SessionOptions | None = None) -> ort.InferenceSession:
    """Loads a router model file in ONNX Runtime (CPU), or says in one ArtifactError why it cannot."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"router model not found: {path}")
    if not path.is_file():
        raise ArtifactError(f"router model path is not a file: {path}")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ArtifactError(f"{path}: not an ONNX model ({exc})") from exc


def describe(session: ort.InferenceSession, source: str | Path) -> RouterModelInfo:
    """Reads and validates the metadata and I/O signature of a loaded router model."""
    info = RouterModelInfo.from_metadata(session.get_modelmeta().custom_metadata_map, str(source))
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
        raise ArtifactError(f"{source}: graph must take {INPUT_NAME!r} and produce {OUTPUT_NAME!r}")
    # A fixed dimension is an int; a symbolic or unknown one (str or None) is not checked.
    shape = inputs[INPUT_NAME].shape
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != info.embedder_dim):
        raise ArtifactError(f"{source}: input shape does not match embedder_dim {info.embedder_dim}")
    return info


def read_info(path: str | Path) -> RouterModelInfo:
    """Reads and validates a router model's metadata and I/O signature without running it."""
    options = ort.SessionOptions()
    # Only the metadata is wanted: skip the graph optimisations a scoring session makes.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return describe(open_session(path, options), path)
