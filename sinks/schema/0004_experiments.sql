-- driftline schema v4: experiments and the version lifecycle. Portable: runs on ClickHouse 18.16,
-- on 24.x+ and on chdb (tests/sinks/test_migration_0004.py runs it on the 18.16 server and on chdb).
--
-- predictions.request_id: event contract v1.1, the request a prediction answered ('' for a v1
-- event). Versions that scored the same request (a shadow) share it; an experiment pairs them.
-- Added at the end with a constant DEFAULT, so older rows read ''.
--
-- experiment_verdicts: one row per evaluation of a challenger against its champion (each closed
-- window of the experiment), with the verdict, its reason, the primary metric's estimate and
-- always-valid interval, each arm's value and sample size, and the guardrails and live checks as
-- JSON. Keyed on the evaluation (experiment, challenger, window, partition), so a replay after
-- a crash replaces its rows instead of duplicating them.
--
-- model_versions: the lifecycle of each version, one row per (model, version, changed_at): the
-- state set at changed_at (active, canary, shadow, promoted, rolled_back, deactivated), why and by
-- whom (a verdict, an acknowledged action webhook, the CLI), and the first and last time the
-- worker saw the version's predictions. The worker rewrites the row of the state it knows as it
-- sees traffic (ReplacingMergeTree keeps the newest updated_at); a state change made elsewhere
-- is a row with a new changed_at, so it is never overwritten by a worker that has not read it
-- yet. The current state of a version is the row with the greatest changed_at; first and last
-- seen are the min and max over its rows (0, the epoch, means unknown).

ALTER TABLE predictions ADD COLUMN request_id String DEFAULT '';

CREATE TABLE IF NOT EXISTS experiment_verdicts (
    experiment String,
    model String,
    champion String,
    challenger String,
    window_start DateTime,
    window_end DateTime,
    verdict String,
    previous String,
    reason String,
    metric String,
    paired UInt8,
    estimate Nullable(Float64),
    lower Nullable(Float64),
    upper Nullable(Float64),
    champion_value Nullable(Float64),
    challenger_value Nullable(Float64),
    n_champion UInt64,
    n_challenger UInt64,
    alpha Float64,
    action String,
    guardrails String,
    checks String,
    kafka_partition UInt32,
    computed_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (model, experiment, challenger, window_start, kafka_partition);

CREATE TABLE IF NOT EXISTS model_versions (
    model String,
    version String,
    state String,
    reason String,
    changed_by String,
    changed_at DateTime,
    first_seen DateTime,
    last_seen DateTime,
    updated_at DateTime
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (model, version, changed_at);
