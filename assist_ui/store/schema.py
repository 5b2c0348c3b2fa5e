"""QA store schema as numbered migrations, one list per dialect (applied in order, once).

Add a migration by appending ``(n+1, [statements])`` to both lists; never edit an applied one.
"""

from __future__ import annotations

_CALLS = """
CREATE TABLE calls (
    call_id         TEXT PRIMARY KEY,
    agent_id        TEXT NOT NULL DEFAULT '',
    customer_id     TEXT NOT NULL DEFAULT '',
    queue           TEXT NOT NULL DEFAULT '',
    language        TEXT NOT NULL DEFAULT '',
    started_at      {real} NOT NULL DEFAULT 0,
    ended_at        {real} NOT NULL DEFAULT 0,
    duration        {real} NOT NULL DEFAULT 0,
    risk_score      {real} NOT NULL DEFAULT 0,
    risk_level      TEXT NOT NULL DEFAULT '',
    reasons         TEXT NOT NULL DEFAULT '[]',
    max_severity    INTEGER NOT NULL DEFAULT 0,
    alert_count     INTEGER NOT NULL DEFAULT 0,
    rules           TEXT NOT NULL DEFAULT '',
    transcript_text TEXT NOT NULL DEFAULT '',
    search_text     TEXT NOT NULL DEFAULT '',
    summary         TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    stored_at       {real} NOT NULL,
    updated_at      {real} NOT NULL
)"""

_ALERTS = """
CREATE TABLE alerts (
    call_id       TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
    alert_id      TEXT NOT NULL,
    rule_id       TEXT NOT NULL DEFAULT '',
    severity      TEXT NOT NULL DEFAULT '',
    severity_rank INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (call_id, alert_id)
)"""

# alert_id '' = the verdict on the whole call; reviews survive a re-delivered summary
_REVIEWS = """
CREATE TABLE reviews (
    call_id     TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
    alert_id    TEXT NOT NULL DEFAULT '',
    verdict     TEXT NOT NULL CHECK (verdict IN ('true_positive', 'false_positive')),
    note        TEXT NOT NULL DEFAULT '',
    reviewer    TEXT NOT NULL,
    reviewed_at {real} NOT NULL,
    PRIMARY KEY (call_id, alert_id)
)"""

_INDEXES = [
    "CREATE INDEX calls_risk ON calls (risk_score DESC, max_severity DESC, started_at DESC)",
    "CREATE INDEX calls_agent ON calls (agent_id, started_at)",
    "CREATE INDEX calls_started ON calls (started_at)",
    "CREATE INDEX alerts_rule ON alerts (rule_id, call_id)",
]


def _v1(real: str) -> list[str]:
    return [_CALLS.format(real=real), _ALERTS, _REVIEWS.format(real=real), *_INDEXES]


# v2: what people did on live calls (alert acknowledgements, supervisor whispers and "help is
# coming", raised hands), kept for audit and shown to QA.  No foreign key to calls: a live call
# reaches the QA store only after it ends, its actions before that.
_LIVE_ACTIONS = """
CREATE TABLE live_actions (
    action_id  TEXT PRIMARY KEY,
    call_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    alert_id   TEXT NOT NULL DEFAULT '',
    actor      TEXT NOT NULL,
    actor_role TEXT NOT NULL DEFAULT '',
    target     TEXT NOT NULL DEFAULT '',
    text       TEXT NOT NULL DEFAULT '',
    at         {real} NOT NULL
)"""


def _v2(real: str) -> list[str]:
    return [_LIVE_ACTIONS.format(real=real), "CREATE INDEX live_actions_call ON live_actions (call_id, at)"]


# v3: the audit trail of recording playback (who listened to which call, when, which
# version: redacted or not). No foreign key: a recording may be played before or without a
# stored summary.
_PLAYBACKS = """
CREATE TABLE playbacks (
    playback_id TEXT PRIMARY KEY,
    call_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    user_role   TEXT NOT NULL DEFAULT '',
    redacted    INTEGER NOT NULL DEFAULT 1,
    at          {real} NOT NULL
)"""


def _v3(real: str) -> list[str]:
    return [_PLAYBACKS.format(real=real), "CREATE INDEX playbacks_call ON playbacks (call_id, at)"]


