"""`praktikbot eval --fit`: fit the answer model (bot/model.py) on the tune split of the question bank.

- passage model: one row per (question, retrieved passage); label 1 when the passage is one the
  question is labelled with. Unanswerable questions give only 0s.
- sentence model: one row per quotable sentence of those passages; label 1 when it is in a labelled
  passage and holds a phrase the answer must contain.
- thresholds: from out-of-fold probabilities (folds grouped by document section, so a section's
  questions never rate each other): `answer` is the lowest confidence at which answered questions are
  right at least 95 % of the time, `confident` the same at 99 %, `sentence` maximises F1.
Only the tune split is read; the held-out split is for `praktikbot eval` to report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from bot.answer import AnswerService
from bot.evaluate import RIGHT_WITHIN, chunk_key, expected_chunks, split_key, split_of
from bot.features import SIGNS, PassageCandidate
from bot.model import AnswerModel, LinearModel, question_features
from ingest.clean import fold

ANSWER_PRECISION = 0.95
CONFIDENT_PRECISION = 0.99  # answers above this are shown without a low-confidence mark
FOLDS = 5
MIN_ANSWERED_SHARE = 0.1  # a precision measured on fewer of the tune questions is luck, not a rate


@dataclass
class _Rows:
    features: list[dict[str, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # the section a row's question is about (for the folds)
    candidates: list[PassageCandidate] = field(default_factory=list)  # passage rows only
    question: list[int] = field(default_factory=list)  # passage rows only: the index of their question

    def add(self, features: dict[str, float], label: int, group: str) -> None:
        self.features.append(features)
        self.labels.append(label)
        self.groups.append(group)


def _label_sentence(text: str, phrases: list[str]) -> int:
    folded = fold(text)
    return int(any(fold(p) in folded for p in phrases))


def _collect(service: AnswerService, questions: list[dict], progress,
             ) -> tuple[_Rows, _Rows, list[bool], list[bool]]:
    passages, sentences, answerable, on_topic = _Rows(), _Rows(), [], []
    for index, item in enumerate(questions):
        progress(index, len(questions))
        _, _, candidates = service.candidates(item["question"])
        wanted = expected_chunks(item)
        answerable.append(not item.get("abstain"))
        on_topic.append(not item.get("abstain") or item.get("kind") == "borrowed")
        group = split_key(item)
        for c in candidates:
            right = int(chunk_key(c.hit.chunk.source, c.hit.chunk.section) in wanted)
            passages.add(c.features, right, group)
            passages.candidates.append(c)
            passages.question.append(index)
            if item.get("abstain"):
                continue
            for s in c.sentences:
                sentences.add(s.features, right * _label_sentence(s.text, item.get("must_contain_any", [])), group)
    progress(len(questions), len(questions))
    return passages, sentences, answerable, on_topic


def _matrix(rows: _Rows, names: list[str]) -> np.ndarray:
    return np.array([[f[n] for n in names] for f in rows.features], dtype=np.float64)


def _fit_linear(x: np.ndarray, y: np.ndarray, names: list[str]) -> LinearModel:
    """L2-regularised logistic regression (as scikit-learn's default, C=1) whose weights keep SIGNS."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    sign = np.array([SIGNS.get(n, 0) for n in names])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        margin = z @ w[:-1] + w[-1]
        value = -np.sum(y * log_expit(margin) + (1 - y) * log_expit(-margin)) + 0.5 * w[:-1] @ w[:-1]
        residual = expit(margin) - y
        return value, np.append(z.T @ residual + w[:-1], residual.sum())

    bounds = [(0, None) if s > 0 else (None, 0) if s < 0 else (None, None) for s in sign] + [(None, None)]
    w = minimize(loss, np.zeros(len(names) + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
    return LinearModel(names=names, mean=mean.round(6).tolist(), scale=scale.round(6).tolist(),
                       coef=w[:-1].round(6).tolist(), intercept=round(float(w[-1]), 6))


def _out_of_fold(x: np.ndarray, y: np.ndarray, groups: list[str], names: list[str]) -> np.ndarray:
    from sklearn.model_selection import GroupKFold

    probabilities = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=FOLDS).split(x, y, groups):
        probabilities[test] = _fit_linear(x[train], y[train], names).probabilities(
            [dict(zip(names, row, strict=True)) for row in x[test]])
    return probabilities


def _threshold_for(confidence: np.ndarray, right: np.ndarray, precision: float) -> tuple[float, bool]:
    """The lowest confidence above which answered questions are right at least `precision` of the time.

    When no confidence reaches that precision, the one with the best F0.5 (precision counted twice as
    much as recall), and False to say the target was not met."""
    order = np.argsort(-confidence)
    hits = np.cumsum(right[order])
    answered = np.arange(1, len(order) + 1)
    ok = np.nonzero((hits / answered >= precision) & (answered >= MIN_ANSWERED_SHARE * len(order)))[0]
    if len(ok):
        return float(confidence[order][ok.max()]), True
    p, r = hits / answered, hits / max(1, int(right.sum()))
    f_half = np.where(p + r > 0, 1.25 * p * r / np.maximum(0.25 * p + r, 1e-9), 0.0)
    return float(confidence[order][int(np.argmax(f_half))]), False


def _best_f1(probabilities: np.ndarray, labels: np.ndarray) -> float:
    best, best_t = -1.0, 0.5
    for t in np.unique(probabilities.round(3)):
        predicted = probabilities >= t
        tp = float(np.sum(predicted & (labels == 1)))
        f1 = 2 * tp / max(1.0, float(np.sum(predicted) + np.sum(labels == 1)))
        if f1 > best:
            best, best_t = f1, float(t)
    return best_t


def fit(service: AnswerService, questions: list[dict], bridge: str, progress=lambda done, total: None) -> AnswerModel:
    from sklearn.metrics import roc_auc_score

    tune = [q for q in questions if split_of(q) == "tune"]
    if not tune:
        raise ValueError("the question set has no tune questions to fit on")
    passages, sentences, answerable, on_topic = _collect(service, tune, progress)
    candidates = passages.candidates
    passage_names = sorted(passages.features[0])
    xp, yp = _matrix(passages, passage_names), np.array(passages.labels)

    # the sentence and question models learn from the passage model's out-of-fold verdicts, as they will
    # meet verdicts on unseen questions
    oof = _out_of_fold(xp, yp, passages.groups, passage_names)
    by_question: dict[int, list[tuple[PassageCandidate, int]]] = {}
    for candidate, p, label, q in zip(candidates, oof, yp, passages.question, strict=True):
        candidate.probability = float(p)
        for sentence in candidate.sentences:
            sentence.features["passage_p"] = float(p)
        by_question.setdefault(q, []).append((candidate, int(label)))
    sentence_names = sorted(sentences.features[0])
    xs, ys = _matrix(sentences, sentence_names), np.array(sentences.labels)
    asked = sorted(by_question)
    qrows = [question_features([c for c, _ in by_question[q]]) for q in asked]
    right = np.array([int(any(label for _, label in sorted(by_question[q], key=lambda c: -c[0].probability)
                              [:RIGHT_WITHIN])) for q in asked])
    question_names = sorted(qrows[0])
    xq = np.array([[r[n] for n in question_names] for r in qrows])
    groups = [passages.groups[passages.question.index(q)] for q in asked]
    # confidence = P(about the sources' topic at all) × P(right | on topic): chit-chat and other topics
    # are told apart by the first, questions that borrow the sources' words by the second
    topical = np.array([int(on_topic[q]) for q in asked])
    inside = topical == 1
    topic_p = _out_of_fold(xq, topical, groups, question_names)
    right_p = np.zeros(len(asked))
    right_p[inside] = _out_of_fold(xq[inside], right[inside], [g for g, i in zip(groups, inside, strict=True) if i],
                                   question_names)
    confidence = topic_p * right_p
    answer_at, answer_met = _threshold_for(confidence, right, ANSWER_PRECISION)
    confident_at, confident_met = _threshold_for(confidence, right, CONFIDENT_PRECISION)
    if not confident_met:  # without the promised precision nothing is confident
        confident_at = answer_at if answer_met else 1.0
    thresholds = {"answer": answer_at, "confident": confident_at,
                  "sentence": _best_f1(_out_of_fold(xs, ys, sentences.groups, sentence_names), ys)}
    thresholds["confident"] = max(thresholds["confident"], thresholds["answer"])
    answered = confidence >= thresholds["answer"]
    answerable = [answerable[q] for q in asked]
    n_answerable = int(sum(answerable))
    return AnswerModel(
        passage=_fit_linear(xp, yp, passage_names), sentence=_fit_linear(xs, ys, sentence_names),
        topic=_fit_linear(xq, topical, question_names), question=_fit_linear(xq[inside], right[inside], question_names),
        thresholds={k: round(v, 6) for k, v in thresholds.items()}, english_bridge=bridge,
        fit={"fitted_at": time.strftime("%Y-%m-%d"), "tune_questions": len(tune),
             "tune_answerable": n_answerable, "precision_target": ANSWER_PRECISION,
             "precision_target_met": answer_met, "passage_rows": len(yp), "sentence_rows": len(ys),
             "out_of_fold": {
                 "auc": round(float(roc_auc_score(right, confidence)), 4),
                 "precision": round(float(right[answered].mean()) if answered.any() else 0.0, 4),
                 "answered_right": round(float(np.sum(right * answered)) / max(1, n_answerable), 4),
                 "unanswerable_declined": round(float(np.mean([not a for a, ok in zip(answered, answerable,
                                                                                        strict=True) if not ok]
                                                               or [0.0])), 4)}},
    )
