"""Recommenders for SPADE's reference spaces and TS-TR: popularity, item-kNN, MF, BPR and NCF.

Every model reads interactions as implicit feedback: each training (user, item) pair is a positive,
ratings are ignored, and every other cell is unobserved.

* ``popularity`` — an item's score is its number of training interactions (the same for every user).
* ``itemknn`` — cosine similarity between the item columns of the binary user × item matrix (self
  similarity excluded); each item keeps its ``neighbors`` (default 100) most similar items, ties by
  lower item index, and score(u, i) = Σ_{j ∈ N(i)} x_uj · sim(j, i).
* ``mf`` — score(u, i) = p_u · q_i + b_i, trained with binary cross-entropy on each positive and
  ``n_neg`` items drawn uniformly from the user's non-training items (redrawn every epoch).
* ``bpr`` — the same factorisation trained with the BPR loss −log σ(s(u, i) − s(u, j)) against the same
  ``n_neg`` sampled items j of each positive.
* ``ncf`` — NeuMF (He et al. 2017): a GMF branch p_u^G ⊙ q_i^G and an MLP tower over [p_u^M; q_i^M]
  (hidden sizes ``ncf_hidden``, default [dim, dim/2]), concatenated and read by one output logit;
  BCE with sampled negatives as for ``mf``. Its entity embeddings (``user_factors``/``item_factors``)
  are the concatenation [GMF; MLP] of its two tables, 2·dim wide: all the model knows of an entity.

The three trained models minimise mean-over-positives loss + ``l2`` · (‖p_u‖² + ‖q_i‖² + Σ_j ‖q_j‖²)
over the embeddings a batch uses (biases and the tower's weights are not penalised), with Adam, in
minibatches of ``batch_size`` positives; one jitted `lax.scan` runs a whole epoch. Negatives come from
`NegativeSampler` with `epoch_rng(seed, epoch, stream)` and parameters from `stage_key(seed, name)`,
so a fit is a deterministic function of (data, cfg, seed): on CPU, bit for bit.

``cfg`` holds the keys of the config's ``eval.reference`` (``DEFAULTS`` fills any left out), plus the
optional ``neighbors`` (item-kNN), ``init_std`` and ``ncf_hidden``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.sparse as sp
from flax import nnx

from spade_core import ranking
from spade_core.data import Interactions
from spade_core.nn import PairMLP, relu, stage_key
from spade_core.sampling import NegativeSampler, epoch_rng

log = logging.getLogger(__name__)

MODELS = ("popularity", "itemknn", "mf", "bpr", "ncf")
DEFAULTS = {
    "dim": 64, "epochs": 30, "lr": 5e-3, "l2": 1e-2, "n_neg": 4, "batch_size": 8192,
    "neighbors": 100, "init_std": 0.1, "ncf_hidden": None,
}
LOG_EVERY = 5  # epochs between progress lines
SCORE_CELLS = 1 << 22  # user × item cells scored at once by evaluate() and item-kNN, so memory stays bounded
NCF_ACTIVATIONS = 1 << 24  # floats of NCF tower activations alive at once when scoring


def interaction_matrix(data: Interactions, n_users: int, n_items: int) -> sp.csr_matrix:
    """The binary (n_users × n_items) CSR matrix of the pairs in `data` (float32 ones)."""
    m = sp.csr_matrix((np.ones(len(data), np.float32), (data.user, data.item)), shape=(n_users, n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


# --- the fitted models ------------------------------------------------------------------------


@dataclass
class Recommender:
    """A fitted model: `scores(users)` gives a (len(users) × n_items) float32 array, higher is better.

    Factor models also carry `user_factors` / `item_factors` (float32 entity embeddings); the others
    leave them None.
    """

    name: str
    n_items: int
    score_fn: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    user_factors: np.ndarray | None = field(default=None, repr=False)
    item_factors: np.ndarray | None = field(default=None, repr=False)
    item_bias: np.ndarray | None = field(default=None, repr=False)  # mf, bpr: the b_i of their scores
    report: dict = field(default_factory=dict)

    def scores(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        return np.asarray(self.score_fn(users), dtype=np.float32).reshape(len(users), self.n_items)


def fit(name: str, train: Interactions, n_users: int, n_items: int, cfg: dict, seed: int) -> Recommender:
    """Fit recommender `name` (one of MODELS) on `train`, read as implicit feedback."""
    if name not in MODELS:
        raise ValueError(f"unknown recommender {name!r}; expected one of {MODELS}")
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown recommender settings {sorted(unknown)}")
    cfg = {**DEFAULTS, **cfg}
    start = time.perf_counter()
    rec = _FITTERS[name](train, n_users, n_items, cfg, seed)
    rec.report["fit_seconds"] = time.perf_counter() - start
    log.info("%s: fitted on %d interactions (%d x %d) in %.2f s", name, len(train), n_users, n_items,
             rec.report["fit_seconds"])
    return rec


def _fit_popularity(train, n_users, n_items, cfg, seed) -> Recommender:
    counts = np.bincount(interaction_matrix(train, n_users, n_items).indices, minlength=n_items).astype(np.float32)
    return Recommender("popularity", n_items, lambda users: np.broadcast_to(counts, (len(users), n_items)))


def item_similarity(x: sp.csr_matrix, neighbors: int) -> sp.csr_matrix:
    """(I × I) CSR matrix W with W[j, i] = cos(x_:j, x_:i) for the `neighbors` items j most similar to
    item i (j ≠ i, similarity > 0; ties by lower j). Built a block of columns at a time."""
    n_items = x.shape[1]
    norm = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    inv = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0).astype(np.float32)
    xt, xc = x.T.tocsr(), x.tocsc()
    k = min(neighbors, n_items)
    block = max(1, SCORE_CELLS // max(n_items, 1))
    rows, cols, vals = [], [], []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        sim = (xt @ xc[:, start:stop]).toarray().T  # (block, I): co-occurrence counts
        sim *= inv[start:stop, None] * inv[None, :]
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
        best = ranking.top_k(sim, None, k)  # ties by lower item index
        best_vals = np.take_along_axis(sim, best, axis=1)
        keep = best_vals > 0
        rows.append(best[keep])
        cols.append(np.broadcast_to(np.arange(start, stop)[:, None], best.shape)[keep])
        vals.append(best_vals[keep])
    return sp.csr_matrix((np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_items, n_items))


def _fit_itemknn(train, n_users, n_items, cfg, seed) -> Recommender:
    x = interaction_matrix(train, n_users, n_items)
    w = item_similarity(x, cfg["neighbors"])
    rec = Recommender("itemknn", n_items, lambda users: (x[users] @ w).toarray())
    rec.report["similarity_nnz"] = int(w.nnz)
    return rec


# --- trained models (Flax NNX) ----------------------------------------------------------------


def _normal(std: float):
    return jax.nn.initializers.normal(stddev=std)


def _rows(table: jax.Array, index: jax.Array) -> jax.Array:
    """table[index] for in-range indices; 'clip' skips the out-of-bounds fill of default indexing,
    which on CPU costs about as much as the gather itself (and again in its gradient)."""
    return jnp.take(table, index, axis=0, mode="clip")


def _sq(table: jax.Array) -> jax.Array:
    return jnp.sum(table * table, axis=-1)


class MF(nnx.Module):
    """score(u, i) = p_u · q_i + b_i."""

    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float, *, rngs: nnx.Rngs):
        self.user = nnx.Embed(n_users, dim, embedding_init=_normal(init_std), rngs=rngs)
        self.item = nnx.Embed(n_items, dim, embedding_init=_normal(init_std), rngs=rngs)
        self.item_bias = nnx.Param(jnp.zeros((n_items,), dtype=jnp.float32))

    def logits(self, users: jax.Array, items: jax.Array) -> jax.Array:
        """(B, m) logits of the pairs (users[b], items[b, j])."""
        p, q = _rows(self.user.embedding[...], users), _rows(self.item.embedding[...], items)
        return jnp.einsum("bd,bmd->bm", p, q) + _rows(self.item_bias[...], items)

    def sq_norms(self) -> tuple[jax.Array, jax.Array]:
        """Squared norms of every user's and every item's embeddings (what L2 penalises)."""
        return _sq(self.user.embedding[...]), _sq(self.item.embedding[...])


class NeuMF(nnx.Module):
    """NeuMF: w·[h_G; h_M] + c with h_G = p^G_u ⊙ q^G_i and h_M = ReLU(tower([p^M_u; q^M_i]))."""

    def __init__(self, n_users: int, n_items: int, dim: int, hidden: tuple[int, ...], init_std: float, *,
                 rngs: nnx.Rngs):
        if len(hidden) < 2:
            raise ValueError(f"ncf_hidden needs at least two layer sizes, got {list(hidden)}")
        self.user_gmf = nnx.Embed(n_users, dim, embedding_init=_normal(init_std), rngs=rngs)
        self.item_gmf = nnx.Embed(n_items, dim, embedding_init=_normal(init_std), rngs=rngs)
        self.user_mlp = nnx.Embed(n_users, dim, embedding_init=_normal(init_std), rngs=rngs)
        self.item_mlp = nnx.Embed(n_items, dim, embedding_init=_normal(init_std), rngs=rngs)
        # Dense layers 2·dim → h0 → ... → h_last with ReLU after each (the last one is applied below).
        # PairMLP applies the first layer to each entity once, so pairs only add and gather.
        self.tower = PairMLP(dim, dim, hidden[:-1], hidden[-1], rngs=rngs)
        self.output = nnx.Linear(dim + hidden[-1], 1, rngs=rngs)
        self.dim = dim

    def logits(self, users: jax.Array, items: jax.Array) -> jax.Array:
        """(B, m) logits of the pairs (users[b], items[b, j])."""
        kernel, bias = self.output.kernel[...], self.output.bias[...]
        pm, qm = self.tower.project(self.user_mlp.embedding[...], self.item_mlp.embedding[...])
        pg = _rows(self.user_gmf.embedding[...], users) * kernel[: self.dim, 0]
        gmf = jnp.einsum("bd,bmd->bm", pg, _rows(self.item_gmf.embedding[...], items))
        hidden = relu(_rows(pm, users)[:, None, :] + _rows(qm, items))
        # The tower on 2-D rows: XLA's CPU dot and its gradient run about twice as fast as on (B, m, h).
        mlp = relu(self.tower.rest(hidden.reshape(-1, hidden.shape[-1]))) @ kernel[self.dim :, 0]
        return gmf + mlp.reshape(gmf.shape) + bias[0]

    def sq_norms(self) -> tuple[jax.Array, jax.Array]:
        return (_sq(self.user_gmf.embedding[...]) + _sq(self.user_mlp.embedding[...]),
                _sq(self.item_gmf.embedding[...]) + _sq(self.item_mlp.embedding[...]))

    def score_block(self, users: jax.Array) -> jax.Array:
        """(len(users) × n_items) logits of every item for the given users."""
        kernel, bias = self.output.kernel[...], self.output.bias[...]
        pg = _rows(self.user_gmf.embedding[...], users) * kernel[: self.dim, 0]
        gmf = pg @ self.item_gmf.embedding[...].T
        pm, qm = self.tower.project(_rows(self.user_mlp.embedding[...], users), self.item_mlp.embedding[...])
        mlp = relu(self.tower.rest(relu(pm[:, None, :] + qm[None, :, :]))) @ kernel[self.dim :, 0]
        return gmf + mlp + bias[0]


def _loss(model, batch: dict, objective: str, l2: float):
    """Mean over the batch's positives of the objective plus l2 × the squared norms of the embeddings
    each positive uses (its user, its item and its negatives)."""
    u, w = batch["user"], batch["weight"]
    items = jnp.concatenate([batch["item"][:, None], batch["neg"]], axis=1)  # (B, 1 + n_neg)
    s = model.logits(u, items)
    s_pos, s_neg = s[:, 0], s[:, 1:]
    if objective == "bpr":
        per = jax.nn.softplus(s_neg - s_pos[:, None]).sum(-1)  # −log σ(s_pos − s_neg)
    else:
        per = jax.nn.softplus(-s_pos) + jax.nn.softplus(s_neg).sum(-1)
    user_sq, item_sq = model.sq_norms()
    reg = _rows(user_sq, u) + _rows(item_sq, items).sum(-1)
    n = jnp.maximum(w.sum(), 1.0)
    return jnp.sum(w * (per + l2 * reg)) / n


def _epoch_fn(graphdef, tx, objective: str, l2: float):
    @jax.jit
    def epoch(params, opt_state, batches):
        def step(carry, batch):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(lambda p: _loss(nnx.merge(graphdef, p), batch, objective, l2))(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), batches)
        n = batches["weight"].sum(axis=1)
        return params, opt_state, jnp.sum(losses * n) / jnp.sum(n)

    return epoch


class _BitmapSampler(NegativeSampler):
    """NegativeSampler whose membership test reads a bitmap of the user × item grid instead of a binary
    search: the same draws (sampling itself is inherited), several times faster per epoch."""

    def __init__(self, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int):
        super().__init__(users, items, n_users, n_items)
        keys = np.asarray(users, dtype=np.int64) * n_items + np.asarray(items, dtype=np.int64)
        self._bits = np.zeros((n_users * n_items + 7) // 8, dtype=np.uint8)
        np.bitwise_or.at(self._bits, keys >> 3, (1 << (keys & 7)).astype(np.uint8))

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = np.asarray(users, dtype=np.int64) * self.n_items + np.asarray(items, dtype=np.int64)
        return (self._bits[keys >> 3] >> (keys & 7).astype(np.uint8)) & 1 == 1


def _batches(train: Interactions, sampler: NegativeSampler, n_neg: int, batch_size: int, rng) -> dict:
    """One epoch of shuffled positives with their negatives, padded to whole batches (weight 0)."""
    order = rng.permutation(len(train))
    steps = -(-len(order) // batch_size)
    pad = steps * batch_size - len(order)
    idx = np.concatenate([order, order[:pad]])
    users = train.user[idx]
    shape = (steps, batch_size)
    return {
        "user": users.reshape(shape),
        "item": train.item[idx].reshape(shape),
        "neg": sampler.sample(users, n_neg, rng).reshape(*shape, n_neg),
        "weight": np.r_[np.ones(len(order)), np.zeros(pad)].astype(np.float32).reshape(shape),
    }


_STREAMS = {"mf": 1, "bpr": 2, "ncf": 3}


def _train(name: str, model: nnx.Module, train: Interactions, n_users: int, n_items: int, cfg: dict, seed: int):
    """Train `model` in place with the objective of `name`; returns the per-epoch mean losses."""
    if len(train) == 0:
        raise ValueError(f"{name}: no training interactions")
    sampler = _BitmapSampler(train.user, train.item, n_users, n_items)
    graphdef, params = nnx.split(model)
    tx = optax.adam(cfg["lr"])
    opt_state = tx.init(params)
    epoch_fn = _epoch_fn(graphdef, tx, "bpr" if name == "bpr" else "bce", float(cfg["l2"]))
    batch_size = min(cfg["batch_size"], len(train))
    def batches(epoch):
        return _batches(train, sampler, cfg["n_neg"], batch_size, epoch_rng(seed, epoch, _STREAMS[name]))

    losses, start, next_batches = [], time.perf_counter(), batches(1)
    for epoch in range(1, cfg["epochs"] + 1):
        # Dispatch is asynchronous: the next epoch's negatives are drawn while this one trains.
        params, opt_state, loss = epoch_fn(params, opt_state, next_batches)
        if epoch < cfg["epochs"]:
            next_batches = batches(epoch + 1)
        losses.append(loss)
        if epoch % LOG_EVERY == 0 or epoch == cfg["epochs"]:
            log.info("%s epoch %3d/%d  loss %.4f  %.1f s", name, epoch, cfg["epochs"], float(loss),
                     time.perf_counter() - start)
    nnx.update(model, params)
    return [float(v) for v in losses]


def _fit_factor(name):
    def fit_(train, n_users, n_items, cfg, seed) -> Recommender:
        model = MF(n_users, n_items, cfg["dim"], cfg["init_std"], rngs=nnx.Rngs(stage_key(seed, f"recommender_{name}")))
        losses = _train(name, model, train, n_users, n_items, cfg, seed)
        p = np.asarray(model.user.embedding[...], dtype=np.float32)
        q = np.asarray(model.item.embedding[...], dtype=np.float32)
        b = np.asarray(model.item_bias[...], dtype=np.float32)
        rec = Recommender(name, n_items, lambda users: p[users] @ q.T + b, p, q, b)
        rec.report["losses"] = losses
        return rec

    return fit_


def _fit_ncf(train, n_users, n_items, cfg, seed) -> Recommender:
    dim = cfg["dim"]
    hidden = tuple(cfg["ncf_hidden"] or (dim, max(dim // 2, 1)))
    model = NeuMF(n_users, n_items, dim, hidden, cfg["init_std"], rngs=nnx.Rngs(stage_key(seed, "recommender_ncf")))
    losses = _train("ncf", model, train, n_users, n_items, cfg, seed)
    graphdef, params = nnx.split(model)
    block = max(1, NCF_ACTIVATIONS // (n_items * max(hidden)))  # bounds the (block × I × h) activations
    score = jax.jit(lambda params, users: nnx.merge(graphdef, params).score_block(users))

    def score_fn(users):
        out = np.empty((len(users), n_items), np.float32)
        for s in range(0, len(users), block):
            chunk = users[s : s + block]
            padded = np.pad(chunk, (0, block - len(chunk)))  # one compiled shape
            out[s : s + len(chunk)] = np.asarray(score(params, jnp.asarray(padded, jnp.int32)))[: len(chunk)]
        return out

    uf = np.concatenate([model.user_gmf.embedding[...], model.user_mlp.embedding[...]], axis=1).astype(np.float32)
    itf = np.concatenate([model.item_gmf.embedding[...], model.item_mlp.embedding[...]], axis=1).astype(np.float32)
    rec = Recommender("ncf", n_items, score_fn, uf, itf)
    rec.report["losses"] = losses
    return rec


_FITTERS = {
    "popularity": _fit_popularity,
    "itemknn": _fit_itemknn,
    "mf": _fit_factor("mf"),
    "bpr": _fit_factor("bpr"),
    "ncf": _fit_ncf,
}


# --- evaluation -------------------------------------------------------------------------------


def evaluate(rec: Recommender, train: Interactions, test: Interactions, n_users: int, n_items: int,
             ks: list[int]) -> dict:
    """Recall/NDCG/MAP@k (spade_core.ranking conventions) of `rec` on `test`: each user's top max(ks)
    items over all items, its training items excluded; users without a test item are skipped.
    Users are scored a chunk at a time, so memory stays O(SCORE_CELLS) whatever the size."""
    users = np.unique(test.user).astype(np.int64)
    if not len(users):
        raise ValueError("the test split has no interactions")
    depth = max(ks)
    exclude = interaction_matrix(train, n_users, n_items)[users]
    relevant = interaction_matrix(test, n_users, n_items)[users]
    topk = np.empty((len(users), depth), dtype=np.int64)
    chunk = max(1, SCORE_CELLS // n_items)
    for s in range(0, len(users), chunk):
        rows = slice(s, s + chunk)
        topk[rows] = ranking.top_k(rec.scores(users[rows]), exclude[rows], depth)
    return ranking.ranking_metrics(topk, relevant, list(ks))
