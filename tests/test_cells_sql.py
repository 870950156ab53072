"""The cells SQL of the other outcome types: pandas ≡ DuckDB ≡ Spark, and cells from SQL assess like rows.

For each of continuous, multiclass and ranking, the same seeded rows (missing attributes,
a banded numeric attribute) go through the engine's own pandas function, the rendered
SQL on DuckDB over Parquet and the same SQL on Spark in local mode; the three cells
tables must be equal (counts exactly, sums to 1e-9), and the assessment of the DuckDB
cells must equal the assessment of the rows.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from ethics import continuous, multiclass, ranking, warehouse
from ethics.errors import ValidationError

ATTRIBUTES = ["sex", "age"]
BANDS = {"age": [25, 35, 50]}
ROWS = 3_000
OFFERS = [{"name": "none", "label": "No offer", "value": 0.0}, {"name": "trial", "label": "Trial", "value": 40.0},
          {"name": "discount", "label": "Discount", "value": 25.0}]
OFFER_NAMES = [o["name"] for o in OFFERS]
RESOLUTION = 0.5
INTEGERS = {"leads", "selected", "rank_band"}


def base_rows(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(np.array(["female", "male", "non-binary", None], dtype=object), ROWS, p=[0.45, 0.45, 0.05, 0.05])
    age = rng.integers(18, 80, ROWS).astype(float)
    age[rng.random(ROWS) < 0.05] = np.nan
    return pd.DataFrame({"sex": sex, "age": age, "row_number": np.arange(ROWS)})


def continuous_rows() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    frame = base_rows()
    discount = np.clip(12 + rng.normal(0, 4, ROWS), 0, 30)
    # A tenth of the values are exact halves of the 0.5 step (x.25, x.75): numpy rounds them to even.
    halves = rng.random(ROWS) < 0.1
    discount[halves] = np.floor(discount[halves]) + rng.choice([0.25, 0.75], int(halves.sum()))
    return frame.assign(discount=discount, realised=discount + rng.normal(0.2, 1.5, ROWS),
                        deal_size=rng.choice(["large", "medium", "small"], ROWS))


def multiclass_rows() -> pd.DataFrame:
    rng = np.random.default_rng(12)
    return base_rows().assign(offer=rng.choice(OFFER_NAMES, ROWS), label=rng.choice(OFFER_NAMES, ROWS))


def ranking_rows() -> pd.DataFrame:
    rng = np.random.default_rng(13)
    return base_rows().assign(team=rng.choice(["north", "south", "west"], ROWS), batch=rng.choice(["d1", "d2"], ROWS),
                              score=rng.random(ROWS).round(2),  # ties, broken by row_number
                              label=(rng.random(ROWS) < 0.3).astype(int))


CASES = {
    "continuous": (continuous_rows,
                   lambda f: continuous.cells_table(f, outcome="discount", attributes=ATTRIBUTES, label="realised",
                                                    control="deal_size", bands=BANDS, resolution=RESOLUTION),
                   {"attributes": ATTRIBUTES, "outcome": "discount", "label": "realised", "control": "deal_size",
                    "bands": BANDS, "resolution": RESOLUTION},
                   [*ATTRIBUTES, "deal_size", "value"]),
    "multiclass": (multiclass_rows,
                   lambda f: multiclass.multiclass_cells(f, attributes=ATTRIBUTES, classes=OFFERS, bands=BANDS),
                   {"attributes": ATTRIBUTES, "bands": BANDS},
                   [*ATTRIBUTES, "offer", "label"]),
    "ranking": (ranking_rows,
                lambda f: ranking.ranking_cells(f, attributes=ATTRIBUTES, capacity=40, bands=BANDS),
                {"attributes": ATTRIBUTES, "capacity": 40, "bands": BANDS},
                [*ATTRIBUTES, "rank_band", "selected", "label"]),
}


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cells")
    paths = {}
    for kind, (make, *_) in CASES.items():
        paths[kind] = folder / f"{kind}.parquet"
        make().to_parquet(paths[kind], index=False)
    return paths


def ordered(cells: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Cells in key order with plain dtypes, so tables from different engines compare."""
    out = pd.DataFrame({column: cells[column].to_numpy(dtype=object) for column in cells.columns})
    for column in out.columns:
        if column in INTEGERS or (column == "label" and out[column].notna().all()
                                  and all(isinstance(v, int | np.integer) for v in out[column])):
            out[column] = out[column].astype(np.int64)
        elif column.endswith("_sum") or column == "value":
            out[column] = out[column].astype(np.float64)
    return out.sort_values(keys, key=lambda s: s.astype(str)).reset_index(drop=True)


