"""Where a generator's or the judge's calls go, as the API reads it and its schema documents it.

The rule is annotate/endpoints.py's: a key goes only to its own endpoint's base URL, and a base URL
typed in gets no key. Anthropic takes an endpoint of the operator's (``anthropic`` when empty) and
no base URL; an OpenAI-compatible server takes one of the two; the demo calls nothing, so both are
ignored. ``target_shapes`` spells that out as the schema's shapes of an input naming a provider, one
per provider and kind of target, with the endpoints the operator configured when the schema is read.

A base URL is read a little more strictly than Django's URLValidator (which the models apply
again): http or https, then ``localhost``, an IPv4 address or a domain name with a top-level
domain, an optional port and path. That much a pattern can say exactly.
"""

from __future__ import annotations

from drf_spectacular.serializers import PolymorphicProxySerializerExtension
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from annotate import endpoints
from annotate.models import Generator

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
# White space around the URL is trimmed first.
HTTP_URL = (
    rf"^\s*https?://(?:localhost|{_OCTET}(?:\.{_OCTET}){{3}}|(?:{_LABEL}\.)+[A-Za-z]{{2,63}})"
    r"(?::[0-9]{1,5})?(?:[/?#]\S*)?\s*$"
)
MAX_URL = Generator._meta.get_field("base_url").max_length
# One provider each, as the shapes name them (settings.SPECTACULAR_SETTINGS names their enums).
ANTHROPIC = [("anthropic", "Anthropic (Messages API)")]
OPENAI_COMPATIBLE = [("openai_compatible", "OpenAI-compatible server (vLLM, Ollama, …)")]
DEMO = [("demo", "Offline demo")]


def base_url_field(**kwargs) -> serializers.RegexField:
    return serializers.RegexField(
        HTTP_URL,
        max_length=MAX_URL,
        error_messages={"invalid": "Give an http(s) URL, e.g. http://localhost:8000/v1."},
        **kwargs,
    )


def _endpoint_field(names: list[str], *, blank: bool) -> serializers.RegexField:
    """One of ``names`` (or empty when ``blank``), trimmed: a pattern rather than an enum, so the
    shapes of generators and of the judge can share it without naming it twice."""
    choices = "|".join([*([""] if blank else []), *(n.replace(".", r"\.") for n in names)])
    return serializers.RegexField(
        rf"^\s*(?:{choices})\s*$",
        required=not blank,
        allow_blank=blank,
        help_text=f"One of: {', '.join(names) or 'none configured'}"
        + (" (empty: the default)." if blank else "."),
    )


def _blank_field() -> serializers.RegexField:
    return serializers.RegexField(
        r"^\s*$", required=False, allow_blank=True, help_text="Empty: the endpoint's own."
    )


def target_shapes(base: type[serializers.Serializer], name: str) -> list[type]:
    """The shapes of ``base`` (an input with ``provider``, ``endpoint`` and ``base_url``) that the
    rule accepts, named ``<Target><name>Input``."""
    configured = endpoints.operator_endpoints().values()

    def named(provider: str) -> list[str]:
        return [e.name for e in configured if e.provider == provider]

    def shape(target: str, provider: list[tuple[str, str]], doc: str, **fields) -> type:
        fields["provider"] = serializers.ChoiceField(choices=provider)
        return type(f"{target}{name}Input", (base,), {"__doc__": doc, **fields})

    anthropic, openai = ANTHROPIC[0][0], OPENAI_COMPATIBLE[0][0]
    shapes = [
        shape(
            "Anthropic",
            ANTHROPIC,
            "Anthropic's API, through an endpoint of the operator's.",
            endpoint=_endpoint_field(named(anthropic), blank=True),
            base_url=_blank_field(),
        ),
        shape(
            "OpenAIServer",
            OPENAI_COMPATIBLE,
            "An OpenAI-compatible server that needs no key, at the base URL given.",
            endpoint=_blank_field(),
            base_url=base_url_field(help_text="No key is sent to it."),
        ),
        shape(
            "Demo",
            DEMO,
            "The offline demo: endpoint and base URL are not used.",
        ),
    ]
    if named(openai):
        shapes.append(
            shape(
                "OpenAIEndpoint",
                OPENAI_COMPATIBLE,
                "An OpenAI-compatible server, through an endpoint of the operator's.",
                endpoint=_endpoint_field(named(openai), blank=False),
                base_url=_blank_field(),
            )
        )
    return shapes


class ShapesProxySerializer(PolymorphicProxySerializer):
    """drf-spectacular's oneOf of serializers, with ``serializers`` a callable building the shapes
    again whenever the operator's endpoints differ from the last time (drf-spectacular's own
    keeps the first list for good; the same classes must come back while they are the same)."""

    _built_for = None

    @property
    def serializers(self):
        configured = endpoints.operator_endpoints()  # the same object while the settings are
        if self._built_for is not configured:
            self._built, self._built_for = self._serializers(), configured
        return self._built

    @serializers.setter
    def serializers(self, value):
        self._serializers = value


class _ShapesProxySerializerExtension(PolymorphicProxySerializerExtension):
    target_class = ShapesProxySerializer  # drf-spectacular's mapping, for the subclass too
