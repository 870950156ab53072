-- Sufficient statistics of one dataset of one model version (see ethics/sql/README.md).
-- Render it for a model with `python -m ethics sql --model ID --version V --data eval|scores`;
-- the rendered text runs unchanged on DuckDB and Apache Spark SQL. Placeholders in braces:
--   {source}      the table or view holding the scored rows
--   {dataset}     eval (labelled rows) or scores (a scoring batch)
--   {groups}      one expression per sensitive attribute: the group label, banded, '(missing)' when NULL
--   {attributes}  the sensitive attribute names
--   {team}        CAST(team AS STRING), or CAST(NULL AS STRING) without consent coverage per team
--   {consent}     consent_status, or CAST(NULL AS STRING) when the rows carry no consent state
--   {label}       CAST(label AS INT), or CAST(NULL AS INT) for a scoring batch
--   {threshold}   the registered decision threshold: score >= threshold is selected
--   {bins}        the number of equal-width score bins on [0, 1]
WITH cells AS (
    SELECT
        {groups},
        {team} AS team,
        {consent} AS consent_status,
        {label} AS label,
        CASE WHEN score >= CAST({threshold} AS DOUBLE) THEN 1 ELSE 0 END AS selected,
        CASE WHEN score >= 1 THEN {bins} - 1 ELSE CAST(FLOOR(score * {bins}) AS INT) END AS score_bin,
        CAST(score AS DOUBLE) AS score
    FROM {source}
)
SELECT
    '{dataset}' AS dataset,
    {attributes},
    team,
    consent_status,
    label,
    selected,
    score_bin,
    COUNT(*) AS leads,
    SUM(score) AS score_sum,
    SUM(COUNT(*)) OVER () AS dataset_leads,
    CAST({threshold} AS DOUBLE) AS threshold,
    {bins} AS bins
FROM cells
GROUP BY {attributes}, team, consent_status, label, selected, score_bin
