"""`orchestrouter route --token-file` (or $ORCHESTROUTER_TOKEN_FILE) against a router that requires a token."""

from __future__ import annotations

import json

import pytest

from orchestrouter.cli.main import main

WEB = "web-token-3f9a1c7e5b2d4680"


@pytest.fixture
def secured(stack, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"web:{WEB}\n")
    return stack(auth_tokens_file=str(tokens), decision_log="off")


def test_route_presents_the_token_from_its_file(secured, tmp_path, capsys, monkeypatch):
    target = ["route", "--router", secured.router.target, "--json"]
    token_file = tmp_path / "my-token"
    token_file.write_text(WEB + "\n")
    assert main([*target, "--token-file", str(token_file), "hi"]) == 0
    assert json.loads(capsys.readouterr().out)["tier"] == "premium"

    monkeypatch.setenv("ORCHESTROUTER_TOKEN_FILE", str(token_file))
    assert main([*target, "--stream", "hi"]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] == secured.premium.answer_text()


def test_route_without_a_token_or_with_a_bad_file_says_so_in_one_line(secured, tmp_path, capsys):
    target = ["route", "--router", secured.router.target]
    assert main([*target, "hi"]) == 1
    assert capsys.readouterr().err == (
        f"error: the router at {secured.router.target} answered UNAUTHENTICATED: missing or invalid bearer token; "
        "give its token with --token-file PATH\n"
    )

    assert main([*target, "--token-file", str(tmp_path / "missing"), "hi"]) == 2
    assert "--token-file: cannot read" in capsys.readouterr().err
    spaced = tmp_path / "spaced"
    spaced.write_text(f"{WEB} {WEB}")
    assert main([*target, "--token-file", str(spaced), "hi"]) == 2
    err = capsys.readouterr().err
    assert "must hold one token" in err and WEB not in err