def assert_same_cells(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> None:
    left, right = ordered(left, keys), ordered(right, keys)
    assert list(left.columns) == list(right.columns)
    exact = [c for c in left.columns if not c.endswith("_sum")]
    pd.testing.assert_frame_equal(left[exact], right[exact], check_dtype=False)
    for column in (c for c in left.columns if c.endswith("_sum")):
        np.testing.assert_allclose(left[column], right[column], rtol=1e-9, atol=1e-9, err_msg=column)


def duckdb_cells(kind: str, path) -> pd.DataFrame:
    return warehouse.duckdb_cells(kind, path, memory_limit="256MB", threads=1, **CASES[kind][2])


@pytest.mark.parametrize("kind", list(CASES))
def test_pandas_and_duckdb_give_the_same_cells(kind, parquet):
    make, pandas_cells, _, keys = CASES[kind]
    by_pandas = pandas_cells(pd.read_parquet(parquet[kind]))
    by_duckdb = duckdb_cells(kind, parquet[kind])
    assert list(by_duckdb.columns) == list(by_pandas.columns)
    assert by_duckdb["leads"].sum() == ROWS
    assert_same_cells(by_pandas, by_duckdb, keys)
    assert (by_pandas[ATTRIBUTES] == "(missing)").any().all()  # the missing groups are in the cells


@pytest.mark.slow
def test_spark_gives_the_same_cells(parquet, spark):
    for kind, (_, pandas_cells, options, keys) in CASES.items():
        spark.read.parquet(str(parquet[kind])).createOrReplaceTempView("scored_leads")
        sql = warehouse.render_cells_sql(kind, **options)
        # pyspark's toPandas() disagrees with pandas 3: collect() the cells instead.
        by_spark = pd.DataFrame([row.asDict() for row in spark.sql(sql).collect()])
        assert_same_cells(pandas_cells(pd.read_parquet(parquet[kind])), by_spark, keys)
    values = [0.25, 0.75, 1.25, -0.25, -0.75, 2.5, 3.5, -2.5, 0.2499, 0.7501, 10.0]
    spark.createDataFrame([(v,) for v in values], "raw_value DOUBLE").createOrReplaceTempView("halves")
    rounded = spark.sql(f"SELECT {warehouse.half_even_sql('raw_value', RESOLUTION)} AS v FROM halves").collect()
    np.testing.assert_array_equal([row.v for row in rounded], np.rint(np.array(values) / RESOLUTION) * RESOLUTION)


def test_continuous_cells_from_duckdb_assess_like_the_rows(parquet):
    rows = pd.read_parquet(parquet["continuous"])
    options = {"attributes": ATTRIBUTES, "unit": "% discount", "control": "deal_size", "resamples": 50, "seed": 3}
    from_rows = continuous.assess_continuous(rows, outcome="discount", label="realised", bands=BANDS,
                                             resolution=RESOLUTION, **options)
    from_sql = continuous.assess_continuous_cells(duckdb_cells("continuous", parquet["continuous"]), **options)
    assert from_sql == from_rows


def test_multiclass_cells_from_duckdb_assess_like_the_rows(parquet):
    rows = pd.read_parquet(parquet["multiclass"])
    options = {"attributes": ATTRIBUTES, "classes": OFFERS, "resamples": 50, "seed": 3}
    from_rows = multiclass.assess_multiclass(rows, bands=BANDS, **options)
    assert multiclass.assess_multiclass_cells(duckdb_cells("multiclass", parquet["multiclass"]), **options) == from_rows


def test_ranking_cells_from_duckdb_assess_like_the_rows(parquet):
    rows = pd.read_parquet(parquet["ranking"])
    options = {"attributes": ATTRIBUTES, "resamples": 50, "seed": 3}
    from_rows = ranking.assess_ranking(rows, capacity=40, bands=BANDS, **options)
    from_sql = ranking.assess_ranking_cells(duckdb_cells("ranking", parquet["ranking"]), **options)
    assert from_sql == from_rows


def test_halves_round_to_even_as_numpy_does_not_away_from_zero():
    values = np.array([0.25, 0.75, 1.25, -0.25, -0.75, 2.5, 3.5, -2.5, 0.2499, 0.7501, 10.0])
    expected = np.rint(values / RESOLUTION) * RESOLUTION
    connection = duckdb.connect()
    connection.register("scored_leads", pd.DataFrame({"raw_value": values}))
    half_even = connection.sql(f"SELECT {warehouse.half_even_sql('raw_value', RESOLUTION)} AS v FROM scored_leads")
    np.testing.assert_array_equal(np.asarray(half_even.fetchnumpy()["v"]), expected)
    # SQL's ROUND takes halves away from zero: 0.25 / 0.5 = 0.5 would become 1 (0.5), not 0.
    away = connection.sql("SELECT ROUND(raw_value / 0.5) * 0.5 AS v FROM scored_leads").fetchnumpy()["v"]
    assert float(away[0]) == 0.5 and expected[0] == 0.0
    assert float(away[1]) == 1.0 and expected[1] == 1.0  # 1.5 steps: both give 2 steps


def test_rank_bands_in_sql_are_the_dashboards(parquet):
    ranks = np.concatenate([np.arange(1, 3_000), [2**20, 2**20 + 1, 64 * 2**31, 64 * 2**31 + 1]])
    connection = duckdb.connect()
    connection.register("r", pd.DataFrame({"rank": ranks}))
    ours = connection.sql(f"SELECT {warehouse.rank_band_sql('rank', exact=64)} AS b FROM r").fetchnumpy()["b"]
    np.testing.assert_array_equal(np.asarray(ours), ranking.rank_bands(ranks))


def test_unknown_kinds_and_bad_options_are_refused():
    with pytest.raises(ValidationError, match="unknown"):
        warehouse.render_cells_sql("survival", attributes=ATTRIBUTES)
    with pytest.raises(ValidationError, match="resolution"):
        warehouse.render_continuous_sql(attributes=ATTRIBUTES, outcome="discount", resolution=0)
    with pytest.raises(ValidationError, match="capacity"):
        warehouse.render_ranking_sql(attributes=ATTRIBUTES, capacity=-1)
    with pytest.raises(ValidationError, match="attribute"):
        warehouse.render_multiclass_sql(attributes=[])
