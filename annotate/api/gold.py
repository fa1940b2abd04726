"""Gold answers through the API: the same operation as the admin's gold page (views/gold.py), with
the same rules, which live in the model (Pair.Gold, Pair.clean)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.access import campaign_for_admin
from annotate.api.serializers import InputSerializer
from annotate.models import Pair
from annotate.services.gold import pair_gold_set

MAX_ID = 2**63 - 1


class PairGoldApi(APIView):
    class PairGoldInputSerializer(InputSerializer):
        gold = serializers.ChoiceField(
            choices=["", *Pair.Gold.values],
            help_text='In the pair\'s own terms (a = candidate_a); "" makes the pair not gold. '
            '"both_bad" only where the campaign allows it.',
        )

    class PairGoldOutputSerializer(serializers.Serializer):
        pair = serializers.IntegerField()
        gold = serializers.CharField(allow_blank=True)

    @extend_schema(
        request=PairGoldInputSerializer,
        responses={200: PairGoldOutputSerializer},
        operation_id="pairs_gold_set",
    )
    def post(self, request: Request, slug: str, pair_id: int) -> Response:
        campaign = campaign_for_admin(request.user, slug)
        pair = (
            Pair.objects.filter(pk=pair_id, campaign=campaign).first()
            if 0 < pair_id <= MAX_ID
            else None
        )
        if pair is None:
            raise Http404("No such pair")
        serializer = self.PairGoldInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            pair_gold_set(pair=pair, gold=serializer.validated_data["gold"], actor=request.user)
        except DjangoValidationError as exc:
            return Response({"gold": exc.messages}, status=400)
        return Response({"pair": pair.pk, "gold": pair.gold_answer})
