"""API keys that cannot work are refused at startup with one line naming the variable (issue 10,
defect 3): not ASCII, not UTF-8, control characters, or an empty key file (which used to start the
router with no credentials)."""

from __future__ import annotations

import pytest

from orchestrouter.router.config import ConfigError, RouterConfig


@pytest.mark.parametrize(
    "content",
    [b"sk-\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", b"sk-\xff\xfe", b"", b"\n", b"sk-a\x00b", b"sk-one\nsk-two"],
    ids=["non-ascii", "invalid-utf8", "empty", "blank", "nul", "two-lines"],
)
def test_an_unusable_key_file_is_refused_at_startup(tmp_path, content):
    key = tmp_path / "key"
    key.write_bytes(content)
    with pytest.raises(ConfigError, match="^ORCHESTROUTER_PREMIUM_API_KEY_FILE: ") as err:
        RouterConfig.from_env({"ORCHESTROUTER_PREMIUM_API_KEY_FILE": str(key)})
    assert "\n" not in str(err.value) and "\\xff" not in str(err.value) and "ключ" not in str(err.value)


def test_an_unusable_key_in_the_environment_is_refused_at_startup():
    with pytest.raises(ConfigError, match="^ORCHESTROUTER_SMALL_API_KEY: ") as err:
        RouterConfig.from_env({"ORCHESTROUTER_SMALL_API_KEY": "sk-ключ"})
    assert "ключ" not in str(err.value)


def test_a_plain_key_file_is_read():
    assert RouterConfig.from_env({"ORCHESTROUTER_SMALL_API_KEY": " sk-plain-1234 "}).small.api_key == "sk-plain-1234"
