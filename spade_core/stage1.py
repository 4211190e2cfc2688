"""Stage I: representation learning — deterministic encoders, interaction gate, rating decoder.

Model. E_u, E_i: embedding lookup + MLP → z ∈ R^d. The gate g(z_u, z_i) = MLP_g([z_u; z_i]) + s·cos(z_u, z_i)
and the rating decoder f_r([z_u; z_i]) (logits over the dataset's rating vocabulary, or one regression
output for the `continuous_decoder` ablation) read the concatenated latents. The gate's learned
cosine term (scale s) ties the latent geometry to the gate, because Stage III looks for candidate
items by cosine similarity: with an MLP-only gate the top-C cosine candidates of ml-100k users held
37% of the gate's probability mass, with the cosine term about 76%. An activity head a(z_u) predicts
the logit of the user's interaction rate.

Training. L = L_gate + L_rating + λ(‖z_u‖² + ‖z_i‖²) (+ L_activity, below), minibatch Adam, early
stopping on the validation loss with patience (the best epoch's parameters are kept). The gate is
trained by binary cross-entropy on each observed training pair against n_neg items drawn uniformly
from the same user's non-training items, redrawn every epoch; the rating loss uses observed pairs only.

Calibration (why the gate's probability can be trusted). Sampling n_neg negatives per positive *per
user* shifts the class prior, and does so differently for each user: for user u with training degree
k_u out of I items, Bayes' rule gives the population log-odds as

    logit p(g=1 | u, i) = g(z_u, z_i) + log n_neg + logit(k_u / I)

(the classical prior-shift correction, cf. King & Zeng 2001, Saerens et al. 2002, here per user).
The last term is unknown for a synthetic user, so the activity head a(z_u) learns it from the real
users (L_activity: cross-entropy between σ(a(z_u)) and k_u / I, which is minimised exactly at the
true rate), and the calibrated gate is σ(g + log n_neg + a(z_u)). Because a(z_u) reads the latent, the
encoders also place activity in z_u, which is what lets Stage II's generated users differ in how
much they interact.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pyarrow as pa
import pyarrow.parquet as pq
from flax import nnx

from spade_core.data import Interactions, Prepared, load_prepared, write_json
from spade_core.nn import MLP, PairMLP, load_params, relu, save_params, stage_key
from spade_core.sampling import NegativeSampler, epoch_rng

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Architecture:
    n_users: int
    n_items: int
    vocab: tuple[float, ...]
    n_neg: int
    embedding_dim: int = 64
    latent_dim: int = 64
    encoder_hidden: tuple[int, ...] = (128,)
    gate_hidden: tuple[int, ...] = (128,)
    decoder_hidden: tuple[int, ...] = (128,)
    continuous_decoder: bool = False

    @classmethod
    def from_config(cls, cfg: dict, n_users: int, n_items: int, vocab) -> "Architecture":
        names = {f.name for f in dataclasses.fields(cls)} - {"n_users", "n_items", "vocab", "n_neg"}
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items() if k in names}
        return cls(n_users, n_items, tuple(float(v) for v in vocab), cfg["n_neg"], **kw)

    @classmethod
    def from_json(cls, doc: dict) -> "Architecture":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in doc.items()})


class Representation(nnx.Module):
    def __init__(self, arch: Architecture, *, rngs: nnx.Rngs):
        e, d = arch.embedding_dim, arch.latent_dim
        self.user_embed = nnx.Embed(arch.n_users, e, rngs=rngs)
        self.item_embed = nnx.Embed(arch.n_items, e, rngs=rngs)
        self.user_encoder = MLP([e, *arch.encoder_hidden, d], rngs=rngs)
        self.item_encoder = MLP([e, *arch.encoder_hidden, d], rngs=rngs)
        self.gate = PairMLP(d, d, arch.gate_hidden, 1, rngs=rngs)
        self.cosine_scale = nnx.Param(jnp.asarray(5.0, dtype=jnp.float32))  # strong dtype: no recompile
        n_out = 1 if arch.continuous_decoder else len(arch.vocab)
        self.decoder = PairMLP(d, d, arch.decoder_hidden, n_out, rngs=rngs)
        self.activity = MLP([d, *arch.gate_hidden, 1], rngs=rngs)

    def encode(self) -> tuple[jax.Array, jax.Array]:
        """Latents of every real user and item: (U×d, I×d)."""
        return self.user_encoder(self.user_embed.embedding[...]), self.item_encoder(self.item_embed.embedding[...])


def unit(z: jax.Array) -> jax.Array:
    return z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), 1e-12)


def entity_tables(model: Representation, zu, zi, n_neg: int) -> dict:
    """Per-entity quantities of latent tables zu, zi, computed once; pairs then only gather and add.

    `offset` is the calibration term log n_neg + a(z_u) (see module doc).
    """
    gate_u, gate_i = model.gate.project(zu, zi)
    dec_u, dec_i = model.decoder.project(zu, zi)
    return {"gate_u": gate_u, "gate_i": gate_i, "unit_u": unit(zu), "unit_i": unit(zi),
            "offset": activity_logits(model, zu) + jnp.log(n_neg), "dec_u": dec_u, "dec_i": dec_i}


def table_pair_logits(model: Representation, t: dict, users, items) -> jax.Array:
    """The gate's training-time logits g(z_u, z_i) for pairs of table rows (users[k], items[k])."""
    cosine = jnp.sum(t["unit_u"][users] * t["unit_i"][items], axis=-1)
    return model.gate.rest(relu(t["gate_u"][users] + t["gate_i"][items]))[..., 0] + model.cosine_scale[...] * cosine


