"""Which topic a message is about, as probabilities: multinomial logistic regression over the matcher's features.

Why a second model: the lexical stage weighs a feature by how few topics use it, which is noisy with fifty topics.
A bigram that crosses a word boundary ("到催", "收电") can look rare and decide a long message, while "报警" counts
little because several topics mention the police. A linear model trained on the pack's examples learns which
features separate topics from each other. Its probabilities sharpen the ranking and separate a clear winner from
a close call: on the dev set, the share of questions answered right at 3% wrong answers rose from 0.53 to 0.68.

Training takes 10–20 seconds (scipy's L-BFGS over the examples), too slow for every start, so it runs offline:
`python -m bot calibrate intents/cn --write` stores the weights in the pack (model.npz) with a fingerprint of
what they were trained on. A pack whose model is missing or stale (examples edited since) is retrained at load.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

C = 20.0  # inverse L2 strength: higher fits the examples more closely (5 and 50 measured; 20 chosen on dev + check set)
ITERATIONS = 200  # L-BFGS steps; on the bundled pack the fit converges in about 130


@dataclass(frozen=True)
class Model:
    key: str  # fingerprint of the examples, labels and features it was trained on
    idf: np.ndarray  # (features,) weight of each feature, from how many examples use it
    weights: np.ndarray  # (features, intents)
    bias: np.ndarray  # (intents,)


def fingerprint(intent_ids: list[str], texts: list[str], owners: list[int], vocab: dict[str, int]) -> str:
    """Changes whenever the examples, their intents or the features computed from them change."""
    digest = hashlib.sha256(f"C={C};iterations={ITERATIONS}".encode())
    for part in (intent_ids, texts, [str(o) for o in owners], list(vocab)):
        digest.update("\x1e".join(part).encode())
        digest.update(b"\x1d")
    return digest.hexdigest()


def _row(bag: Counter[str], vocab: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of one message: sublinear term frequency times idf, scaled to unit length."""
    cols = [vocab[f] for f in bag if f in vocab]
    values = np.asarray([1 + math.log(bag[f]) for f in bag if f in vocab], dtype=np.float32)
    index = np.asarray(cols, dtype=np.int64)
    if not cols:
        return index, values
    values *= idf[index]
    return index, values / np.linalg.norm(values)


def train(bags: list[Counter[str]], owners: list[int], n_intents: int, vocab: dict[str, int], key: str) -> Model:
    """Fit the weights on every example (scipy is imported here only: serving never needs it)."""
    from scipy import optimize, sparse

    df = np.zeros(len(vocab), dtype=np.float64)
    for bag in bags:
        for f in bag:
            df[vocab[f]] += 1
    idf = (np.log((1 + len(bags)) / (1 + df)) + 1).astype(np.float32)
    indptr, indices, data = [0], [], []
    for bag in bags:
        cols, values = _row(bag, vocab, idf)
        indices.append(cols)
        data.append(values)
        indptr.append(indptr[-1] + len(cols))
    x = sparse.csr_matrix(
        (np.concatenate(data).astype(np.float64), np.concatenate(indices), indptr), shape=(len(bags), len(vocab))
    )
    xt = x.T.tocsr()
    labels = np.asarray(owners)
    target = np.zeros((len(bags), n_intents))
    target[np.arange(len(bags)), labels] = 1
    strength = 1 / C
    shape = (len(vocab), n_intents)

    def loss_and_gradient(flat: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = flat[:-n_intents].reshape(shape), flat[-n_intents:]
        z = x @ weights + bias
        z -= z.max(axis=1, keepdims=True)
        total = np.exp(z).sum(axis=1)
        loss = np.log(total).sum() - z[np.arange(len(bags)), labels].sum() + strength / 2 * (weights * weights).sum()
        residual = np.exp(z) / total[:, None] - target
        gradient = xt @ residual + strength * weights
        return float(loss), np.concatenate([gradient.ravel(), residual.sum(axis=0)])

    start = np.zeros(shape[0] * shape[1] + n_intents)
    result = optimize.minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B", options={"maxiter": ITERATIONS})
    flat = result.x
    return Model(
        key=key,
        idf=idf,
        weights=flat[:-n_intents].reshape(shape).astype(np.float32),
        bias=flat[-n_intents:].astype(np.float32),
    )


def probabilities(model: Model, bag: Counter[str], vocab: dict[str, int]) -> np.ndarray:
    """P(intent | message) for every intent; uniform-ish (the bias alone) when no feature is known."""
    cols, values = _row(bag, vocab, model.idf)
    z = model.bias + values @ model.weights[cols]
    z = np.exp(z - z.max())
    return z / z.sum()


def save(model: Model, path: Path) -> None:
    # float16 halves the file; the probabilities it gives differ from float32 in the fourth decimal.
    np.savez_compressed(
        path, key=np.asarray(model.key), idf=model.idf, weights=model.weights.astype(np.float16), bias=model.bias
    )


def load(path: Path) -> Model:
    with np.load(path, allow_pickle=False) as data:
        return Model(
            key=str(data["key"]),
            idf=data["idf"].astype(np.float32),
            weights=data["weights"],  # kept float16: `probabilities` multiplies it in float32, with the same result
            bias=data["bias"].astype(np.float32),
        )
