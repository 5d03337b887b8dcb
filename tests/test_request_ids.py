"""request_ids: random 128-bit ids, unique across pool refills and across a fork."""

from __future__ import annotations

import os
import re

from orchestrouter.router.request_ids import RandomIds


def test_ids_are_32_hex_digits_and_do_not_repeat_across_refills():
    ids = RandomIds()
    made = [ids.new() for _ in range(2_000)]  # several 4 KiB pools
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in made)
    assert len(set(made)) == len(made)


def test_a_forked_child_does_not_hand_out_its_parents_next_ids():
    ids = RandomIds()
    ids.new()  # the pool is filled: without the fork hook, the child would repeat what follows
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child writes its next id and leaves at once
        os.write(write, ids.new().encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert re.fullmatch(r"[0-9a-f]{32}", child_id)
    assert child_id != ids.new()
