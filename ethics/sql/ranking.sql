-- Cells of call lists worked to a capacity: ethics.ranking.ranking_cells where the rows live
-- (see ethics/sql/README.md). Rendered by ethics.warehouse.render_ranking_sql; the text runs unchanged on
-- DuckDB and Apache Spark SQL. Placeholders in braces:
--   {source}      the table or view holding the scored rows
--   {groups}      one expression per sensitive attribute: the group label, banded, '(missing)' when NULL
--   {attributes}  the sensitive attribute names
--   {lists}       the columns naming a list (team, batch): ranks are within a list
--   {order}       the tie-breaker after score DESC: the rows' input order (a row-number column)
--   {capacity}    k for every list (a whole number), or CAST(capacity AS BIGINT) from the rows
--   {label}       CAST(label AS INT), or CAST(NULL AS INT) without labels
--   {rank_band}   the rank up to the exact ranks (64), then the first rank of its doubling band (65, 129, ...)
WITH ranked AS (
    SELECT
        {groups},
        {label} AS label,
        {capacity} AS capacity,
        ROW_NUMBER() OVER (PARTITION BY {lists} ORDER BY score DESC, {order}) AS rank
    FROM {source}
),
banded AS (
    SELECT
        {attributes},
        {rank_band} AS rank_band,
        CASE WHEN rank <= capacity THEN 1 ELSE 0 END AS selected,
        label,
        CAST(1 AS DOUBLE) / LOG2(CAST(1 AS DOUBLE) + CAST(rank AS DOUBLE)) AS discount
    FROM ranked
)
SELECT
    {attributes},
    rank_band,
    selected,
    label,
    COUNT(*) AS leads,
    SUM(discount) AS discount_sum
FROM banded
GROUP BY {attributes}, rank_band, selected, label
