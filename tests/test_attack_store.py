"""The traffic store fed what callers and endpoints can send: one odd record never costs the others theirs."""

from __future__ import annotations

from orchestrouter.store import open_store
from tests.support.store_records import answer, request


def test_a_nul_in_a_prompt_or_answer_is_stored_and_keeps_its_batch(store_url):
    """A NUL is valid in a gRPC string and in JSON; PostgreSQL text cannot hold one, and the
    recorder writes records in batches: one such request dropped everyone's records with it."""
    store = open_store(store_url)
    try:
        before = request("r-before", 1_700_000_001.0)
        nul_prompt = request("r-nul-prompt", 1_700_000_002.0, prompt="a\x00b")
        nul_answer = request("r-nul-answer", 1_700_000_003.0, answers=(answer("premium", "x\x00y"),))
        after = request("r-after", 1_700_000_004.0)
        store.record_requests([before, nul_prompt, nul_answer, after])
        stored = {r.request_id: r for r in store.requests()}
        assert list(stored) == ["r-before", "r-nul-prompt", "r-nul-answer", "r-after"]
        assert stored["r-before"] == before and stored["r-after"] == after
        # SQLite keeps the NUL; PostgreSQL keeps U+FFFD in its place.
        assert stored["r-nul-prompt"].query in ("a\x00b", "a\ufffdb")
        assert stored["r-nul-answer"].answers[0].text in ("x\x00y", "x\ufffdy")
    finally:
        store.close()
