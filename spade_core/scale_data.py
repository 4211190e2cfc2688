"""A seeded generator of MovieLens-1M-sized interaction data, for testing SPADE at scale offline.

`generate(...)` draws 6,040 users × 3,706 items × 1,000,209 distinct interactions by default:
user degrees from a power law (Pareto tail, 20 to 62% of the items, like ML-1M), item popularities
from a Zipf-like law, each user's items drawn without replacement with probability ∝ popularity ×
exp(β·⟨u, v⟩) (Gumbel top-k) for latent factors u, v, and ratings 1–5 from the same factors plus
user and item biases and noise, so the data has collaborative structure to learn. It is not MovieLens: it only has its size.

    python -m spade_core.scale_data data/ml1m_sized.parquet   # then use it as a custom dataset
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ML1M = {"n_users": 6040, "n_items": 3706, "n_interactions": 1_000_209}


def _degrees(rng, n: int, total: int, low: int, high: int, tail: float) -> np.ndarray:
    """n integer degrees in [low, high] summing to `total`: low plus a Pareto(tail)-shaped excess."""
    excess = rng.pareto(tail, n)
    deg = np.clip(np.round(low + excess * ((total - n * low) / excess.sum())), low, high).astype(np.int64)
    while (diff := total - deg.sum()) != 0:  # spread the rounding remainder over entities with room
        room = np.flatnonzero(deg < high) if diff > 0 else np.flatnonzero(deg > low)
        pick = rng.choice(room, min(abs(diff), len(room)), replace=False)
        deg[pick] += np.sign(diff)
    return deg


def generate(n_users: int = ML1M["n_users"], n_items: int = ML1M["n_items"],
             n_interactions: int = ML1M["n_interactions"], seed: int = 0, dim: int = 8, beta: float = 1.5,
             chunk: int = 512) -> pd.DataFrame:
    """Columns user, item (1-based ids), rating (1–5), timestamp; exactly `n_interactions` distinct pairs."""
    rng = np.random.default_rng(seed)
    if n_interactions > n_users * n_items:
        raise ValueError("more interactions than user-item pairs")
    low = min(20, n_interactions // n_users)
    degree = _degrees(rng, n_users, n_interactions, low, int(0.62 * n_items), tail=1.3)
    users_f = rng.standard_normal((n_users, dim)) / np.sqrt(dim)
    items_f = rng.standard_normal((n_items, dim)) / np.sqrt(dim)
    log_pop = -0.7 * np.log1p(rng.permutation(n_items))  # Zipf-like popularity, random item order
    users, items = [], []
    for start in range(0, n_users, chunk):
        rows = slice(start, min(start + chunk, n_users))
        score = log_pop + beta * users_f[rows] @ items_f.T + rng.gumbel(size=(rows.stop - rows.start, n_items))
        order = np.argsort(-score, axis=1)
        for r, d in enumerate(degree[rows]):
            users.append(np.full(d, start + r))
            items.append(order[r, :d])
    users, items = np.concatenate(users), np.concatenate(items)
    affinity = np.sum(users_f[users] * items_f[items], axis=1)
    bias_u, bias_i = 0.35 * rng.standard_normal(n_users), 0.35 * rng.standard_normal(n_items)  # harshness, quality
    noise = rng.standard_normal(len(users))
    rating = np.clip(np.round(3.5 + bias_u[users] + bias_i[items] + 2.0 * affinity + 0.9 * noise), 1, 5)
    timestamp = 956_703_932 + rng.integers(0, 90_000_000, len(users))
    return pd.DataFrame({"user": users + 1, "item": items + 1, "rating": rating.astype(np.int64),
                         "timestamp": timestamp})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output .parquet or .csv")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    df = generate(seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix == ".parquet":
        df.to_parquet(args.out, index=False)
    else:
        df.to_csv(args.out, index=False)
    print(f"wrote {len(df):,} interactions ({df.user.nunique():,} users, {df.item.nunique():,} items) to {args.out}")


if __name__ == "__main__":
    main()