def table_gate_logits(model: Representation, t: dict, users, items) -> jax.Array:
    """Calibrated gate logits, logit p(g=1 | z_u, z_i) = g + log n_neg + a(z_u) (see module doc)."""
    return table_pair_logits(model, t, users, items) + t["offset"][users]


def table_rating_outputs(model: Representation, t: dict, users, items) -> jax.Array:
    """Rating-decoder outputs for pairs: logits over the vocabulary, or (continuous) one value."""
    return model.decoder.rest(relu(t["dec_u"][users] + t["dec_i"][items]))


def activity_logits(model: Representation, zu) -> jax.Array:
    """a(z_u): the predicted logit of each user's interaction rate k_u / I."""
    return model.activity(zu)[:, 0]


def pair_logits(model: Representation, zu, zi, users, items, n_neg: int = 1) -> jax.Array:
    return table_pair_logits(model, entity_tables(model, zu, zi, n_neg), users, items)


def gate_logits(model: Representation, zu, zi, users, items, n_neg: int) -> jax.Array:
    return table_gate_logits(model, entity_tables(model, zu, zi, n_neg), users, items)


def rating_outputs(model: Representation, zu, zi, users, items) -> jax.Array:
    return table_rating_outputs(model, entity_tables(model, zu, zi, 1), users, items)


def ratings_from_outputs(out, arch: Architecture, key: jax.Array) -> jax.Array:
    """Vocabulary indices: drawn from the categorical decoder, or (continuous ablation) the regression
    output snapped to the nearest vocabulary value."""
    if arch.continuous_decoder:
        return jnp.argmin(jnp.abs(out[:, :1] - jnp.asarray(arch.vocab)[None, :]), axis=1)
    return jax.random.categorical(key, out, axis=-1)


def draw_ratings(model: Representation, arch: Architecture, zu, zi, users, items, key: jax.Array) -> np.ndarray:
    """Ratings for pairs, always values of the vocabulary: drawn from the categorical decoder, or (the
    continuous ablation) the regression output snapped to the nearest vocabulary value."""
    index = ratings_from_outputs(rating_outputs(model, zu, zi, users, items), arch, key)
    return np.asarray(arch.vocab)[np.asarray(index)]


# --- training --------------------------------------------------------------------------------


