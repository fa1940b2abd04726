"""Forms of the admin pages. They parse input; the rules are the models' validators and
annotate/validation.py, the same ones the API and the commands apply. Services do the work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from annotate import endpoints
from annotate.models import Campaign, CrowdSettings, Generator, LiveSettings, User
from annotate.models.live import MAX_BLOCK_ENTRY, MAX_BLOCKLIST
from annotate.services.campaigns import CAMPAIGN_FIELDS
from annotate.services.invitations import (
    MAX_INVITE_CSV_CHARS,
    MAX_INVITES,
    InviteError,
    invite_csv_decode,
)
from annotate.services.participants import CROWD_FIELDS
from annotate.validation import (
    MAX_ASPECT_NAME,
    MAX_ASPECTS,
    MAX_GUIDELINES,
    MAX_IMPORT_BYTES,
    MAX_INLINE_IMPORT_BYTES,
    MAX_TEXT,
    JsonInputError,
    json_loads,
)

# Protocol settings a post may leave out (forms written before there was a choice).
_KEPT_WHEN_LEFT_OUT = (
    "protocol",
    "ranking_k",
    "rating_k",
    "rating_min",
    "rating_max",
    "rating_low_label",
    "rating_high_label",
    "step_split",
    "step_source",
)


class CampaignForm(forms.ModelForm):
    aspects = forms.CharField(
        required=False,
        max_length=MAX_ASPECTS * (MAX_ASPECT_NAME + 2),
        help_text=_("Comma-separated, e.g. helpful, honest, harmless. Each is rated per pair."),
    )

    class Meta:
        model = Campaign
        fields = list(CAMPAIGN_FIELDS)  # one list of admin-settable fields, owned by the service
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 8, "maxlength": MAX_GUIDELINES})}
        help_texts = {"max_pairs_per_prompt": _("0 means no cap.")}
        labels = {
            "min_read_ms_per_1k_chars": _(
                "Minimum read time (ms per 1,000 characters of English, or the same reading time in any script)"
            ),
            "self_id_policy": _("Responses that name a model"),
            "overlap": _("Votes per pair"),
            "lease_seconds": _("Lease (seconds)"),
            "rationale_min_length": _("Rationale minimum length"),
            "allow_both_bad": _("Allow “both bad”"),
            "allow_rewrite": _("Allow raters to rewrite a response"),
            "gold_rate": _("Gold share"),
            "gold_min_accuracy": _("Gold minimum accuracy"),
            "gold_min_answered": _("Gold answers before judging accuracy"),
            "judge_mode": _("AI judge"),
            "ranking_k": _("Responses per set (K, ranking)"),
            "rating_k": _("Responses per unit (rating)"),
            "rating_min": _("Lowest score (rating)"),
            "rating_max": _("Highest score (rating)"),
            "rating_low_label": _("Label of the lowest score"),
            "rating_high_label": _("Label of the highest score"),
            "step_split": _("Split responses into steps (step labels)"),
            "step_pattern": _("Step pattern (regular expression between steps)"),
            "step_source": _("Steps of (step labels)"),
            "step_stop_at_wrong": _("The first wrong step ends the trace"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["aspects"] = ", ".join(self.instance.aspects or [])
        for name in _KEPT_WHEN_LEFT_OUT:
            self.fields[name].required = False

    # The protocol and K may be left out of a post (forms written before there was a choice):
    # a new campaign then takes the defaults and an existing one keeps its own. The model's
    # validators judge a value that is given.
    def clean_protocol(self) -> str:
        return self.cleaned_data.get("protocol") or self.instance.protocol

    def _kept(self, name: str) -> Any:
        value = self.cleaned_data.get(name)
        return getattr(self.instance, name) if value in (None, "") else value

    def clean_ranking_k(self) -> int:
        return self._kept("ranking_k")

    def clean_rating_k(self) -> int:
        return self._kept("rating_k")

    def clean_rating_min(self) -> int:
        return self._kept("rating_min")

    def clean_rating_max(self) -> int:
        return self._kept("rating_max")

    def clean_rating_low_label(self) -> str:
        return self._kept("rating_low_label")

    def clean_rating_high_label(self) -> str:
        return self._kept("rating_high_label")

    def clean_step_split(self) -> str:
        return self.cleaned_data.get("step_split") or self.instance.step_split

    def clean_step_source(self) -> str:
        return self.cleaned_data.get("step_source") or self.instance.step_source

    def clean_aspects(self) -> list[str]:
        # Only the comma-separated parsing; Campaign.aspects' validator judges the list.
        raw = self.cleaned_data.get("aspects") or ""
        return [a.strip() for a in raw.split(",") if a.strip()]

    def settings(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class LiveSettingsForm(forms.ModelForm):
    """A live campaign's settings (annotate/models/live.py), beside the campaign form; read only
    when the protocol is live. The blocklist is one word or /pattern/ per line."""

    blocklist = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_BLOCKLIST * (MAX_BLOCK_ENTRY + 1),
        label=_("Blocked words or /patterns/ in rater messages (one per line)"),
    )

    class Meta:
        model = LiveSettings
        fields = [
            "start",
            "max_turns",
            "max_message_chars",
            "draw",
            "arena_reveal",
            "self_id_policy",
            "rater_token_budget",
            "rater_usd_budget",
            "campaign_token_budget",
            "campaign_usd_budget",
        ]
        labels = {
            "start": _("How a conversation starts"),
            "max_turns": _("Turns per conversation (1 to 20)"),
            "max_message_chars": _("Longest rater message (characters)"),
            "draw": _("Which two generators meet"),
            "arena_reveal": _("Reveal the model names after the last vote (arena)"),
            "self_id_policy": _("A reply that names its model"),
            "rater_token_budget": _("Tokens per rater (0: no limit)"),
            "rater_usd_budget": _("Dollars per rater (0: no limit)"),
            "campaign_token_budget": _("Tokens for the campaign (0: no limit)"),
            "campaign_usd_budget": _("Dollars for the campaign (0: no limit)"),
        }
        help_texts = {"arena_reveal": ""}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "live")
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["blocklist"] = "\n".join(self.instance.blocklist or [])

    def clean_blocklist(self) -> list[str]:
        from annotate.services.live import BlocklistError, blocklist_compile, blocklist_parse

        entries = blocklist_parse(self.cleaned_data.get("blocklist") or "")
        try:
            blocklist_compile(entries)
        except BlocklistError as exc:
            raise forms.ValidationError(str(exc)) from None
        return entries

    def settings(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in [*self.Meta.fields, "blocklist"]}


class _UploadForm(forms.Form):
    max_bytes = MAX_INLINE_IMPORT_BYTES  # imported within the request
    file = forms.FileField(
        help_text=_("JSONL (one JSON object per line) or CSV with a header row."),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".jsonl,.json,.ndjson,.csv", "aria-label": _("File to import")}
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".jsonl", ".json", ".ndjson", ".csv")):
            raise forms.ValidationError(_("Upload a .jsonl or .csv file."))
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                f"The file is larger than {self.max_bytes // 1024 // 1024} MB; split it."
            )
        return upload


class PromptImportForm(_UploadForm):
    max_bytes = MAX_IMPORT_BYTES  # past MAX_INLINE_IMPORT_BYTES a worker imports it
    skip_existing = forms.BooleanField(
        required=False,
        label=_("Skip prompts already in the campaign"),
        help_text=_("Otherwise a repeated prompt is reported as an error."),
    )


class ResponseImportForm(_UploadForm):
    pass


class GeneratorForm(forms.Form):
    provider = forms.ChoiceField(
        choices=[c for c in Generator.Provider.choices if c[0] != Generator.Provider.IMPORTED]
    )
    model = forms.CharField(max_length=200)
    name = forms.CharField(
        max_length=100, required=False, help_text=_("Label for admins; defaults to the model.")
    )
    endpoint = forms.ChoiceField(
        required=False,
        help_text=_("Where calls go, with the key the operator paired with that host."),
    )
    base_url = forms.URLField(
        required=False,
        label=_("Or a base URL without a key"),
        help_text=_("OpenAI-compatible servers that need no key (a local vLLM or Ollama)."),
    )
    params = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='JSON object, e.g. {"temperature": 1.0, "max_tokens": 1024}',
    )
    samples_per_prompt = forms.IntegerField(min_value=1, max_value=32, initial=1)
    system_prompt = forms.CharField(
        required=False, max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean_params(self) -> dict[str, Any]:
        raw = (self.cleaned_data.get("params") or "").strip()
        if not raw:
            return {}
        try:
            value = json_loads(raw)
        except JsonInputError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Give a JSON object, e.g. {}."))
        return value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = endpoint_select()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "provider" in data:
            target_check(self, provider=data["provider"])
        return data


def endpoint_select() -> list[tuple[str, str]]:
    """The operator's endpoints for a select, each with the host its key goes to."""
    return [("", "— none —")] + [(e.name, e.label) for e in endpoints.operator_endpoints().values()]


