-- Cells of a continuous outcome (a discount, a price): ethics.continuous.cells_table where the rows live
-- (see ethics/sql/README.md). Rendered by ethics.warehouse.render_continuous_sql; the text runs unchanged on
-- DuckDB and Apache Spark SQL. Placeholders in braces:
--   {source}    the table or view holding the decided rows
--   {groups}    one expression per sensitive attribute (and the control): the group label, banded, '(missing)'
--   {keys}      the attribute names, then the control's
--   {outcome}   the column of the decided amount
--   {realised}  CAST(label column AS DOUBLE), or CAST(NULL AS DOUBLE) without labels
--   {value}     the value of a row: raw_value, or raw_value rounded half to even to the resolution r:
--               steps = FLOOR(q) + (1 when q - FLOOR(q) > 0.5, or = 0.5 and FLOOR(q) is odd), q = raw_value / r,
--               value = steps * r (numpy's np.rint(q) * r; SQL ROUND would round halves away from zero)
--   {sums}      with labels: the sums of label, |value - label| and (value - label)^2; empty otherwise
WITH decided AS (
    SELECT
        {groups},
        CAST({outcome} AS DOUBLE) AS raw_value,
        {realised} AS realised
    FROM {source}
),
valued AS (
    SELECT {keys}, {value} AS value, realised
    FROM decided
)
SELECT
    {keys},
    value,
    COUNT(*) AS leads{sums}
FROM valued
GROUP BY {keys}, value
