"""Step labels for raters through the API: claim the next trace, submit its labels. The same
services as the step page (annotate/views/steps.py), the same rules (annotate/protocols/steps.py).

Both operations open with ``campaign_for_rater`` (enrolled raters; admins may preview): anyone
else gets 404. A campaign of another protocol answers 409. Raters never see model names,
generators, gold labels, others' votes or the judge.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_rater
from annotate.api.ranking import (
    NEXT_HELP,
    DetailSerializer,
    _MessageSerializer,
    next_unit,
    refusal_response,
)
from annotate.api.serializers import InputSerializer, NoInputSerializer
from annotate.protocols.steps import MAX_STEP_NOTE, MAX_STEPS
from annotate.selectors.steps import step_judge_reveal
from annotate.services.judgments import VoteRefused
from annotate.services.prompts import prompt_rendered_ensure
from annotate.services.sets import set_assignment_next
from annotate.services.steps import step_vote_record
from annotate.validation import MAX_ID


def _not_steps() -> Response:
    return Response(
        {"detail": "This campaign does not label steps (see its protocol).", "code": "protocol"},
        status=status.HTTP_409_CONFLICT,
    )


# Plain shapes for the schema; the rules across items (one label per step, labelled up to the
# first wrong step) are the service's, which names what is wrong.
@extend_schema_field(
    {
        "type": "array",
        "maxItems": MAX_STEPS,
        "items": {"type": "integer", "enum": [1, 0, -1], "nullable": True},
    }
)
class _LabelsField(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.IntegerField(allow_null=True, min_value=-1, max_value=1),
            max_length=MAX_STEPS,
            **kwargs,
        )


class _StepSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="The step's number, 1 … n.")
    text = serializers.CharField(allow_blank=True)
    html = serializers.CharField(allow_blank=True, help_text="Sanitised HTML of the step.")


class _JudgeStepsSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.IntegerField(allow_null=True))
    reasons = serializers.ListField(child=serializers.CharField(allow_blank=True))


class StepsNextApi(APIView):
    """Claim the rater's next trace (or return the live lease: a repeat returns the same trace)."""

    class StepsNextOutputSerializer(serializers.Serializer):
        lease = serializers.IntegerField()
        expires_at = serializers.DateTimeField()
        system = serializers.CharField(allow_blank=True)
        messages = _MessageSerializer(many=True)
        source = serializers.ChoiceField(
            choices=["answer", "reasoning"], help_text="Which text was split into steps."
        )
        steps = _StepSerializer(many=True)
        stop_at_wrong = serializers.BooleanField(
            help_text="True: steps after the first wrong one need no label (sent as null)."
        )

    @extend_schema(
        request=NoInputSerializer,
        responses={
            200: StepsNextOutputSerializer,
            204: None,
            404: DetailSerializer,
            409: DetailSerializer,
        },
        operation_id="steps_next",
        description="204: no trace left for this rater (or the campaign is not open).",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_rater(request.user, slug)
        NoInputSerializer(data=request.data).is_valid(raise_exception=True)
        if not campaign.is_steps:
            return _not_steps()
        lease = set_assignment_next(campaign=campaign, rater=request.user)
        if lease is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(steps_unit(campaign, lease))  # the output serializer's shape


def steps_unit(campaign, lease) -> dict:
    """A step-labels lease as its rater is given it (StepsNextOutputSerializer)."""
    prompt = lease.candidate_set.prompt
    if not prompt.rendered:
        prompt_rendered_ensure(prompt=prompt)
    trace = getattr(lease, "trace", None) or lease.candidate_set.trace
    return {
        "lease": lease.pk,
        "expires_at": lease.expires_at,
        "system": prompt.system,
        "messages": [
            {"role": m.get("role", ""), "content": m.get("content", "")} for m in prompt.messages
        ],
        "source": trace.source,
        "steps": [
            {"number": i + 1, "text": text, "html": html}
            for i, (text, html) in enumerate(zip(trace.steps, trace.steps_html, strict=True))
        ],
        "stop_at_wrong": campaign.step_stop_at_wrong,
    }


class StepsVoteApi(APIView):
    """Submit the labels of a leased trace; the same submit again returns the stored vote."""

    class StepsVoteInputSerializer(InputSerializer):
        lease = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        labels = _LabelsField(
            help_text="One per step: 1 correct, 0 neutral, -1 wrong; null for steps after the "
            "first wrong one when the campaign ends the trace there (checked by the service).",
        )
        notes = serializers.ListField(
            child=serializers.CharField(allow_blank=True, max_length=MAX_STEP_NOTE),
            max_length=MAX_STEPS,
            required=False,
            help_text="One note per step, empty for none (optional).",
        )
        next = serializers.BooleanField(default=False, help_text=NEXT_HELP)

    class StepsVoteOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        lease = serializers.IntegerField()
        replayed = serializers.BooleanField(help_text="True: this lease was already labelled.")
        judge = _JudgeStepsSerializer(
            allow_null=True,
            help_text="The AI judge's labels of this trace, shown only after your vote is stored "
            "and only where the campaign reveals the judge after the vote; else null.",
        )
        next = StepsNextApi.StepsNextOutputSerializer(
            allow_null=True, required=False, help_text="With `next: true`: your next trace."
        )

    @extend_schema(
        request=StepsVoteInputSerializer,
        responses={
            200: StepsVoteOutputSerializer,
            201: StepsVoteOutputSerializer,
            404: DetailSerializer,
            409: DetailSerializer,
        },
        operation_id="steps_vote",
    )
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_for_rater(request.user, slug)
        serializer = self.StepsVoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not campaign.is_steps:
            return _not_steps()
        data = serializer.validated_data
        try:
            vote = step_vote_record(
                lease=data["lease"],
                rater=request.user,
                campaign=campaign,
                labels=data["labels"],
                notes=data.get("notes"),
            )
        except VoteRefused as refused:
            return refusal_response(refused)
        body = {
            "id": vote.pk,
            "lease": data["lease"],
            "replayed": vote.replayed,
            "judge": step_judge_reveal(campaign=campaign, candidate_set_id=vote.candidate_set_id),
        }
        if data["next"]:
            body["next"] = next_unit(request, campaign, steps_unit, vote=vote)
        return Response(body, status=200 if vote.replayed else 201)
