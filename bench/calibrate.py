"""Fit the extractive answer's two small models on tune splits and print their weights.

    python bench/calibrate.py --fit ranker --set tests/data/corpus_qa.json=var/index \
        --set ../shared/external/multihop/qa_dev.json=var/multihop
    python bench/calibrate.py --fit confidence --set ... [--heldout]

Each `--set` is a question file and the index built from its corpus. Only the tune split is fitted on
(yes/no questions left out: quoting cannot say "yes"); the held-out split is only ever scored. Sets weigh
equally.
- `ranker` (`rag/answer/scoring.py`): which retrieved sentence holds the answer. A sentence of an
  answerable question is labelled 1 when it holds a gold evidence string or a gold answer.
- `confidence` (`rag/answer/confidence.py`): whether the corpus answers the question at all (`--label
  answerable`, the default) or our would-be answer is right (`--label right`); prints risk-coverage
  tables per set and split, so the default `RAG_MIN_ANSWER_SCORE` can be read off the tune split.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answer import create_backend  # noqa: E402
from rag.answer.confidence import FEATURES, Signals, probability  # noqa: E402
from rag.answer.extractive import draft  # noqa: E402
from rag.answer.question import analyse  # noqa: E402
from rag.answer.scoring import FEATURES as RANKER_FEATURES  # noqa: E402
from rag.answer.scoring import WEIGHTS as RANKER_WEIGHTS  # noqa: E402
from rag.answer.scoring import score_sentences  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embeddings import Embedder, load_embedder  # noqa: E402
from rag.evaluation.metrics import QAItem, contains_any  # noqa: E402
from rag.evaluation.runner import COVERAGE_THRESHOLDS, load_questions  # noqa: E402
from rag.evaluation.split import split_of  # noqa: E402
from rag.service import RagService  # noqa: E402

L2 = 0.01


@dataclass(frozen=True)
class Row:
    set_name: str
    split: str
    item: QAItem
    signals: Signals
    right: bool  # the would-be answer holds a gold answer
    sentences: tuple[tuple[list[float], bool], ...]  # each candidate's ranker features, and if it holds the answer


async def collect(path: Path, index_dir: Path, embedder: Embedder) -> list[Row]:
    settings = Settings(index_dir=index_dir)
    service = RagService(settings, embedder, create_backend(settings, embedder))
    rows = []
    for item in load_questions(path):
        if item.yes_no or (item.answerable and not item.answers):
            continue
        _, evidence = await service.evidence(item.question, settings.top_k)
        found = draft(evidence, settings.max_answer_sentences)
        text = "".join(found.pieces)
        right = bool(item.answerable and found.citations and contains_any(text, item.answers))
        gold = item.evidence + item.answers
        sentences = tuple(
            ([c.features[name] for name in RANKER_FEATURES], item.answerable and _holds(c.text, gold))
            for c in score_sentences(evidence, analyse(item.question))
        )
        rows.append(Row(path.name, split_of(item.id), item, found.signals or _nothing(), right, sentences))
    return rows


def _holds(sentence: str, gold: tuple[str, ...]) -> bool:
    """The sentence holds a gold string, or is part of a gold evidence sentence."""
    return contains_any(sentence, gold) or any(contains_any(g, [sentence]) for g in gold)


def _nothing() -> Signals:
    return Signals(*([0.0] * len(fields(Signals))))


def fit_confidence(rows: list[Row], label: str) -> dict[str, float]:
    x = np.array([[1.0, *r.signals.vector()] for r in rows])
    y = np.array([float(r.right if label == "right" else r.item.answerable) for r in rows])
    return _named(logistic_fit(x, y, _set_weights([r.set_name for r in rows])), FEATURES)


def fit_ranker(rows: list[Row]) -> dict[str, float]:
    """Over answerable questions whose candidates hold the answer at all; each question weighs the same."""
    used = [r for r in rows if r.item.answerable and any(label for _, label in r.sentences)]
    x = np.array([[1.0, *features] for r in used for features, _ in r.sentences])
    y = np.array([float(label) for r in used for _, label in r.sentences])
    per_question = np.array([1 / len(r.sentences) for r in used for _ in r.sentences])
    weight = _set_weights([r.set_name for r in used for _ in r.sentences]) * per_question * len(used)
    return _named(logistic_fit(x, y, weight / weight.mean()), RANKER_FEATURES)


def _set_weights(names: list[str]) -> np.ndarray:
    counts = {name: names.count(name) for name in set(names)}
    return np.array([len(names) / (len(counts) * counts[n]) for n in names])


def _named(beta: np.ndarray, features: tuple[str, ...]) -> dict[str, float]:
    return {"bias": float(beta[0]), **{name: float(b) for name, b in zip(features, beta[1:], strict=True)}}


def logistic_fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """L2-regularised, sample-weighted logistic regression by Newton's method."""
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ beta)))
        gradient = x.T @ (weight * (p - y)) + L2 * np.r_[0.0, beta[1:]]
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x + L2 * np.diag(np.r_[0.0, np.ones(len(beta) - 1)])
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def top1(rows: list[Row], weights: dict[str, float]) -> float:
    """Share of answerable questions whose best-scored sentence holds the answer."""
    used = [r for r in rows if r.item.answerable and r.sentences]
    hits = 0
    for r in used:
        best = max(
            r.sentences,
            key=lambda s: (
                weights["bias"] + sum(w * v for w, v in zip([weights[n] for n in RANKER_FEATURES], s[0], strict=True))
            ),
        )
        hits += best[1]
    return hits / max(1, len(used))


