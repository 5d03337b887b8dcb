"""What ``--data-dir`` holds: where each public data set comes from and the files the loaders read.

``train`` and ``eval`` print this below their options, so a user who has only the package learns
how to fetch and lay out the data without anything outside it.
"""

DATA_DIR_ENV = "ORCHESTROUTER_DATA_DIR"

DATA_DIR_HELP = (
    "folder holding the four benchmark data sets, one subfolder each (default: $" + DATA_DIR_ENV + "); "
    "where each comes from and the files read from it are listed below"
)

DATA_LAYOUT = """\
--data-dir: four public benchmark data sets, data only, each under its own licence. Fetch the files
named below from the public repositories and lay them out like this (the file and folder names are
the ones the loaders read):

  routellm-evals/     GitHub lm-sys/RouteLLM (Apache-2.0), folder routellm/evals/: per-question
                      correctness of gpt-4-1106-preview and Mixtral-8x7B-Instruct
    mmlu/mmlu_<domain>.csv             the 57 files of routellm/evals/mmlu/responses/: a `prompt`
                                       column, then one True/False column per model
    mmlu/contaminated_prompts.jsonl    from the same folder: JSON lines whose `eval_prompt` is
                                       dropped (optional)
    gsm8k/gsm8k_responses.csv          routellm/evals/gsm8k/: `prompt`, one True/False column per
                                       model, then each model's `<model>_response`
    gsm8k/contaminated_prompts.jsonl   from the same folder (optional)
  arena-bench-v1/     GitHub lmarena/arena-hard-auto (Apache-2.0), folder data/arena-bench-v1/
    question.jsonl                     JSON lines: `question_id`, `turns` (turns[0] is the prompt)
    gpt4_single_scores.csv             `question_id,model,turn,score`: the GPT-4 judge's 1-10 score of
                                       each model's answer, collected from its model_judgment/*.jsonl
  mmlu-pro/           GitHub TIGER-AI-Lab/MMLU-Pro (Apache-2.0)
    questions.jsonl                    JSON lines: `question_id`, `category`, `src`, `question`,
                                       `options` (the test split of the Hugging Face data set
                                       TIGER-Lab/MMLU-Pro)
    correctness_matrix.csv             `question_id`, then one column per model named `<model>_5shots`:
                                       1 right, 0 wrong, empty not run, from the per-model outputs in
                                       eval_results/model_outputs_*_5shots.zip
  llmrouter/          GitHub ulab-uiuc/LLMRouter (MIT), folders data/dcrouter_preprocessed/ and
                      data/example_data/
    dcrouter_train.json, dcrouter_test.json
                                       a JSON list of {"question", "scores": {model: 0..1}}
    default_query_train.jsonl, default_query_test.jsonl
                                       JSON lines: `task_name`, `query` (each question's task)

Models are matched across sets by name, lower case, without an organisation prefix or `_5shots`.
"""
