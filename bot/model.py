"""The fitted answer model: three small logistic regressions, a kernel machine and the thresholds chosen for them.

- passage model: how likely a retrieved passage is one that answers the question (ranks what to quote);
- sentence model: how likely a sentence of a passage holds what the question asks for;
- kind model: how likely a question of this kind is one the sources answer at all (a kernel machine). It
  reads the part of the question's embedding that its closest source sentences don't explain, so it
  learns what kind of request goes beyond the sources (a hire date, a phone number, a budget, an
  opinion, chit-chat, another topic) rather than how well some passage matches the words, or which
  topics this corpus has;
The answer's `confidence` is P(the answer is right) from a logistic regression over two log-odds: the
kind model's, and the passage model's that one of the three passages quoted first answers (1 − the
chance that none does). Their product, used before, gave both the same weight, although the kind
model tells unanswerable questions apart far better. A model that read the best passage's features instead
extrapolated on questions unlike the bank's: an injection got 0.73 from it while the passage model rated
its best passage 0.10. Below the `answer` threshold (chosen for precision ≥ 0.95 on the tune set where
reachable) the bot declines.

Stored as JSON in the package (bot/resources/answer_model.json), written by `praktikbot eval --fit`
(bot/fitting.py). Reading needs only numpy; the file names its features, so a model fitted for other
features is refused instead of silently misread."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from bot.extractive import MAX_PASSAGES
from bot.features import PassageCandidate

FORMAT = 5
MODEL_RESOURCE = "resources/answer_model.json"


class ModelError(RuntimeError):
    """The answer model file is missing, unreadable or fitted for other features."""


@dataclass
class LinearModel:
    names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def probabilities(self, rows: list[dict[str, float]]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        try:
            x = np.array([[row[name] for name in self.names] for row in rows], dtype=np.float64)
        except KeyError as exc:
            raise ModelError(f"the answer model needs feature {exc}; refit with `praktikbot eval --fit`") from exc
        z = ((x - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class KernelModel:
    """A support-vector machine with a Gaussian kernel over the (length-normalised) part of a question's
    embedding its sources don't explain, its margin calibrated to a probability (Platt scaling on
    out-of-fold margins). A kernel rates a request by how close it is to the kinds of request the bank
    holds, answered or not; a linear model over the same vectors ranked them worse (out-of-fold AUC 0.68
    against 0.73). Only meaningful for the embeddings it was fitted with."""

    embeddings: str  # the embeddings setting the vectors came from
    gamma: float
    support: str  # the support vectors as int8, base64 (row-major, `dim` columns), each row times its scale
    scales: list[float]
    dim: int
    dual: list[float]  # their signed weights
    intercept: float
    platt: list[float]  # margin → probability: sigmoid(a · margin + b)

    @classmethod
    def packed(cls, embeddings: str, gamma: float, support: np.ndarray, dual: np.ndarray, intercept: float,
               platt: tuple[float, float]) -> KernelModel:
        """Rows stored in 8 bits, scaled per row: margins move by about 0.01 of their ±1 range, and float16
        doubled the file."""
        scales = np.abs(support).max(axis=1) / 127.0
        scales[scales == 0] = 1.0
        codes = np.round(support / scales[:, None]).astype(np.int8)
        return cls(embeddings=embeddings, gamma=gamma, dim=int(support.shape[1]),
                   support=base64.b64encode(codes.tobytes()).decode("ascii"),
                   scales=[float(f"{v:.6g}") for v in scales], dual=np.round(dual, 6).tolist(),
                   intercept=round(float(intercept), 6), platt=[round(float(v), 6) for v in platt])

    @cached_property
    def _support(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The support vectors, their squared lengths and weights, decoded once."""
        codes = np.frombuffer(base64.b64decode(self.support), dtype=np.int8).reshape(-1, self.dim)
        support = codes.astype(np.float32) * np.asarray(self.scales, dtype=np.float32)[:, None]
        return support, (support * support).sum(axis=1), np.asarray(self.dual, dtype=np.float32)

    def margin(self, vectors: np.ndarray) -> np.ndarray:
        """Signed distance from the boundary for rows of unit vectors (as the fit's decision_function)."""
        support, lengths, dual = self._support
        distances = lengths[None, :] + (vectors * vectors).sum(axis=1)[:, None] - 2.0 * vectors @ support.T
        return np.exp(-self.gamma * distances) @ dual + self.intercept

    def probability(self, vector: np.ndarray, embeddings: str) -> float:
        if embeddings != self.embeddings or len(vector) != self.dim:
            raise ModelError(f"the answer model was fitted on {self.embeddings} vectors, and the index uses "
                             f"{embeddings}: refit with `praktikbot eval --fit`")
        a, b = self.platt
        z = a * float(self.margin(unit(vector)[None, :])[0]) + b
        return float(1.0 / (1.0 + np.exp(-z)))


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


