"""A research-scale campaign on PostgreSQL, filled fast (``INSERT … SELECT generate_series``), for
bench/research.py and any benchmark of the researcher's pages (browse and search, analytics).

    from bench.research_seed import seed
    figures = seed(pairs=200_000, votes_per_pair=5, raters=500)   # Django set up on PostgreSQL

One campaign ``research`` (7-point scale, k = votes_per_pair), four generators, one prompt and one
pair per ``pairs`` (each pair: two generators of the four), ``pairs × votes_per_pair`` human votes
from ``raters`` raters (rater ``research-rater-N``, N = 1…raters; a pair's votes come from
distinct raters), a researcher ``research-researcher`` (password ``research-demo``). Texts draw
on a fixed vocabulary of programming topics, so a word such as ``sql`` is in a few percent of the
pairs and phrases are real phrases; one vote in ten has a rationale, one in fifty a rewrite; raters
disagree on about a third of the pairs; a pair in a hundred is flagged and one in fifty is gold.

Foreign-key checks are skipped while filling (``session_replication_role = replica``), but the
search triggers of migration 0020_search are made to fire (``ENABLE ALWAYS`` for the fill, then
back), so the search documents are built the way every write builds them, and their cost is in the
figures returned: seconds per step, and the pair and vote inserts with the triggers' share measured
on the side (the same inserts with the search triggers disabled, on a tenth of the rows).
"""

from __future__ import annotations

import time

TOPICS = [
    "sql", "python", "rust", "kubernetes", "postgres", "react", "security", "docker", "regex",
    "git", "linux", "networking", "cryptography", "compilers", "caching", "testing", "graphql",
    "typescript", "golang", "terraform", "kafka", "redis", "pandas", "numpy", "tensorflow",
    "django", "flask", "nginx", "oauth", "unicode", "concurrency", "memory", "latency", "queues",
    "sorting", "hashing", "recursion", "pointers", "closures", "generics", "macros", "threads",
    "sockets", "parsing", "logging", "metrics", "backups", "indexes", "joins", "migrations",
]  # fmt: skip
ISSUES = [
    "injection", "timeouts", "deadlocks", "leaks", "overflow", "race conditions", "slow queries",
    "bad encoding", "off-by-one errors", "null pointers", "flaky tests", "version conflicts",
]  # fmt: skip

_SETUP = """
INSERT INTO annotate_user (password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined, role)
SELECT '!', false, 'research-rater-' || i, '', '', '', false, true, now(), 'rater'
FROM generate_series(1, {raters}) AS i;

INSERT INTO annotate_campaign (title, slug, guidelines, guidelines_html, status, scale,
    allow_both_bad, aspects, rationale, rationale_min_length, allow_rewrite,
    min_read_ms_per_1k_chars, overlap, lease_seconds, ordering, protocol, ranking_k, rating_k,
    rating_min, rating_max, rating_low_label, rating_high_label, pairing, max_pairs_per_prompt,
    self_id_policy, gold_rate, gold_min_accuracy, gold_min_answered, judge_mode, created_at,
    reasoning_for_raters, step_split, step_pattern, step_source, step_stop_at_wrong)
VALUES ('Research scale', 'research', 'Pick the better answer.', '', 'open', 'graded7', true,
    '[]', 'optional', 0, true, 0, {k}, 600, 'finish_started', 'pairwise', 4, 4, 1, 7, '', '',
    'cross_generator', 6, 'hide', 0, 0, 5, 'off', now(), false, 'paragraph', '', 'answer', false);

INSERT INTO annotate_generator (campaign_id, name, provider, model, base_url, endpoint, params,
                                system_prompt, samples_per_prompt, created_at)
SELECT c.id, g.name, 'demo', g.name || '-model', '', '', '{{}}', '', 1, now()
FROM annotate_campaign c, (VALUES ('gen-a'), ('gen-b'), ('gen-c'), ('gen-d')) AS g(name)
WHERE c.slug = 'research';

INSERT INTO annotate_enrollment (campaign_id, rater_id, paused, paused_reason, votes, created_at)
SELECT c.id, u.id, false, '', 0, now() FROM annotate_campaign c, annotate_user u
WHERE c.slug = 'research' AND u.username LIKE 'research-rater-%';
"""