def target_check(form: forms.Form, *, provider: str) -> None:
    """The endpoint rule (annotate/endpoints.py) next to the fields it is about, on any form with
    ``endpoint`` and ``base_url`` fields; the models check it again."""
    data = form.cleaned_data
    if "endpoint" not in data or "base_url" not in data:
        return
    data["endpoint"], data["base_url"] = endpoints.target_normalized(
        provider=provider, endpoint=data["endpoint"], base_url=data["base_url"]
    )
    for field, message in endpoints.target_errors(
        provider=provider, endpoint=data["endpoint"], base_url=data["base_url"]
    ).items():
        form.add_error(field, message)


class EnrollForm(forms.Form):
    usernames = forms.CharField(
        max_length=10_000, help_text=_("One or more usernames, separated by commas or spaces.")
    )

    def clean_usernames(self) -> list[str]:
        raw = self.cleaned_data["usernames"]
        return [u for u in raw.replace(",", " ").split() if u]


class UnenrollForm(forms.Form):
    username = forms.CharField(max_length=150)


class RaterCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, min_length=8, max_length=128)
    role = forms.ChoiceField(choices=User.Role.choices, initial=User.Role.RATER)
    enroll = forms.BooleanField(
        required=False, initial=True, label=_("Enroll in this campaign right away")
    )


