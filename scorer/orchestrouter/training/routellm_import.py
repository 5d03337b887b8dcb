"""Imports a RouteLLM MF checkpoint (``config.json`` + ``model.safetensors``) as a router model.

The checkpoint's model table is indexed by RouteLLM's fixed list of 64 Chatbot Arena model names
(``ROUTELLM_MODELS`` below, in index order); the scored pair is chosen by name. The graph keeps
RouteLLM's general form (see ``onnx_graphs.build_mf_router``), so it reproduces
P(strong wins | e) = σ(s(strong, e) - s(weak, e)) exactly on text-embedding-3-small vectors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx

from orchestrouter.router.calibration import Calibration
from orchestrouter.scorer import artifact

from . import onnx_graphs

ROUTELLM_MODELS = (
    "RWKV-4-Raven-14B",
    "alpaca-13b",
    "chatglm-6b",
    "chatglm2-6b",
    "chatglm3-6b",
    "claude-1",
    "claude-2.0",
    "claude-2.1",
    "claude-instant-1",
    "codellama-34b-instruct",
    "deepseek-llm-67b-chat",
    "dolly-v2-12b",
    "dolphin-2.2.1-mistral-7b",
    "falcon-180b-chat",
    "fastchat-t5-3b",
    "gemini-pro",
    "gemini-pro-dev-api",
    "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-0314",
    "gpt-3.5-turbo-0613",
    "gpt-3.5-turbo-1106",
    "gpt-4-0125-preview",
    "gpt-4-0314",
    "gpt-4-0613",
    "gpt-4-1106-preview",
    "gpt4all-13b-snoozy",
    "guanaco-33b",
    "koala-13b",
    "llama-13b",
    "llama-2-13b-chat",
    "llama-2-70b-chat",
    "llama-2-7b-chat",
    "llama2-70b-steerlm-chat",
    "mistral-7b-instruct",
    "mistral-7b-instruct-v0.2",
    "mistral-medium",
    "mixtral-8x7b-instruct-v0.1",
    "mpt-30b-chat",
    "mpt-7b-chat",
    "nous-hermes-2-mixtral-8x7b-dpo",
    "oasst-pythia-12b",
    "openchat-3.5",
    "openchat-3.5-0106",
    "openhermes-2.5-mistral-7b",
    "palm-2",
    "pplx-70b-online",
    "pplx-7b-online",
    "qwen-14b-chat",
    "qwen1.5-4b-chat",
    "qwen1.5-72b-chat",
    "qwen1.5-7b-chat",
    "solar-10.7b-instruct-v1.0",
    "stablelm-tuned-alpha-7b",
    "starling-lm-7b-alpha",
    "stripedhyena-nous-7b",
    "tulu-2-dpo-70b",
    "vicuna-13b",
    "vicuna-33b",
    "vicuna-7b",
    "wizardlm-13b",
    "wizardlm-70b",
    "yi-34b-chat",
    "zephyr-7b-alpha",
    "zephyr-7b-beta",
)
DEFAULT_STRONG = "gpt-4-1106-preview"
DEFAULT_WEAK = "mixtral-8x7b-instruct-v0.1"
EMBEDDER_NAME = "text-embedding-3-small"
_REQUIRED_CONFIG = ("dim", "num_models", "text_dim", "num_classes", "use_proj")


def read_checkpoint(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    from safetensors.numpy import load_file

    folder = Path(folder)
    config_path, weights_path = folder / "config.json", folder / "model.safetensors"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise artifact.ArtifactError(f"RouteLLM checkpoint lacks {path.name} in {folder}")
    config = json.loads(config_path.read_text())
    missing = [k for k in _REQUIRED_CONFIG if k not in config]
    if missing:
        raise artifact.ArtifactError(f"{config_path}: missing {', '.join(missing)}")
    weights = load_file(str(weights_path))
    dim, models, text_dim = int(config["dim"]), int(config["num_models"]), int(config["text_dim"])
    expected = {"P.weight": (models, dim), "classifier.0.weight": (int(config["num_classes"]), dim)}
    if config["use_proj"]:
        expected["text_proj.0.weight"] = (dim, text_dim)
    for key, shape in expected.items():
        if key not in weights:
            raise artifact.ArtifactError(f"{weights_path}: no tensor {key!r}")
        if tuple(weights[key].shape) != shape:
            raise artifact.ArtifactError(
                f"{weights_path}: {key} has shape {tuple(weights[key].shape)}, expected {shape}"
            )
    if int(config["num_classes"]) != 1:
        raise artifact.ArtifactError(f"{config_path}: num_classes {config['num_classes']}, only 1 is supported")
    return config, weights


def model_names(num_models: int) -> tuple[str, ...]:
    if num_models <= len(ROUTELLM_MODELS):
        return ROUTELLM_MODELS[:num_models]
    return ROUTELLM_MODELS + tuple(f"model-{i}" for i in range(len(ROUTELLM_MODELS), num_models))


def import_checkpoint(
    folder: Path,
    strong: str = DEFAULT_STRONG,
    weak: str = DEFAULT_WEAK,
    version: str = "routellm-mf",
    calibration: Calibration | None = None,
) -> tuple[onnx.ModelProto, artifact.RouterModelInfo]:
    config, weights = read_checkpoint(folder)
    names = model_names(int(config["num_models"]))
    for name in (strong, weak):
        if name not in names:
            raise artifact.ArtifactError(f"model {name!r} is not in the checkpoint's table of {len(names)} models")
    text_dim = int(config["text_dim"])
    W = weights["text_proj.0.weight"] if config["use_proj"] else np.eye(text_dim, dtype=np.float32)
    info = artifact.RouterModelInfo(
        router_id="routellm-mf",
        version=version,
        embedder_name=EMBEDDER_NAME,
        embedder_dim=text_dim,
        model_names=names,
        strong_model=strong,
        weak_model=weak,
        training_data={
            "source": "RouteLLM MF checkpoint",
            "folder": Path(folder).name,
            "config": {k: config[k] for k in _REQUIRED_CONFIG},
        },
        calibration_reference=calibration.reference if calibration else "",
        calibration_quantiles=calibration.quantiles if calibration else (),
    )
    model = onnx_graphs.build_mf_router(
        weights["P.weight"], W, weights["classifier.0.weight"], names.index(strong), names.index(weak), info
    )
    return model, info