# {topics} and {issues} are SQL arrays; t(i) picks a topic by a multiplicative hash of i.
_PROMPTS = """
INSERT INTO annotate_prompt (campaign_id, external_id, messages, system, metadata, content_hash,
                             rendered, created_at)
SELECT c.id, 'p' || i,
       jsonb_build_array(jsonb_build_object('role', 'user', 'content',
           'Question ' || i || ': how do I avoid ' || {issues}[1 + (i * 7) % {n_issues}]
           || ' with ' || {topics}[1 + (i * 13) % {n_topics}] || ' when I also use '
           || {topics}[1 + (i * 31) % {n_topics}] || '? Please explain step by step.')),
       CASE WHEN i % 10 = 0 THEN 'Be concise.' ELSE '' END,
       '{{}}', md5('research' || i), '[]', now()
FROM annotate_campaign c, generate_series(1, {pairs}) AS i WHERE c.slug = 'research';

INSERT INTO annotate_candidate (prompt_id, generator_id, sample_index, status, text, html,
    stop_reason, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd,
    request_id, error, attempts, self_identifies, reasoning, reasoning_html, reasoning_tokens,
    reasoning_cost_usd, final_answer, answer_rule, duplicate_of_id, finished_at)
SELECT p.id, g.id, 0, 'done',
       'With ' || {topics}[1 + (p.id * 13) % {n_topics}] || ', ' || {issues}[1 + (p.id * 7) % {n_issues}]
       || ' usually come from ' || {topics}[1 + (p.id * 17 + g.id) % {n_topics}] || '. '
       || repeat('Check the inputs, measure first, then change one thing at a time. ', (1 + (p.id + g.id) % 4)::int)
       || 'Answer ' || g.name || ' ' || p.id || '.',
       '', 'end_turn', 20, 80, 0, 0, 0.0001, '', '', 1, false, '', '', 0, 0, '', '', NULL, now()
FROM annotate_prompt p
JOIN annotate_campaign c ON c.id = p.campaign_id AND c.slug = 'research'
JOIN annotate_generator g ON g.campaign_id = p.campaign_id
  AND g.name IN ((ARRAY['gen-a','gen-b','gen-c','gen-d'])[1 + p.id % 4],
                 (ARRAY['gen-a','gen-b','gen-c','gen-d'])[1 + (p.id + 1 + p.id / 4 % 3) % 4]);
"""

_PAIRS = """
INSERT INTO annotate_pair (campaign_id, prompt_id, candidate_a_id, candidate_b_id, strategy,
    gold_answer, needed, assigned, completed, left_a_count, random_key, priority, excluded,
    created_at)
SELECT p.campaign_id, p.id, min(c.id), max(c.id), 'cross_generator',
       CASE WHEN p.id % 50 = 0 THEN 'a' ELSE '' END, {k}, {k}, {k}, 0, random(), 0, false, now()
FROM annotate_prompt p
JOIN annotate_campaign cp ON cp.id = p.campaign_id AND cp.slug = 'research'
JOIN annotate_candidate c ON c.prompt_id = p.id
WHERE p.id % {every} = 0
GROUP BY p.campaign_id, p.id;
"""

# Vote j (0…k-1) of pair p is by rater 1 + (p*k + j) % raters: k distinct raters per pair.
_VOTES = """
INSERT INTO annotate_judgment (campaign_id, pair_id, rater_id, source, choice, strength, aspects,
    rationale, rewrite, left_is_a, time_on_task_ms, judge_shown, created_at)
SELECT pr.campaign_id, pr.id, r.first_id + (pr.id * {k} + j) % {raters}, 'human',
       CASE WHEN pr.id % 3 = 0 AND j = 0 THEN 'b'
            ELSE (ARRAY['a', 'a', 'a', 'b', 'tie', 'both_bad'])[1 + pr.id % 6] END,
       CASE WHEN pr.id % 6 < 4 THEN 1 + (pr.id + j) % 3 ELSE 0 END,
       '{{}}',
       CASE WHEN (pr.id + j) % 10 = 0 THEN 'The second answer ignores ' ||
            {issues}[1 + (pr.id * 7 + j) % {n_issues}] || ' in ' || {topics}[1 + (pr.id + j) % {n_topics}]
            || '; the first one explains it.' ELSE '' END,
       CASE WHEN (pr.id + j) % 50 = 1 THEN 'A better answer: measure ' ||
            {topics}[1 + (pr.id * 3) % {n_topics}] || ' first.' ELSE '' END,
       (pr.id + j) % 2 = 0, 2000 + (pr.id * 37 + j * 101) % 60000, false, now()
FROM annotate_pair pr
JOIN annotate_campaign c ON c.id = pr.campaign_id AND c.slug = 'research'
CROSS JOIN generate_series(0, {k} - 1) AS j
CROSS JOIN (SELECT min(id) AS first_id FROM annotate_user
            WHERE username LIKE 'research-rater-%') AS r
WHERE pr.id % {every} = 0;
"""

