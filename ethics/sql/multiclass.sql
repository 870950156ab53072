-- Cells of a next-best-offer model: ethics.multiclass.multiclass_cells where the rows live
-- (see ethics/sql/README.md). Rendered by ethics.warehouse.render_multiclass_sql; the text runs unchanged on
-- DuckDB and Apache Spark SQL. Placeholders in braces:
--   {source}      the table or view holding the scored rows (column offer: the offer made)
--   {groups}      one expression per sensitive attribute: the group label, banded, '(missing)' when NULL
--   {attributes}  the sensitive attribute names
--   {label}       CAST(label AS STRING) (the true best offer), or CAST(NULL AS STRING) without labels
WITH offered AS (
    SELECT
        {groups},
        CAST(offer AS STRING) AS offer,
        {label} AS label
    FROM {source}
)
SELECT
    {attributes},
    offer,
    label,
    COUNT(*) AS leads
FROM offered
GROUP BY {attributes}, offer, label
