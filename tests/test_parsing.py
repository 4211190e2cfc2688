import numpy as np
import pandas as pd
import pytest

from spade_core import parsing
from spade_core.parsing import DataError

ML100K_ROWS = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_ml100k_rows_parse_to_typed_columns(tmp_path):
    df = parsing.read_ml100k(write(tmp_path, "u.data", ML100K_ROWS))
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert df["user"].tolist() == [196, 186, 22] and df["rating"].dtype == np.float64
    assert df["timestamp"].dtype == np.int64


def test_ml1m_double_colon_format(tmp_path):
    df = parsing.read_ml1m(write(tmp_path, "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n"))
    assert df["item"].tolist() == [1193, 661] and df["rating"].tolist() == [5.0, 3.0]


def test_ml1m_latin1_titles(tmp_path):
    text = "1::Toy Story (1995)::Animation\n2::Cité des enfants perdus, La (1995)::Adventure|Sci-Fi\n"
    titles = parsing.read_titles(write(tmp_path, "movies.dat", text, "latin-1"), "ml-1m")
    assert titles["title"].tolist()[1] == "Cité des enfants perdus, La (1995)"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("196\tabc\t3\t881250949\n", "line 1: item id 'abc' is not an integer"),
        ("196\t242\t3\t881250949\n186\t302\tgood\t891717742\n", "line 2: rating 'good' is not a finite number"),
        ("196\t242\tnan\t881250949\n", "rating 'nan' is not a finite number"),
        ("196\t242\t3\n", "expected 4 fields"),
        ("196\t242\t3\t881250949\n186\t\t3\t891717742\n", "line 2: missing value in column 'item'"),
        ("196\t242\t3\t881250949\n1\t2\t3\t4\t5\n", "u.data"),
        ("", "empty"),
    ],
)
def test_malformed_movielens_rows_are_named(tmp_path, text, fragment):
    with pytest.raises(DataError) as err:
        parsing.read_ml100k(write(tmp_path, "u.data", text))
    assert fragment in str(err.value)
    assert "u.data" in str(err.value)


def custom_spec(**kw):
    return {"file_format": "csv", "user_col": "user", "item_col": "item", "rating_col": "rating",
            "timestamp_col": None, **kw}


def test_custom_csv_with_half_stars_and_string_ids(tmp_path):
    path = write(tmp_path, "r.csv", "customer,sku,stars\nA17,x-1,4.5\nB2,x-2,0.5\nA17,x-2,3.0\n")
    df = parsing.read_custom(path, custom_spec(user_col="customer", item_col="sku", rating_col="stars"))
    assert df["user"].tolist() == ["A17", "B2", "A17"]
    assert sorted(df["rating"].unique()) == [0.5, 3.0, 4.5]
    assert df["timestamp"].tolist() == [0, 1, 2]  # file order stands in for time


def test_custom_parquet_and_tsv(tmp_path):
    frame = pd.DataFrame({"user": [1, 2], "item": [5, 6], "rating": [1.0, 2.0], "ts": [10, 20]})
    frame.to_parquet(tmp_path / "r.parquet")
    df = parsing.read_custom(tmp_path / "r.parquet", custom_spec(file_format="parquet", timestamp_col="ts"))
    assert df["user"].tolist() == [1, 2] and df["timestamp"].tolist() == [10, 20]
    tsv = write(tmp_path, "r.tsv", "user\titem\trating\n1\t5\t2\n")
    assert parsing.read_custom(tsv, custom_spec(file_format="tsv"))["item"].tolist() == [5]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("user,item,score\n1,2,3\n", "missing column(s) ['rating']"),
        ("user,item,rating\n1,2,\n", "line 2: missing value in column 'rating'"),
        ("user,item,rating\n1,2,3\n1,3,NaN\n", "line 3: rating 'NaN' is not a finite number"),
        ("user,item,rating\n1,2,three\n", "rating 'three'"),
        ("user,item,rating\n", "no interactions"),
    ],
)
def test_malformed_custom_files_are_named(tmp_path, text, fragment):
    with pytest.raises(DataError) as err:
        parsing.read_custom(write(tmp_path, "r.csv", text), custom_spec())
    assert fragment in str(err.value)