def _loss(model: Representation, batch: dict, rate: jax.Array, l2: float, continuous: bool):
    zu, zi = model.encode()
    t = entity_tables(model, zu, zi, 1)
    u, i, neg, w = batch["user"], batch["item"], batch["neg"], batch["weight"]
    s_pos = table_pair_logits(model, t, u, i)
    s_neg = table_pair_logits(model, t, u[:, None], neg)
    n = jnp.maximum(w.sum(), 1.0)
    gate = jnp.sum(w * (jax.nn.softplus(-s_pos) + jax.nn.softplus(s_neg).sum(-1))) / n
    out = table_rating_outputs(model, t, u, i)
    if continuous:
        rating = jnp.sum(w * (out[:, 0] - batch["rating"]) ** 2) / n
    else:
        rating = jnp.sum(w * optax.softmax_cross_entropy_with_integer_labels(out, batch["rating_index"])) / n
    reg = l2 * jnp.sum(w * (jnp.sum(zu[u] ** 2, -1) + jnp.sum(zi[i] ** 2, -1))) / n
    activity = jnp.mean(optax.sigmoid_binary_cross_entropy(t["offset"], rate))  # offset = a(z_u) at n_neg = 1
    total = gate + rating + reg + activity
    return total, {"loss": total, "gate": gate, "rating": rating, "reg": reg, "activity": activity}


def _batches(train: Interactions, rating_index, sampler, n_neg, batch_size, seed, epoch) -> dict:
    """One epoch of shuffled minibatches, padded to whole batches (padding has weight 0)."""
    rng = epoch_rng(seed, epoch)
    order = rng.permutation(len(train))
    steps = -(-len(order) // batch_size)
    pad = steps * batch_size - len(order)
    idx = np.concatenate([order, order[:pad]])
    weight = np.r_[np.ones(len(order)), np.zeros(pad)].astype(np.float32)
    users = train.user[idx]
    shape = (steps, batch_size)
    return {
        "user": users.reshape(shape),
        "item": train.item[idx].reshape(shape),
        "rating": train.rating[idx].astype(np.float32).reshape(shape),
        "rating_index": rating_index[idx].reshape(shape),
        "neg": sampler.sample(users, n_neg, rng).reshape(*shape, n_neg),
        "weight": weight.reshape(shape),
    }


@dataclass
class Validation:
    """Validation positives with fixed sampled negatives, none of them a training or validation pair.

    `neg` holds n_neg items per positive from the same user (the training objective's negatives);
    `pair_user`/`pair_item` hold unobserved pairs drawn uniformly over all (user, item) cells, the
    population Stage III's gate decides on. Test pairs are never consulted (a few of these negatives
    may be test positives, about the test density's share).
    """

    batch: dict
    pair_user: np.ndarray
    pair_item: np.ndarray
    majority_rate: float

    @classmethod
    def build(cls, ds: Prepared, rating_index_val, n_neg: int, seed: int) -> "Validation":
        seen = NegativeSampler(np.r_[ds.train.user, ds.val.user], np.r_[ds.train.item, ds.val.item],
                               ds.n_users, ds.n_items)
        rng = epoch_rng(seed, 0, stream=1)
        neg = seen.sample(ds.val.user, n_neg, rng)
        pair_user = rng.integers(0, ds.n_users, len(ds.val) * n_neg).astype(np.int32)
        pair_item = seen.sample(pair_user, 1, rng)[:, 0]
        batch = {"user": ds.val.user, "item": ds.val.item, "rating": ds.val.rating.astype(np.float32),
                 "rating_index": rating_index_val, "neg": neg, "weight": np.ones(len(ds.val), np.float32)}
        majority = np.bincount(rating_index_val).max() / len(ds.val)
        return cls(batch, pair_user, pair_item, float(majority))


def _val_outputs(model: Representation, batch: dict, pair_user, pair_item, arch: Architecture) -> dict:
    zu, zi = model.encode()
    t = entity_tables(model, zu, zi, arch.n_neg)
    u, i = batch["user"], batch["item"]
    out = table_rating_outputs(model, t, u, i)
    vocab = jnp.asarray(arch.vocab)
    if arch.continuous_decoder:
        pred = jnp.argmin(jnp.abs(out[:, :1] - vocab[None, :]), axis=1)
        nll = jnp.nan
    else:
        pred = jnp.argmax(out, axis=1)
        nll = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(out, batch["rating_index"]))
    return {
        "pos": table_gate_logits(model, t, u, i),
        "neg_same_user": table_pair_logits(model, t, u[:, None], batch["neg"]),
        "pos_pair": table_pair_logits(model, t, u, i),
        "neg_uniform": table_gate_logits(model, t, pair_user, pair_item),
        "accuracy": jnp.mean(pred == batch["rating_index"]),
        "nll": nll,
    }


