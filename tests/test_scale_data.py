import numpy as np

from spade_core import scale_data


def test_exact_size_distinct_pairs_and_ratings():
    df = scale_data.generate(n_users=300, n_items=200, n_interactions=12_000, seed=1)
    assert len(df) == 12_000 and not df.duplicated(["user", "item"]).any()
    assert df.user.nunique() == 300 and df.user.min() == 1 and df.item.max() <= 200
    assert set(df.rating.unique()) <= {1, 2, 3, 4, 5}
    degree = df.user.value_counts()
    assert degree.min() >= 20 and degree.max() > 3 * degree.median()  # heavy-tailed


def test_ratings_follow_the_latent_structure_and_seed():
    a = scale_data.generate(n_users=300, n_items=200, n_interactions=12_000, seed=2)
    assert a.equals(scale_data.generate(n_users=300, n_items=200, n_interactions=12_000, seed=2))
    # Users' mean ratings differ far more than rating noise alone would make them.
    means = a.groupby("user").rating.mean()
    assert means.std() > 1.5 * a.rating.std() / np.sqrt(a.user.value_counts().median())  # measured 1.8x
