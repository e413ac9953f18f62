"""The true minimum's rules the benchmarks share (``bench.common``): what a run of
Diamond's could not do with fewer forum calls."""

from __future__ import annotations

from bench.common import minimum_reads_of_run, minimum_writes


def test_a_runs_audit_log_entries_are_one_post_per_kind() -> None:
    keys = ["gating-audit:1:approved", "gating-audit:2:rejected", "camp-audit:w1:passed"]
    assert minimum_writes(keys) == {"gating-audit": 1, "camp-audit": 1}


def test_membership_changes_are_one_call_per_group_per_thousand_usernames() -> None:
    keys = [f"camp-join:{uid}" for uid in range(1_001)]
    keys += ["squad-add:a:x1", "squad-add:b:x2", "leaders:ann", "leaders:bob"]
    assert minimum_writes(keys) == {"camp-join": 2, "squad-add": 2, "leaders": 1}


def test_every_other_change_is_a_write_of_its_own() -> None:
    keys = ["weekly-thread:2026-W12:a", "weekly-thread:2026-W12:b", "badge:3:ann"]
    assert minimum_writes([*keys, keys[0]]) == {"weekly-thread": 2, "badge": 1}


def test_a_run_served_from_redis_needs_no_read() -> None:
    assert minimum_reads_of_run({"POST /posts.json": 3}) == 0


def test_a_run_that_read_needs_its_one_list_and_the_roster_listing_once_more() -> None:
    calls = {"GET /categories.json": 2, "GET /groups.json": 3, "POST /posts.json": 1}
    assert minimum_reads_of_run(calls) == 2
    assert minimum_reads_of_run({"GET /groups.json": 2}) == 1
    assert minimum_reads_of_run({"GET /posts.json": 4}, lists=3) == 3