@dataclass
class AnswerModel:
    passage: LinearModel
    sentence: LinearModel
    kind: KernelModel
    confidence: LinearModel  # P(the answer is right) from the kind model's and the passages' verdicts
    thresholds: dict[str, float]  # answer, confident
    english_bridge: str = "glossary"  # how English questions reach Danish words: "glossary" or "none"
    fit: dict = field(default_factory=dict)  # what it was fitted on and how it scored there
    format: int = FORMAT

    @classmethod
    def unfitted(cls, bridge: str) -> AnswerModel:
        """A model with no weights, for computing the features a fit needs."""
        empty = LinearModel(names=[], mean=[], scale=[], coef=[], intercept=0.0)
        kind = KernelModel(embeddings="", gamma=1.0, support="", scales=[], dim=0, dual=[], intercept=0.0,
                           platt=[1.0, 0.0])
        return cls(passage=empty, sentence=empty, kind=kind, confidence=empty, thresholds={}, english_bridge=bridge)

    def score(self, passages: list[PassageCandidate], unexplained: np.ndarray | None = None,
              embeddings: str = "") -> float:
        """Set every passage's and sentence's probability; return the confidence that the answer is right.

        `unexplained` is features.unexplained(retrieval); without it only the passages are rated, and the
        confidence is 0."""
        if not passages:
            return 0.0
        for passage, p in zip(passages, self.passage.probabilities([c.features for c in passages]), strict=True):
            passage.probability = float(p)
            for sentence in passage.sentences:
                sentence.features["passage_p"] = passage.probability
        sentences = [s for c in passages for s in c.sentences]
        for sentence, p in zip(sentences, self.sentence.probabilities([s.features for s in sentences]), strict=True):
            sentence.probability = float(p)
        if unexplained is None:
            return 0.0
        verdicts = confidence_inputs(self.kind.probability(unexplained, embeddings), answered_in_top(passages))
        return float(self.confidence.probabilities([verdicts])[0])

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, data: dict) -> AnswerModel:
        if data.get("format") != FORMAT:
            raise ModelError(f"answer model format {data.get('format')} is not {FORMAT}; refit with "
                             "`praktikbot eval --fit`")
        return cls(passage=LinearModel(**data["passage"]), sentence=LinearModel(**data["sentence"]),
                   kind=KernelModel(**data["kind"]), confidence=LinearModel(**data["confidence"]),
                   thresholds=data["thresholds"], english_bridge=data.get("english_bridge", "glossary"),
                   fit=data.get("fit", {}), format=data["format"])


def confidence_inputs(kind: float, answered: float) -> dict[str, float]:
    """What the confidence model reads: both verdicts as log-odds, so it can weigh them."""
    def logit(p: float) -> float:
        p = min(max(p, 1e-4), 1 - 1e-4)
        return float(np.log(p / (1 - p)))
    return {"kind": logit(kind), "passages": logit(answered)}


def answered_in_top(passages: list[PassageCandidate], top: int = MAX_PASSAGES) -> float:
    """How likely one of the passages the answer quotes first holds the answer, by the passage model."""
    ranked = sorted((c.probability for c in passages), reverse=True)[:top]
    return 1.0 - float(np.prod([1.0 - p for p in ranked]))


def model_path() -> Path:
    return Path(str(resources.files("bot").joinpath(MODEL_RESOURCE)))


@lru_cache(maxsize=1)
def load_model() -> AnswerModel:
    try:
        data = json.loads(model_path().read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read the answer model {MODEL_RESOURCE}: {exc}; "
                         "fit one with `praktikbot eval --fit`") from exc
    return AnswerModel.from_json(data)