def table(rows: list[Row], weights: dict[str, float]) -> list[str]:
    lines = [
        "| threshold | coverage | accuracy of answered | accuracy | abstention | false refusal |",
        "|" + "---|" * 6,
    ]
    confidence = [probability(r.signals, weights) for r in rows]
    answerable = [r for r in rows if r.item.answerable]
    unanswerable = [r for r in rows if not r.item.answerable]
    for threshold in COVERAGE_THRESHOLDS:
        kept = [c >= threshold for c in confidence]
        answered = [r for r, k in zip(rows, kept, strict=True) if k]
        answered_ids = {id(r) for r in answered}
        right = sum(r.right for r in answered)
        accuracy = sum(r.right for r in answerable if id(r) in answered_ids) / max(1, len(answerable))
        abstention = sum(id(r) not in answered_ids for r in unanswerable) / max(1, len(unanswerable))
        refusal = sum(id(r) not in answered_ids for r in answerable) / max(1, len(answerable))
        lines.append(
            f"| {threshold:.2f} | {len(answered) / len(rows):.3f} | {right / max(1, len(answered)):.3f} | "
            f"{accuracy:.3f} | {abstention:.3f} | {refusal:.3f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", required=True, help="QUESTIONS.json=INDEX_DIR")
    parser.add_argument("--fit", choices=("ranker", "confidence"), default="confidence")
    parser.add_argument(
        "--label",
        choices=("answerable", "right"),
        default="answerable",
        help="what the model predicts: that the corpus answers the question, or that our answer is right",
    )
    parser.add_argument("--heldout", action="store_true", help="also print the held-out tables")
    args = parser.parse_args()
    embedder = load_embedder(Settings())
    rows: list[Row] = []
    for pair in args.set:
        questions, index_dir = pair.split("=", 1)
        rows += asyncio.run(collect(Path(questions), Path(index_dir), embedder))
    tune = [r for r in rows if r.split == "tune"]
    weights = fit_ranker(tune) if args.fit == "ranker" else fit_confidence(tune, args.label)
    print("WEIGHTS = {")
    for name, value in weights.items():
        print(f'    "{name}": {value:.3f},')
    print("}")
    for set_name in dict.fromkeys(r.set_name for r in rows):
        for split in ("tune", "heldout") if args.heldout else ("tune",):
            chosen = [r for r in rows if r.set_name == set_name and r.split == split]
            if args.fit == "ranker":
                print(
                    f"{set_name}, {split}: best sentence holds the answer {top1(chosen, RANKER_WEIGHTS):.3f} "
                    f"with the current weights, {top1(chosen, weights):.3f} with the fitted ones"
                )
                continue
            print(f"\n**{set_name}, {split} split ({len(chosen)} questions, yes/no left out)**\n")
            print("\n".join(table(chosen, weights)))


if __name__ == "__main__":
    main()
