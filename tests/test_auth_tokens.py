"""runtime.auth without gRPC: the token file's format, its reload, and the constant-time lookup."""

from __future__ import annotations

import logging

import pytest

from orchestrouter.runtime.auth import AuthFileError, TokenSet, bearer_token, load_token_set, parse_tokens
from orchestrouter.runtime.watched_file import FileFormatError
from tests.support.doubles import ManualClock, replace_file

WEB = "web-token-3f9a1c7e5b2d4680"
WEB_NEXT = "web-token-next-8e6b4a2c9f1357"
BATCH = "batch-token-0d8e6b4a2c9f1357"


def test_each_line_names_a_caller_and_a_caller_may_hold_several_tokens():
    tokens = parse_tokens(f"# issued 2026-12\n\nweb:{WEB}\n  web : {WEB_NEXT}  \nbatch:{BATCH}\n")
    assert tokens.callers == {"web", "batch"}
    assert tokens.caller_for(WEB) == "web" and tokens.caller_for(WEB_NEXT) == "web"
    assert tokens.caller_for(BATCH) == "batch"
    assert tokens.caller_for("web-token-3f9a1c7e5b2d468") is None and tokens.caller_for("") is None
    # Only digests are held.
    assert all(WEB.encode() not in digest for digest, _ in tokens.entries)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no caller:token line"),
        ("# only a comment\n", "no caller:token line"),
        (f"{WEB}\n", "line 1: expected caller:token"),
        (f"web:{WEB}\nbad name:{BATCH}\n", "line 2: expected caller:token"),
        ("web:short\n", "line 1: the token must be at least 16"),
        (f"web:{WEB} {WEB}\n", "line 1: the token must be"),
        (f"web:{WEB}\nbatch:{WEB}\n", "line 2: a token listed twice"),
        # Written the wrong way round: the token is where the caller's name belongs, and is not shown.
        (f"{WEB}:web\n", "line 1: the token must be"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_line_never_the_token(text, says):
    with pytest.raises(FileFormatError) as err:
        parse_tokens(text)
    assert says in str(err.value)
    assert WEB not in str(err.value) and "web" not in str(err.value)


def test_a_bad_file_at_startup_stops_the_service_with_one_line(tmp_path):
    assert load_token_set("") is None
    with pytest.raises(AuthFileError, match="ORCHESTROUTER_AUTH_TOKENS_FILE .*missing.*cannot read it"):
        load_token_set(str(tmp_path / "missing"))
    bad = tmp_path / "tokens"
    bad.write_bytes(b"web:\xff\xfe" + WEB.encode())
    with pytest.raises(AuthFileError, match="not UTF-8 text") as err:
        load_token_set(str(bad))
    assert WEB not in str(err.value)


def test_the_file_is_reread_when_it_changes_at_most_every_recheck(tmp_path):
    path, clock = tmp_path / "tokens", ManualClock(100.0)
    replace_file(path, f"web:{WEB}\n")
    tokens = TokenSet(str(path), recheck_s=5.0, clock=clock)
    assert tokens.caller_for(WEB) == "web"

    replace_file(path, f"web:{WEB}\nweb:{WEB_NEXT}\n")
    clock.now += 4.9
    assert tokens.caller_for(WEB_NEXT) is None  # not checked yet
    clock.now += 0.2
    assert tokens.caller_for(WEB_NEXT) == "web" and tokens.caller_for(WEB) == "web"

    replace_file(path, f"web:{WEB_NEXT}\n")  # the old token removed
    clock.now += 5.1
    assert tokens.caller_for(WEB) is None and tokens.caller_for(WEB_NEXT) == "web"


def test_an_unreadable_or_malformed_version_keeps_the_last_good_tokens_and_logs_once(tmp_path, caplog):
    path, clock = tmp_path / "tokens", ManualClock(100.0)
    replace_file(path, f"web:{WEB}\n")
    tokens = TokenSet(str(path), recheck_s=1.0, clock=clock)
    caplog.set_level(logging.INFO)

    replace_file(path, f"web {WEB_NEXT}\n")  # no colon
    for _ in range(3):
        clock.now += 1.5
        assert tokens.caller_for(WEB) == "web"
    path.unlink()
    clock.now += 1.5
    assert tokens.caller_for(WEB) == "web"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "line 1: expected caller:token" in warnings[0] and "keeping the previous version" in warnings[0]
    assert "cannot read it" in warnings[1]

    replace_file(path, f"batch:{BATCH}\n")
    clock.now += 1.5
    assert tokens.caller_for(BATCH) == "batch" and tokens.caller_for(WEB) is None
    assert all(secret not in caplog.text for secret in (WEB, WEB_NEXT, BATCH))


@pytest.mark.parametrize(
    ("metadata", "token"),
    [
        ((("authorization", f"Bearer {WEB}"),), WEB),
        ((("authorization", f"bearer  {WEB} "),), WEB),
        ((("x-other", "1"), ("authorization", f"Bearer {WEB}")), WEB),
        ((("authorization", f"Basic {WEB}"),), ""),
        ((("authorization", WEB),), ""),
        ((("authorization-bin", WEB.encode()),), ""),
        ((), ""),
        (None, ""),
    ],
)
def test_only_a_bearer_authorization_header_carries_a_token(metadata, token):
    assert bearer_token(metadata) == token
