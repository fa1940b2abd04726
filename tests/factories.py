"""factory_boy factories. `.build()` when no database is needed."""

from __future__ import annotations

import hashlib
import json

import factory
from django.utils import timezone

from annotate import models


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    role = models.User.Role.RATER
    password = factory.django.Password("pw")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Campaign

    title = factory.Sequence(lambda n: f"Campaign {n}")
    slug = factory.Sequence(lambda n: f"campaign-{n}")
    guidelines = "Pick the more **helpful** answer."
    guidelines_html = "<p>Pick the more <strong>helpful</strong> answer.</p>"
    status = models.Campaign.Status.OPEN


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Enrollment

    campaign = factory.SubFactory(CampaignFactory)
    rater = factory.SubFactory(UserFactory)


def _hash(messages) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Prompt

    campaign = factory.SubFactory(CampaignFactory)
    messages = factory.Sequence(lambda n: [{"role": "user", "content": f"Question number {n}?"}])
    content_hash = factory.LazyAttribute(lambda o: _hash(o.messages))
    rendered = factory.LazyAttribute(
        lambda o: [{"role": m["role"], "html": f"<p>{m['content']}</p>"} for m in o.messages]
    )


class GeneratorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Generator

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"gen-{n}")
    provider = models.Generator.Provider.DEMO
    model = "demo-model"


class CandidateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Candidate

    prompt = factory.SubFactory(PromptFactory)
    generator = factory.SubFactory(
        GeneratorFactory, campaign=factory.SelfAttribute("..prompt.campaign")
    )
    sample_index = 0
    status = models.Candidate.Status.DONE
    text = factory.Sequence(lambda n: f"Answer {n}.")
    html = factory.LazyAttribute(lambda o: f"<p>{o.text}</p>")
    finished_at = factory.LazyFunction(timezone.now)


class PairFactory(factory.django.DjangoModelFactory):
    """Two fresh candidates from two generators of one prompt."""

    class Meta:
        model = models.Pair

    campaign = factory.SubFactory(CampaignFactory)
    prompt = factory.SubFactory(PromptFactory, campaign=factory.SelfAttribute("..campaign"))
    candidate_a = factory.SubFactory(CandidateFactory, prompt=factory.SelfAttribute("..prompt"))
    candidate_b = factory.SubFactory(CandidateFactory, prompt=factory.SelfAttribute("..prompt"))
    strategy = models.Campaign.Pairing.CROSS_GENERATOR
    needed = factory.LazyAttribute(lambda o: o.campaign.overlap)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        a, b = kwargs["candidate_a"], kwargs["candidate_b"]
        if a.pk > b.pk:
            kwargs["candidate_a"], kwargs["candidate_b"] = b, a
        return super()._create(model_class, *args, **kwargs)


def ranking_set(*, campaign, k: int = 4, prompt=None, gold=None, part: int = 0):
    """A candidate set of k fresh candidates (one generator each) of one prompt, slots 0..k-1."""
    prompt = prompt or PromptFactory(campaign=campaign)
    candidates = [
        CandidateFactory(prompt=prompt, generator=GeneratorFactory(campaign=campaign))
        for _ in range(k)
    ]
    unit = models.CandidateSet.objects.create(
        campaign=campaign,
        prompt=prompt,
        part=part,
        needed=campaign.overlap,
        gold_ranking=gold or [],
    )
    models.CandidateSetMember.objects.bulk_create(
        models.CandidateSetMember(candidate_set=unit, candidate=c, slot=i)
        for i, c in enumerate(candidates)
    )
    return unit


def step_trace(*, campaign, steps=("Add 2 and 2: 4.", "Double it: 8.", "So 8."), prompt=None):
    """A step unit (a candidate set of one with its stored split) of a fresh candidate."""
    prompt = prompt or PromptFactory(campaign=campaign)
    candidate = CandidateFactory(
        prompt=prompt, generator=GeneratorFactory(campaign=campaign), text="\n\n".join(steps)
    )
    unit = models.CandidateSet.objects.create(
        campaign=campaign, prompt=prompt, candidate=candidate, needed=campaign.overlap
    )
    models.CandidateSetMember.objects.create(candidate_set=unit, candidate=candidate, slot=0)
    models.StepTrace.objects.create(
        candidate_set=unit,
        candidate=candidate,
        source="answer",
        split="paragraph",
        steps=list(steps),
        steps_html=[f"<p>{s}</p>" for s in steps],
    )
    return unit


def judge_verdict(pair, *, choice: str = "a", **fields):
    """A finished judge verdict on a pair (rubric version 1 of its campaign unless given)."""
    rubric = (
        fields.pop("rubric", None)
        or (
            models.JudgeRubric.objects.get_or_create(
                campaign=pair.campaign, version=1, defaults={"text": "Be fair."}
            )[0]
        )
    )
    values = {
        "provider": "demo",
        "model": "demo-judge",
        "status": "done",
        "consistent": choice != "inconsistent",
        "finished_at": timezone.now(),
        **fields,
    }
    return models.JudgeVerdict.objects.create(
        campaign=pair.campaign,
        prompt=pair.prompt,
        pair=pair,
        candidate_a=pair.candidate_a,
        candidate_b=pair.candidate_b,
        rubric=rubric,
        choice=choice,
        **values,
    )
