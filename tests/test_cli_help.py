"""The CLI's parser: every option documented, nothing outside the repository cited, no command module loaded."""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys

import pytest

from orchestrouter.cli import router_models
from orchestrouter.cli.main import build_parser, main


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_option_of_every_subcommand_has_a_help_text():
    undocumented = [
        f"{name} {action.option_strings or action.dest}"
        for name, parser in _subparsers().items()
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert undocumented == []


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_help_cites_nothing_outside_the_repository(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "DESIGN" not in text and "shared" not in text and "../" not in text


@pytest.mark.parametrize("command", ["train", "eval"])
def test_train_and_eval_say_where_each_data_set_comes_from_and_how_to_lay_it_out(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    for source in ("lm-sys/RouteLLM", "lmarena/arena-hard-auto", "TIGER-AI-Lab/MMLU-Pro", "ulab-uiuc/LLMRouter"):
        assert source in text
    # The files the loaders read, under the folders they read them from.
    for path in (
        "routellm-evals/",
        "mmlu/mmlu_<domain>.csv",
        "gsm8k/gsm8k_responses.csv",
        "arena-bench-v1/",
        "question.jsonl",
        "gpt4_single_scores.csv",
        "mmlu-pro/",
        "questions.jsonl",
        "correctness_matrix.csv",
        "llmrouter/",
        "dcrouter_train.json",
        "default_query_test.jsonl",
    ):
        assert path in text


def test_the_cli_knows_training_s_recipes_and_defaults(capsys):
    from orchestrouter.training import recipes, routellm_import
    from orchestrouter.training.datasets import STRONG, WEAK

    assert (router_models.RECIPES, router_models.DEFAULT_RECIPE) == (recipes.RECIPES, recipes.DEFAULT_RECIPE)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert STRONG in capsys.readouterr().out.replace("\n", " ")
    defaults = inspect.signature(routellm_import.import_checkpoint).parameters
    with pytest.raises(SystemExit):
        main(["import-routellm", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in ("strong", "weak", "version"):
        assert f"(default: {defaults[name].default})" in text
    assert WEAK == defaults["weak"].default


def test_the_parser_loads_no_command_module():
    code = (
        "import json, sys; import orchestrouter.cli.main as m; m.build_parser(); print(json.dumps(sorted(sys.modules)))"
    )
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout))
    heavy = {"grpc", "numpy", "onnx", "onnxruntime", "openai", "tqdm", "orchestrouter.training", "orchestrouter.scorer"}
    assert loaded & heavy == set()
    assert not any(m.startswith(("orchestrouter.router", "orchestrouter.client")) for m in loaded)