class StatusForm(forms.Form):
    action = forms.ChoiceField(choices=[("open", "Open"), ("pause", "Pause"), ("close", "Close")])


# --- crowd platforms (annotate/views/crowd_admin.py) ---------------------------------------------


class CrowdSettingsForm(forms.ModelForm):
    return_hosts = forms.CharField(
        required=False,
        max_length=2000,
        help_text=_("Hosts a signed link may send participants back to, comma-separated."),
    )

    class Meta:
        model = CrowdSettings
        fields = list(CROWD_FIELDS)  # the service owns the list, as for campaigns
        widgets = {"consent": forms.Textarea(attrs={"rows": 5})}
        labels = {
            "enabled": _("Platform links let participants in"),
            "completion_url": _("Completion URL (the code is appended)"),
            "units_per_participant": _("Pairs per participant"),
            "attention_min_accuracy": _("Attention: minimum gold accuracy"),
            "attention_min_answered": _("Attention: gold answers before judging"),
            "training_units": _("Training pairs per participant"),
            "training_pass": _("Training pass mark (share right)"),
            "prolific_study_id": _("Prolific study id (for returned/timed-out polling)"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["return_hosts"] = ", ".join(self.instance.return_hosts or [])

    def clean_return_hosts(self) -> list[str]:
        raw = self.cleaned_data.get("return_hosts") or ""
        return [h.strip().lower() for h in raw.split(",") if h.strip()]

    def settings(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class JoinLinkForm(forms.Form):
    external_id = forms.CharField(max_length=64, label=_("Participant id"))
    return_url = forms.CharField(max_length=500, label=_("Return URL"))


class TrainingUnitForm(forms.Form):
    pair = forms.IntegerField(min_value=1, label=_("Gold pair id"))
    explanation = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


# --- bulk invitations (annotate/views/invitations.py) --------------------------------------------


class InviteCsvForm(forms.Form):
    """A CSV of raters, as a file or pasted; the rules are services/invitations.py's."""

    file = forms.FileField(
        required=False,
        label=_("CSV file"),
        help_text=_("A header row, then one rater a line: name,email (UTF-8)."),
    )
    text = forms.CharField(
        required=False,
        label=_("…or paste the CSV"),
        max_length=MAX_INVITE_CSV_CHARS,
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": "name,email\nKim Minji,minji@example.org"}
        ),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload, text = data.get("file"), data.get("text") or ""
        if bool(upload) == bool(text.strip()):
            raise forms.ValidationError(_("Give either a CSV file or pasted CSV text."))
        if upload:
            if upload.size > MAX_INVITE_CSV_CHARS * 4:
                raise forms.ValidationError(_("The file is too large."))
            try:
                data["csv"] = invite_csv_decode(upload.read())
            except InviteError as exc:
                raise forms.ValidationError(exc.problems) from None
        else:
            data["csv"] = text
        return data


class InviteAnonymousForm(forms.Form):
    count = forms.IntegerField(
        min_value=1, max_value=MAX_INVITES, label=_("Number of anonymous accounts")
    )