_FLAGS = """
INSERT INTO annotate_pairflag (pair_id, rater_id, reason, note, created_at)
SELECT pr.id, (SELECT min(id) FROM annotate_user WHERE username LIKE 'research-rater-%'),
       'broken', '', now()
FROM annotate_pair pr JOIN annotate_campaign c ON c.id = pr.campaign_id AND c.slug = 'research'
WHERE pr.id % 100 = 7;
"""

_SEARCH_TRIGGERS = {
    "annotate_pair": ["pairsearch_pair_insert"],
    "annotate_judgment": ["pairsearch_judgment_insert"],
}


def _sql(template: str, **values) -> str:
    topics = "(ARRAY[" + ", ".join(f"'{t}'" for t in TOPICS) + "])"
    issues = "(ARRAY[" + ", ".join(f"'{t}'" for t in ISSUES) + "])"
    return template.format(
        topics=topics, issues=issues, n_topics=len(TOPICS), n_issues=len(ISSUES), **values
    )


def _triggers(cursor, state: str) -> None:
    for table, names in _SEARCH_TRIGGERS.items():
        for name in names:
            cursor.execute(f"ALTER TABLE {table} {state} TRIGGER {name}")


def seed(*, pairs: int = 200_000, votes_per_pair: int = 5, raters: int = 500) -> dict:
    """Fill the current (empty, migrated) PostgreSQL database; returns seconds per step and the
    search triggers' share of the pair and vote inserts."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from annotate.models import Campaign
    from annotate.services.campaign_stats import candidates_measure

    if raters < votes_per_pair:
        raise ValueError("each vote of a pair needs its own rater")
    figures: dict[str, float] = {}
    values = {"pairs": int(pairs), "k": int(votes_per_pair), "raters": int(raters)}

    def step(name: str, sql: str) -> None:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql)
        figures[name] = time.perf_counter() - started

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        step("setup", _sql(_SETUP, **values))
        step("prompts and candidates", _sql(_PROMPTS, **values))
        # What every write path does (Candidate.read_length), done for the rows the SQL wrote.
        started = time.perf_counter()
        candidates_measure(campaign_id=Campaign.objects.get(slug="research").id)
        figures["reading lengths"] = time.perf_counter() - started
        # The triggers' share, on a tenth of the pairs, inserted once without them (then undone).
        cursor.execute("SAVEPOINT without_search")
        _triggers(cursor, "DISABLE")
        step("pairs/10, no search trigger", _sql(_PAIRS, every=10, **values))
        step("votes/10, no search trigger", _sql(_VOTES, every=10, **values))
        cursor.execute("ROLLBACK TO SAVEPOINT without_search")
        _triggers(cursor, "ENABLE ALWAYS")
        step("analyze", "ANALYZE annotate_prompt, annotate_candidate")
        step("pairs/10, search trigger", _sql(_PAIRS, every=10, **values))
        step("votes/10, search trigger", _sql(_VOTES, every=10, **values))
        cursor.execute("ROLLBACK TO SAVEPOINT without_search")
        _triggers(cursor, "ENABLE ALWAYS")
        step("pairs", _sql(_PAIRS, every=1, **values))
        # Fresh statistics before the votes: the triggers' per-pair subqueries are planned on them
        # (on a table the planner believes empty, each would scan every vote).
        step(
            "analyze before votes", "ANALYZE annotate_pair, annotate_judgment, annotate_pairsearch"
        )
        step("votes", _sql(_VOTES, every=1, **values))
        _triggers(cursor, "ENABLE")
        step("flags", _sql(_FLAGS, **values))
    step("analyze", "ANALYZE")
    researcher = get_user_model().objects.create_user(
        "research-researcher", password="research-demo", role="researcher"
    )
    figures["researcher_id"] = researcher.id
    return figures
