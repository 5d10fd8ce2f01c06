"""Asset ids: unique, and sorted in the order they were made."""

from __future__ import annotations

import time

from studio.core.project.ids import asset_id_millis, is_asset_id, new_asset_id


def test_ids_sort_in_creation_order_even_within_a_millisecond() -> None:
    fixed = time.time_ns()
    ids = [new_asset_id(fixed) for _ in range(500)] + [new_asset_id() for _ in range(500)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(is_asset_id(i) for i in ids)


def test_id_starts_with_the_time() -> None:
    before = time.time_ns() // 1_000_000
    asset_id = new_asset_id()
    after = time.time_ns() // 1_000_000
    assert before <= asset_id_millis(asset_id) <= after + 1
    future = 4_000_000_000_000 * 1_000_000  # year 2096
    assert asset_id_millis(new_asset_id(future)) == 4_000_000_000_000
    assert not is_asset_id("not-an-id") and not is_asset_id("I" * 26)
