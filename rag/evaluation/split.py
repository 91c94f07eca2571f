"""The fixed tune / held-out split of every question set, decided by the question id alone.

Fixed before any tuning and the same for every set (ours and MultiHop-RAG's): a question is held out when
the first 8 hex digits of sha256(id) form an odd number. Tune on `tune`; quote `heldout`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from rag.evaluation.metrics import QAItem

Split = Literal["tune", "heldout"]
SPLITS: tuple[Split, ...] = ("tune", "heldout")


def split_of(question_id: str) -> Split:
    digest = hashlib.sha256(question_id.encode("utf-8")).hexdigest()
    return "heldout" if int(digest[:8], 16) % 2 else "tune"


def select(items: Sequence[QAItem], split: Split | Literal["all"]) -> list[QAItem]:
    return [item for item in items if split == "all" or split_of(item.id) == split]
