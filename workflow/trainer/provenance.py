"""Where a run's splits came from, in one line a report can print (torch-free).

`load_data` records each split's size and source in `split_info` (metrics.json's
`extra.split`); this is the one way that record is read back into words, so every
report says it alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NOT_RECORDED = "not recorded"


def describe_splits(split: Mapping[str, Any]) -> str:
    """`train 1,200 (the train/ folder of data); val 212 (carved from ...); test 300 (...)`.

    A record from before sources were recorded gives the sizes and the test source only.
    """
    sizes = split.get("sizes") or {}
    sources = split.get("sources") or {}
    parts = []
    for name in ("train", "val", "test"):
        size = sizes.get(name)
        text = f"{name} {size:,}" if isinstance(size, int) else f"{name} {NOT_RECORDED}"
        where = sources.get(name) or (split.get("test_source") if name == "test" else None)
        parts.append(f"{text} ({where})" if where else text)
    return "; ".join(parts)