# v4: a reviewer's override of one scorecard item (the automatic score is recomputed from the
# call and kept; `auto` is the automatic score at the time of the override, for the audit)
_SCORE_OVERRIDES = """
CREATE TABLE score_overrides (
    call_id  TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    score    {real} NOT NULL,
    auto     {real} NOT NULL,
    note     TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL,
    at       {real} NOT NULL,
    PRIMARY KEY (call_id, item_id)
)"""


def _v4(real: str) -> list[str]:
    return [_SCORE_OVERRIDES.format(real=real)]


# v5: agents' "useful / not useful" on a suggestion, one row per user and suggestion (a second
# click replaces the first), for the KB owners' report.  No foreign key, as for live_actions.
_KB_FEEDBACK = """
CREATE TABLE kb_feedback (
    call_id       TEXT NOT NULL,
    suggestion_id TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    user_role     TEXT NOT NULL DEFAULT '',
    useful        INTEGER NOT NULL CHECK (useful IN (0, 1)),
    kind          TEXT NOT NULL DEFAULT '',
    intent        TEXT NOT NULL DEFAULT '',
    title         TEXT NOT NULL DEFAULT '',
    kb_version    TEXT NOT NULL DEFAULT '',
    at            {real} NOT NULL,
    PRIMARY KEY (call_id, suggestion_id, user_id)
)"""


def _v5(real: str) -> list[str]:
    return [_KB_FEEDBACK.format(real=real), "CREATE INDEX kb_feedback_intent ON kb_feedback (intent)"]


# v6: which KB entry (or strategy) a rated suggestion was: several entries can share an intent,
# and the report rates each entry.  Rows stored before it keep entry_id '' (reported by intent).
def _v6(real: str) -> list[str]:
    return ["ALTER TABLE kb_feedback ADD COLUMN entry_id TEXT NOT NULL DEFAULT ''"]


MIGRATIONS: dict[str, list[tuple[int, list[str]]]] = {
    "sqlite": [(1, _v1("REAL")), (2, _v2("REAL")), (3, _v3("REAL")), (4, _v4("REAL")),
               (5, _v5("REAL")), (6, _v6("REAL"))],
    "postgres": [(1, _v1("DOUBLE PRECISION")), (2, _v2("DOUBLE PRECISION")), (3, _v3("DOUBLE PRECISION")),
                 (4, _v4("DOUBLE PRECISION")), (5, _v5("DOUBLE PRECISION")), (6, _v6("DOUBLE PRECISION"))],
}

OVERRIDE_COLUMNS = ("call_id", "item_id", "score", "auto", "note", "reviewer", "at")

PLAYBACK_COLUMNS = ("playback_id", "call_id", "user_id", "user_role", "redacted", "at")

FEEDBACK_COLUMNS = ("call_id", "suggestion_id", "user_id", "user_role", "useful", "kind", "intent", "title",
                    "kb_version", "at", "entry_id")

ACTION_COLUMNS = ("action_id", "call_id", "kind", "alert_id", "actor", "actor_role", "target", "text", "at")

MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at {real} NOT NULL)"


def latest_version(dialect: str) -> int:
    return MIGRATIONS[dialect][-1][0]


# the KB owners' report: how often each KB entry (or strategy) was suggested in stored calls, and
# its feedback; suggestions stored before entry ids existed are grouped by their intent
FEEDBACK_BY_INTENT = (
    "SELECT kind, entry_id, intent, max(title) AS title, sum(useful) AS useful, "
    "count(*) - sum(useful) AS not_useful FROM kb_feedback GROUP BY kind, entry_id, intent"
)
SUGGESTED_BY_INTENT = {
    "sqlite": "SELECT json_extract(s.value, '$.kind') AS kind, "
    "coalesce(json_extract(s.value, '$.entry_id'), '') AS entry_id, json_extract(s.value, '$.intent') AS intent, "
    "max(json_extract(s.value, '$.title')) AS title, count(*) AS suggested "
    "FROM calls, json_each(calls.summary, '$.suggestions') AS s GROUP BY 1, 2, 3",
    "postgres": "SELECT s->>'kind' AS kind, coalesce(s->>'entry_id', '') AS entry_id, s->>'intent' AS intent, "
    "max(s->>'title') AS title, count(*) AS suggested "
    "FROM calls, jsonb_array_elements(calls.summary::jsonb->'suggestions') AS s GROUP BY 1, 2, 3",
}
