"""Create the demo: four users, one campaign with prompts and two generators, generation started,
a finished sample campaign whose votes research pages and exports can show from the start, and an
arithmetic campaign for test-time compute (samples with reasoning, judge verdicts and verifier
scores, all offline), whose page shows accuracy against N for every best-of-N method.

Idempotent: running it again prints the logins and changes nothing that exists. With
ANTHROPIC_API_KEY set the generators are Claude models; otherwise the offline demo provider answers.

The demo passwords (`<username>-demo`) are set directly, past Django's password validators (which
`createsuperuser`, the back office and the rater forms apply): they are known to everyone and meant
for a local demo only.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from annotate.models import Campaign, Candidate, Enrollment, Generator, User

DEMO_DIR = Path(settings.BASE_DIR) / "annotate" / "demo_data"
USERS = [
    ("admin", User.Role.ADMIN),
    ("researcher", User.Role.RESEARCHER),
    ("rater1", User.Role.RATER),
    ("rater2", User.Role.RATER),
]
GUIDELINES = """\
## What you are judging

You will see a user's request and **two answers**, A (left) and B (right). Pick the answer that a
thoughtful expert would rather receive.

- **Helpful**: does it actually do what was asked, completely and correctly?
- **Honest**: no invented facts; says so when unsure.
- **Harmless**: no dangerous or hurtful content.

Length is not quality: a short, correct answer beats a long, padded one. Choose **Tie** only when you
truly cannot prefer one, and **Both bad** when neither is acceptable.

