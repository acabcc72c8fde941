"""The public face of agentloop.store: what other packages may import."""

from __future__ import annotations

import agentloop.store as store_package


def test_exported_members() -> None:
    assert sorted(store_package.__all__) == sorted([
        "PG_SCHEMA", "TABLE_PREFIX", "Bus", "Delivery", "Increment", "NewEvent",
        "NewOutputLine", "OutputBatcher", "RunCounters", "StepChange", "StepProcess", "Store",
        "Subscription", "current_revision", "follow_events", "follow_output", "head_revision",
        "make_engine", "migrate", "ms_to_rfc3339", "new_id", "now_ms", "rfc3339_to_ms",
        "translate_errors", "url_for_data_dir",
    ])  # fmt: skip
    for name in store_package.__all__:
        assert getattr(store_package, name) is not None