def _auc(pos, neg) -> float:
    from sklearn.metrics import roc_auc_score  # lazily: Stage III loads this module, never scores AUC

    pos, neg = np.asarray(pos).ravel(), np.asarray(neg).ravel()
    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


class Trainer:
    """Owns the jitted epoch and validation functions for one model and config."""

    def __init__(self, model: Representation, arch: Architecture, cfg: dict, user_rate: np.ndarray):
        self.arch, self.cfg = arch, cfg
        self.graphdef, params = nnx.split(model)
        self.tx = optax.adam(cfg["lr"])
        self.params, self.opt_state = params, self.tx.init(params)
        self.rate = jnp.asarray(user_rate, dtype=jnp.float32)

    @partial(jax.jit, static_argnums=0)
    def _epoch(self, params, opt_state, batches):
        def step(carry, batch):
            params, opt_state = carry
            grad_fn = jax.value_and_grad(
                lambda p: _loss(nnx.merge(self.graphdef, p), batch, self.rate, self.cfg["l2_lambda"],
                                self.arch.continuous_decoder),
                has_aux=True,
            )
            (_, aux), grads = grad_fn(params)
            updates, opt_state = self.tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), aux

        (params, opt_state), aux = jax.lax.scan(step, (params, opt_state), batches)
        n = jnp.sum(batches["weight"], axis=1)
        return params, opt_state, jax.tree.map(lambda a: jnp.sum(a * n) / jnp.sum(n), aux)

    @partial(jax.jit, static_argnums=0)
    def _validate(self, params, batch, pair_user, pair_item):
        model = nnx.merge(self.graphdef, params)
        loss = _loss(model, batch, self.rate, self.cfg["l2_lambda"], self.arch.continuous_decoder)[1]
        return loss, _val_outputs(model, batch, pair_user, pair_item, self.arch)

    def epoch(self, batches: dict) -> dict:
        self.params, self.opt_state, aux = self._epoch(self.params, self.opt_state, batches)
        return {k: float(v) for k, v in aux.items()}

    def validate(self, params, val: Validation) -> dict:
        """Validation loss (gate + rating, the early-stopping criterion) and figures.

        val_auc: calibrated gate, validation pairs against uniformly drawn unobserved pairs.
        val_auc_same_user: training-time logits against n_neg unobserved items of the same user.
        """
        loss, m = self._validate(params, val.batch, val.pair_user, val.pair_item)
        nll = float(m["nll"])
        return {
            "val_loss": float(loss["gate"] + loss["rating"]),
            "val_auc": _auc(m["pos"], m["neg_uniform"]),
            "val_auc_same_user": _auc(m["pos_pair"], m["neg_same_user"]),
            "val_accuracy": float(m["accuracy"]),
            "val_nll": None if np.isnan(nll) else nll,
        }