Keys: `1` A better · `2` B better · `t` tie · `x` both bad · `?` help.
"""


class Command(BaseCommand):
    help = "Create the demo campaign and users (idempotent) and start generating candidates."

    def handle(self, *args, **options) -> None:
        from annotate.services.generation import generation_start
        from annotate.services.prompts import prompts_import

        users = {}
        for username, role in USERS:
            user, created = User.objects.get_or_create(username=username, defaults={"role": role})
            if created:
                user.set_password(f"{username}-demo")
                user.is_staff = role == User.Role.ADMIN
                user.is_superuser = role == User.Role.ADMIN
                user.save()
            users[username] = user

        campaign = Campaign.objects.filter(slug="demo-helpfulness").first()
        if campaign is None:
            with transaction.atomic():
                campaign = self._create_campaign(users, prompts_import)
            generation_start(campaign=campaign, actor=users["admin"])
            self.stdout.write(self.style.SUCCESS(f"Created the demo campaign “{campaign.title}”."))
        if not Campaign.objects.filter(slug=SAMPLE_SLUG).exists():
            with transaction.atomic():
                sample, votes = _sample_create(admin=users["admin"])
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created “{sample.title}” ({SAMPLE_SLUG}): {votes} votes by "
                    f"{len(SAMPLE_RATERS)} sample raters, ready to export."
                )
            )

        if not Campaign.objects.filter(slug=TTC_SLUG).exists():
            with transaction.atomic():
                ttc_campaign, samples = _ttc_create(admin=users["admin"])
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created “{ttc_campaign.title}” ({TTC_SLUG}): {samples} samples, judged and "
                    f"scored offline; see /campaigns/{TTC_SLUG}/ttc/ for accuracy against N."
                )
            )

        # The protocol demos: each made once, in one transaction, open for the two demo raters.
        raters = [users["rater1"], users["rater2"]]
        for slug, create, said in (
            (
                RANKING_SLUG,
                _ranking_create,
                lambda made, n: (
                    f"Created “{made.title}” ({RANKING_SLUG}): {n} sets of four answers "
                    f"to rank, open for rater1 and rater2 at /campaigns/{RANKING_SLUG}/rank/."
                ),
            ),
            (
                RATING_SLUG,
                _rating_create,
                lambda made, n: (
                    f"Created “{made.title}” ({RATING_SLUG}): {n} units of two answers to "
                    f"score on three aspects, open for rater1 and rater2 at "
                    f"/campaigns/{RATING_SLUG}/rating/."
                ),
            ),
            (
                LIVE_SLUG,
                _live_create,
                lambda made, n: (
                    f"Created “{made.title}” ({LIVE_SLUG}): chat with two anonymous demo "
                    f"models ({n} seed prompts), open for rater1 and rater2 at "
                    f"/campaigns/{LIVE_SLUG}/live/."
                ),
            ),
            (
                STEPS_SLUG,
                _steps_create,
                lambda made, n: (
                    f"Created “{made.title}” ({STEPS_SLUG}): {n} reasoning traces to "
                    f"label step by step, open for rater1 and rater2 at /campaigns/{STEPS_SLUG}/steps/."
                ),
            ),
        ):
            if Campaign.objects.filter(slug=slug).exists():
                continue
            with transaction.atomic():
                made, units = create(admin=users["admin"], raters=raters)
            self.stdout.write(self.style.SUCCESS(said(made, units)))

        self.stdout.write("\nDemo logins (local demo accounts only):")
        for username, role in USERS:
            self.stdout.write(f"  {role.label:<10}  {username:<10}  password: {username}-demo")
        provider = "Claude (ANTHROPIC_API_KEY is set)" if _has_key() else "offline demo candidates"
        self.stdout.write(f"Candidates come from: {provider}.\n")

    def _create_campaign(self, users, prompts_import) -> Campaign:
        from annotate.markdown import render_markdown

        campaign = Campaign.objects.create(
            title="Demo: helpful answers",
            slug="demo-helpfulness",
            guidelines=GUIDELINES,
            guidelines_html=render_markdown(GUIDELINES),
            status=Campaign.Status.OPEN,
            created_by=users["admin"],
        )
        result = prompts_import(
            campaign=campaign,
            file_name="prompts.jsonl",
            data=(DEMO_DIR / "prompts.jsonl").read_bytes(),
        )
        if getattr(result, "errors", None):
            raise RuntimeError(f"demo prompts failed to import: {result.errors}")
        if _has_key():
            specs = [
                ("claude-sonnet", Generator.Provider.ANTHROPIC, settings.ANTHROPIC_DEFAULT_MODEL),
                ("claude-haiku", Generator.Provider.ANTHROPIC, "claude-haiku-4-5"),
            ]
        else:
            specs = [
                ("concise", Generator.Provider.DEMO, "demo-concise"),
                ("thorough", Generator.Provider.DEMO, "demo-thorough"),
            ]
        for name, provider, model in specs:
            Generator.objects.create(
                campaign=campaign,
                name=name,
                provider=provider,
                model=model,
                # The operator's own key, to Anthropic's API (or ANTHROPIC_BASE_URL): no setup.
                endpoint="anthropic" if provider == Generator.Provider.ANTHROPIC else "",
                params={"temperature": 1.0, "max_tokens": 1024},
            )
        for username in ("rater1", "rater2"):
            Enrollment.objects.create(campaign=campaign, rater=users[username])
        return campaign


def _has_key() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_API_KEY_FILE"))


# --- the finished sample: the shipped demo answers, imported, with votes by three sample raters ---
SAMPLE_SLUG = "demo-sample"
SAMPLE_RATERS = ["sample-rater-1", "sample-rater-2", "sample-rater-3"]
SAMPLE_GUIDELINES = """\
A finished sample so that progress, analytics and exports have data from the first minute: the
demo's offline answers, each pair rated by three sample raters. Rate the *Demo: helpful answers*
campaign yourself to collect your own.
"""


def _sample_create(*, admin: User) -> tuple[Campaign, int]:
    """The shipped answers as imported responses, cross-generator pairs, and three votes per pair."""
    from annotate.markdown import render_markdown
    from annotate.services.assignment import assignment_next
    from annotate.services.judgments import judgment_record
    from annotate.services.pairing import pairs_build
    from annotate.services.prompts import prompts_import
    from annotate.services.responses import responses_import

    campaign = Campaign.objects.create(
        title="Demo: a finished sample",
        slug=SAMPLE_SLUG,
        guidelines=SAMPLE_GUIDELINES,
        guidelines_html=render_markdown(SAMPLE_GUIDELINES),
        status=Campaign.Status.OPEN,
        overlap=len(SAMPLE_RATERS),
        created_by=admin,
    )
    prompts = prompts_import(
        campaign=campaign, file_name="prompts.jsonl", data=(DEMO_DIR / "prompts.jsonl").read_bytes()
    )
    rows = [json.loads(line) for line in (DEMO_DIR / "candidates.jsonl").read_text().splitlines()]
    answers = "".join(
        json.dumps({"prompt_id": r["prompt_id"], "model": r["model"], "response": r["text"]}) + "\n"
        for r in rows
    )
    responses = responses_import(
        campaign=campaign, file_name="answers.jsonl", data=answers.encode()
    )
    if getattr(prompts, "errors", None) or getattr(responses, "errors", None):
        raise RuntimeError(
            f"the demo sample failed to import: {prompts.errors or responses.errors}"
        )
    pairs_build(campaign=campaign)

    # Each model's first answer to a prompt is the good one (demo_data/README.md); the sample raters
    # prefer it, and otherwise the longer answer, but not always: each vote and its time on task are
    # drawn from a hash of rater and pair, so the sample has disagreement, ties and "both bad", and
    # is the same on every run. (Votes are dated up to 48 s after their lease was served.)
    votes = 0
    for username in SAMPLE_RATERS:
        rater, _ = User.objects.get_or_create(username=username, defaults={"role": User.Role.RATER})
        rater.set_unusable_password()
        rater.save(update_fields=["password"])
        Enrollment.objects.create(campaign=campaign, rater=rater)
        while (lease := assignment_next(campaign=campaign, rater=rater)) is not None:
            choice, seconds = _sample_vote(lease.pair.candidate_a, lease.pair.candidate_b, username)
            judgment_record(
                assignment=lease,
                rater=rater,
                choice=choice,
                idempotency_key=uuid.uuid4().hex,
                campaign=campaign,
                now=lease.created_at + timedelta(seconds=seconds),  # a plausible time on task
            )
            votes += 1
    campaign.status = Campaign.Status.CLOSED
    campaign.save(update_fields=["status"])
    return campaign, votes


def _sample_vote(a: Candidate, b: Candidate, rater: str) -> tuple[str, float]:
    if a.sample_index != b.sample_index:
        better = "a" if a.sample_index < b.sample_index else "b"
    else:
        better = "a" if len(a.text) >= len(b.text) else "b"
    worse = "b" if better == "a" else "a"
    digest = hashlib.sha256(f"{rater}:{a.pk}:{b.pk}".encode()).digest()
    roll, seconds = digest[0] / 256, 8 + digest[1] / 256 * 40
    if roll < 0.72:
        return better, seconds
    if roll < 0.86:
        return worse, seconds
    return ("tie" if roll < 0.95 else "both_bad"), seconds


# --- ranking: the shipped answers, four per prompt, ranked best to worst ---
RANKING_SLUG = "demo-ranking"
RANKING_GUIDELINES = """\
Rank the four answers from **best to worst**: press their numbers in order (1–4), `=` before a
number to tie it with the previous one, Backspace to take one back, Enter to submit. Drag the
cards with the mouse if you prefer. `f` then a number opens an answer's full text.
"""


def _ranking_create(*, admin: User, raters: list[User]) -> tuple[Campaign, int]:
    """The shipped answers (two models × two samples per prompt) as imported responses, one set of
    four per prompt, two rankings wanted per set; open, with the demo raters enrolled."""
    from annotate.markdown import render_markdown
    from annotate.services.sets import sets_build_report

    campaign = Campaign.objects.create(
        title="Demo: rank four answers",
        slug=RANKING_SLUG,
        guidelines=RANKING_GUIDELINES,
        guidelines_html=render_markdown(RANKING_GUIDELINES),
        protocol=Campaign.Protocol.RANKING,
        ranking_k=4,
        overlap=2,
        rationale=Campaign.Rationale.OPTIONAL,
        created_by=admin,
    )
    _shipped_answers_import(campaign=campaign)
    report = sets_build_report(campaign=campaign)
    for rater in raters:
        Enrollment.objects.get_or_create(campaign=campaign, rater=rater)
    campaign.status = Campaign.Status.OPEN
    campaign.save(update_fields=["status"])
    return campaign, report.created


def _shipped_answers_import(*, campaign: Campaign) -> None:
    """The shipped prompts and their offline answers (two models × two samples per prompt), as
    imported responses."""
    from annotate.services.prompts import prompts_import
    from annotate.services.responses import responses_import

    prompts_import(
        campaign=campaign, file_name="prompts.jsonl", data=(DEMO_DIR / "prompts.jsonl").read_bytes()
    )
    rows = [json.loads(line) for line in (DEMO_DIR / "candidates.jsonl").read_text().splitlines()]
    answers = "".join(
        json.dumps({"prompt_id": r["prompt_id"], "model": r["model"], "response": r["text"]}) + "\n"
        for r in rows
    )
    responses_import(campaign=campaign, file_name="answers.jsonl", data=answers.encode())


# --- rating: the shipped answers, two per unit, each scored overall and on three aspects ---
RATING_SLUG = "demo-rating"
RATING_GUIDELINES = """\
Score each answer from **1 (poor) to 5 (excellent)**: overall, then for how helpful, how correct
and how concise it is. A number key scores the highlighted cell and moves on; the arrows move
between answers and criteria; `r` writes why for the answer (optional); Enter submits.
"""


def _rating_create(*, admin: User, raters: list[User]) -> tuple[Campaign, int]:
    """The shipped answers as imported responses, split into units of two per prompt, each
    unit rated by two raters; open, with the demo raters enrolled."""
    from annotate.markdown import render_markdown
    from annotate.services.sets import sets_build_report

    campaign = Campaign.objects.create(
        title="Demo: score answers on three aspects",
        slug=RATING_SLUG,
        guidelines=RATING_GUIDELINES,
        guidelines_html=render_markdown(RATING_GUIDELINES),
        protocol=Campaign.Protocol.RATING,
        rating_k=2,
        rating_min=1,
        rating_max=5,
        rating_low_label="Poor",
        rating_high_label="Excellent",
        aspects=["helpful", "correct", "concise"],
        overlap=2,
        rationale=Campaign.Rationale.OPTIONAL,
        created_by=admin,
    )
    campaign.full_clean(exclude=["created_by"])
    _shipped_answers_import(campaign=campaign)
    report = sets_build_report(campaign=campaign)
    for rater in raters:
        Enrollment.objects.get_or_create(campaign=campaign, rater=rater)
    campaign.status = Campaign.Status.OPEN
    campaign.save(update_fields=["status"])
    return campaign, report.created


# --- live conversations: two demo models streaming side by side ---
LIVE_SLUG = "demo-live"
LIVE_GUIDELINES = """\
Chat with two anonymous assistants at once: write a message (or start from the suggested prompt),
watch both replies arrive side by side, then choose the better one (`1`/`a` A, `2`/`b` B, `t` tie,
`x` both bad; Enter votes). The conversation continues from the reply you chose, for up to three
turns. The models' names are shown when the conversation ends.
"""


def _live_create(*, admin: User, raters: list[User]) -> tuple[Campaign, int]:
    """Two offline demo models that stream at a model's pace (``tokens_per_second``), the demo
    prompts as seeds (the rater may write their own instead), arena reveal; open, raters in."""
    from annotate.markdown import render_markdown
    from annotate.models import LiveSettings
    from annotate.services.prompts import prompts_import

    campaign = Campaign.objects.create(
        title="Demo: chat with two models (live)",
        slug=LIVE_SLUG,
        guidelines=LIVE_GUIDELINES,
        guidelines_html=render_markdown(LIVE_GUIDELINES),
        protocol=Campaign.Protocol.LIVE,
        allow_rewrite=True,
        rationale=Campaign.Rationale.OPTIONAL,
        created_by=admin,
    )
    prompts_import(
        campaign=campaign, file_name="prompts.jsonl", data=(DEMO_DIR / "prompts.jsonl").read_bytes()
    )
    for name, model, pace in (("concise", "demo-concise", 45), ("thorough", "demo-thorough", 30)):
        Generator.objects.create(
            campaign=campaign,
            name=name,
            provider=Generator.Provider.DEMO,
            model=model,
            params={"tokens_per_second": pace},
        )
    LiveSettings.objects.create(
        campaign=campaign, start=LiveSettings.Start.EITHER, max_turns=3, arena_reveal=True
    )
    for rater in raters:
        Enrollment.objects.get_or_create(campaign=campaign, rater=rater)
    campaign.status = Campaign.Status.OPEN
    campaign.save(update_fields=["status"])
    return campaign, campaign.prompts.count()


# --- step labels: the arithmetic reasoner's traces, paragraph by paragraph ---
STEPS_SLUG = "demo-steps"
STEPS_SAMPLES = 2
STEPS_GUIDELINES = """\
Each answer shows the demo reasoner's working, one paragraph per step. Mark every step **correct**
(`1` or `+`), **neutral** (`2` or `0`: reasonable, but it does not move the solution on) or
**wrong** (`3` or `-`). The first wrong step ends the trace: the steps after it need no label.
`j`/`k` move between steps, `n` writes a note on a step, Enter submits, `?` lists the keys.
"""


def _steps_create(*, admin: User, raters: list[User]) -> tuple[Campaign, int]:
    """The arithmetic prompts, two samples each from the offline demo reasoner, their reasoning
    split by paragraph into step traces, two raters wanted per trace; open, the demo raters in."""
    from annotate.markdown import render_markdown
    from annotate.services.prompts import prompts_import
    from annotate.services.steps import step_units_build_report

    campaign = Campaign.objects.create(
        title="Demo: label the steps of arithmetic",
        slug=STEPS_SLUG,
        guidelines=STEPS_GUIDELINES,
        guidelines_html=render_markdown(STEPS_GUIDELINES),
        protocol=Campaign.Protocol.STEPS,
        step_source=Campaign.StepSource.REASONING,
        step_split=Campaign.StepSplit.PARAGRAPH,
        step_stop_at_wrong=True,
        overlap=2,
        created_by=admin,
    )
    prompts_import(
        campaign=campaign,
        file_name="arithmetic.jsonl",
        data=(DEMO_DIR / "arithmetic.jsonl").read_bytes(),
    )
    generator = Generator.objects.create(
        campaign=campaign,
        name="reasoner",
        provider=Generator.Provider.DEMO,
        model="demo-reasoner",
        samples_per_prompt=STEPS_SAMPLES,
    )
    _arithmetic_samples(campaign=campaign, generator=generator, samples=STEPS_SAMPLES)
    report = step_units_build_report(campaign=campaign)
    for rater in raters:
        Enrollment.objects.get_or_create(campaign=campaign, rater=rater)
    campaign.status = Campaign.Status.OPEN
    campaign.save(update_fields=["status"])
    return campaign, report.created


# --- test-time compute: arithmetic with reference answers, 8 samples each, judged offline ---
TTC_SLUG = "demo-arithmetic"
TTC_SAMPLES = 8
TTC_GUIDELINES = """\
Arithmetic with known answers, for the test-time compute page: each prompt has eight samples from
the offline demo reasoner (with a reasoning trace), ranked by the demo judge and scored by its
verifier. Raters may open a sample's reasoning with `e`.
"""
# Illustrative prices for the offline models (USD per million tokens), so costs show on the page.
TTC_PRICES = {"demo-reasoner": (1, 5), "demo-judge": (1, 5)}


def _ttc_create(*, admin: User) -> tuple[Campaign, int]:
    """Prompts with reference answers, samples written by the demo provider in this process (no
    worker needed), every pair of a prompt's samples judged and every sample scored, then the
    final answers extracted and the best-of-N choices stored."""
    from annotate.markdown import render_markdown
    from annotate.models import CandidateReview, JudgeConfig, JudgeVerdict, ModelPrice
    from annotate.services import pricing
    from annotate.services.judging import judge_pair_run, rubric_current
    from annotate.services.prompts import prompts_import
    from annotate.services.ttc import best_of_n_select, ttc_config_update
    from annotate.services.ttc_reviews import review_run

    for model, (inp, out) in TTC_PRICES.items():
        ModelPrice.objects.get_or_create(
            provider="demo", model=model, defaults={"input_per_mtok": inp, "output_per_mtok": out}
        )
    pricing.price_cache_clear()
    campaign = Campaign.objects.create(
        title="Demo: arithmetic, best of N",
        slug=TTC_SLUG,
        guidelines=TTC_GUIDELINES,
        guidelines_html=render_markdown(TTC_GUIDELINES),
        status=Campaign.Status.DRAFT,
        pairing=Campaign.Pairing.WITHIN_GENERATOR,
        reasoning_for_raters=True,
        created_by=admin,
    )
    result = prompts_import(
        campaign=campaign,
        file_name="arithmetic.jsonl",
        data=(DEMO_DIR / "arithmetic.jsonl").read_bytes(),
    )
    if getattr(result, "errors", None):
        raise RuntimeError(f"the arithmetic prompts failed to import: {result.errors}")
    generator = Generator.objects.create(
        campaign=campaign,
        name="reasoner",
        provider=Generator.Provider.DEMO,
        model="demo-reasoner",
        samples_per_prompt=TTC_SAMPLES,
        params={"temperature": 1.0},
    )
    rows = _arithmetic_samples(campaign=campaign, generator=generator, samples=TTC_SAMPLES)

    JudgeConfig.objects.create(campaign=campaign, provider="demo", model="demo-judge")
    rubric = rubric_current(campaign=campaign)
    by_prompt: dict[int, list[int]] = {}
    for prompt_id, cid in (
        Candidate.objects.filter(generator=generator).order_by("id").values_list("prompt_id", "id")
    ):
        by_prompt.setdefault(prompt_id, []).append(cid)
    verdicts = JudgeVerdict.objects.bulk_create(
        [
            JudgeVerdict(
                campaign=campaign,
                prompt_id=prompt_id,
                candidate_a_id=a,
                candidate_b_id=b,
                rubric=rubric,
                provider="demo",
                model="demo-judge",
            )
            for prompt_id, ids in by_prompt.items()
            for i, a in enumerate(ids)
            for b in ids[i + 1 :]
        ]
    )
    for verdict in verdicts:
        judge_pair_run(verdict_id=verdict.id)
    reviews = CandidateReview.objects.bulk_create(
        [
            CandidateReview(
                campaign=campaign, candidate=c, task="score", provider="demo", model="demo-judge"
            )
            for c in rows
        ]
    )
    for review in reviews:
        review_run(review_id=review.id)
    ttc_config_update(campaign=campaign, actor=admin, answer_rule="convention")
    best_of_n_select(campaign=campaign, actor=admin)
    return campaign, len(rows)


def _arithmetic_samples(*, campaign: Campaign, generator: Generator, samples: int) -> list:
    """``samples`` answers per prompt from the offline demo reasoner (with reasoning traces,
    right or wrong by each prompt's difficulty), written in this process: no worker needed."""
    from annotate.markdown import render_markdown
    from annotate.providers.demo import DemoProvider
    from annotate.reading import reading_length
    from annotate.services import pricing

    provider = DemoProvider()
    price = pricing.price_for(provider="demo", model="demo-reasoner")
    rows = []
    for prompt in campaign.prompts.order_by("id"):
        for i in range(samples):
            c = provider.complete(
                messages=prompt.messages,
                system="",
                model=generator.model,
                params={},
                sample_index=i,
            )
            rows.append(
                Candidate(
                    prompt=prompt,
                    generator=generator,
                    sample_index=i,
                    status=Candidate.Status.DONE,
                    text=c.text,
                    html=render_markdown(c.text),
                    read_length=reading_length(c.text),
                    reasoning=c.reasoning,
                    reasoning_html=render_markdown(c.reasoning),
                    reasoning_tokens=c.reasoning_tokens,
                    reasoning_cost_usd=pricing.cost_usd(
                        price=price, input_tokens=0, output_tokens=c.reasoning_tokens
                    ),
                    stop_reason=c.stop_reason,
                    input_tokens=c.input_tokens,
                    output_tokens=c.output_tokens,
                    cost_usd=pricing.cost_usd(
                        price=price, input_tokens=c.input_tokens, output_tokens=c.output_tokens
                    ),
                    request_id=c.request_id,
                    attempts=1,
                )
            )
    return Candidate.objects.bulk_create(rows)