def rating_indices(ratings: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """Index of each rating in the (sorted) vocabulary; every rating must be a vocabulary value."""
    idx = np.searchsorted(vocab, ratings)
    if not np.array_equal(vocab[np.minimum(idx, len(vocab) - 1)], ratings):
        raise ValueError("ratings outside the vocabulary")
    return idx.astype(np.int32)


def train(ds: Prepared, cfg: dict, seed: int, log_every: int = 1) -> tuple[Representation, Architecture, list, dict]:
    """Train Stage I on a prepared split; returns (model with the best epoch's parameters, architecture,
    per-epoch curve rows, validation report)."""
    arch = Architecture.from_config(cfg, ds.n_users, ds.n_items, ds.vocab)
    model = Representation(arch, rngs=nnx.Rngs(stage_key(seed, "stage1")))
    rate = np.bincount(ds.train.user, minlength=ds.n_users) / ds.n_items
    trainer = Trainer(model, arch, cfg, rate)
    sampler = NegativeSampler(ds.train.user, ds.train.item, ds.n_users, ds.n_items)
    train_idx = rating_indices(ds.train.rating, ds.vocab)
    val = Validation.build(ds, rating_indices(ds.val.rating, ds.vocab), arch.n_neg, seed)

    best = {"val_loss": np.inf, "epoch": 0}
    best_params, curve, wait = trainer.params, [], 0
    for epoch in range(1, cfg["epochs"] + 1):
        start = time.perf_counter()
        batches = _batches(ds.train, train_idx, sampler, arch.n_neg, cfg["batch_size"], seed, epoch)
        row = {"epoch": epoch, **trainer.epoch(batches)}
        row.update(trainer.validate(trainer.params, val))
        row["seconds"] = time.perf_counter() - start
        curve.append(row)
        if epoch % log_every == 0:
            log.info("epoch %3d  loss %.4f (gate %.4f, rating %.4f, activity %.4f)  val loss %.4f  AUC %.4f "
                     "(same-user %.4f)  acc %.4f  %.2f s", epoch, row["loss"], row["gate"], row["rating"],
                     row["activity"], row["val_loss"], row["val_auc"], row["val_auc_same_user"],
                     row["val_accuracy"], row["seconds"])
        if row["val_loss"] < best["val_loss"]:
            best, best_params, wait = {"val_loss": row["val_loss"], "epoch": epoch}, trainer.params, 0
        else:
            wait += 1
            if wait >= cfg["early_stop_patience"]:
                log.info("early stop at epoch %d (best %d)", epoch, best["epoch"])
                break
    nnx.update(model, best_params)
    final = trainer.validate(best_params, val)
    times = [r["seconds"] for r in curve[1:]] or [curve[0]["seconds"]]
    report = {
        "best_epoch": best["epoch"],
        "epochs_run": len(curve),
        **final,
        "majority_rate": val.majority_rate,
        "seconds_per_epoch_after_compile": float(np.median(times)),
        "first_epoch_seconds": curve[0]["seconds"],
    }
    return model, arch, curve, report


# --- export / import -------------------------------------------------------------------------


def export(model: Representation, arch: Architecture, curve: list, report: dict, outdir: Path) -> None:
    zu, zi = model.encode()
    np.save(outdir / "user_latents.npy", np.asarray(zu, dtype=np.float32))
    np.save(outdir / "item_latents.npy", np.asarray(zi, dtype=np.float32))
    save_params(model, outdir / "params.npz")
    write_json(outdir / "model.json", dataclasses.asdict(arch))
    pq.write_table(pa.Table.from_pylist(curve), outdir / "curve.parquet", compression="zstd")
    write_json(outdir / "report.json", report)


def load(folder: str | Path) -> tuple[Representation, Architecture]:
    """The trained Stage I model of an artifact folder."""
    folder = Path(folder)
    arch = Architecture.from_json(json.loads((folder / "model.json").read_text()))
    model = Representation(arch, rngs=nnx.Rngs(0))
    return load_params(model, folder / "params.npz"), arch


def run(spec: dict, inputs: dict, outdir: Path) -> None:
    cfg = spec["config"]
    ds = load_prepared(inputs["prepare"])
    model, arch, curve, report = train(ds, cfg, cfg["seed"])
    log.info("best epoch %d: val AUC %.4f, rating accuracy %.4f (majority %.4f), %.3f s/epoch after compile",
             report["best_epoch"], report["val_auc"], report["val_accuracy"], report["majority_rate"],
             report["seconds_per_epoch_after_compile"])
    export(model, arch, curve, report, outdir)
