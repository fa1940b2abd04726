"""Django admin as a back office: look things up, fix a row by hand. Day-to-day work happens in
the app's own pages, which go through the services (validation, rendering, pairing)."""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from annotate import models


@admin.register(models.User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Role", {"fields": ("role",)}))
    add_fieldsets = (*BaseUserAdmin.add_fieldsets, ("Role", {"fields": ("role",)}))


class EnrollmentInline(admin.TabularInline):
    model = models.Enrollment
    extra = 0
    raw_id_fields = ("rater",)


class GeneratorInline(admin.TabularInline):
    model = models.Generator
    extra = 0
    fields = ("name", "provider", "model", "samples_per_prompt")


@admin.register(models.Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "status", "pairing", "overlap", "created_at")
    list_filter = ("status", "pairing", "scale", "judge_mode")
    search_fields = ("title", "slug")
    readonly_fields = ("guidelines_html", "created_at")
    inlines = [GeneratorInline, EnrollmentInline]


@admin.register(models.Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("campaign", "rater", "paused", "created_at")
    list_filter = ("paused", "campaign")
    search_fields = ("rater__username", "campaign__slug")
    raw_id_fields = ("rater", "campaign")


@admin.register(models.Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "external_id", "short_text", "created_at")
    list_filter = ("campaign",)
    search_fields = ("external_id", "content_hash")
    readonly_fields = ("content_hash", "rendered", "created_at")
    raw_id_fields = ("campaign",)

    @admin.display(description="prompt")
    def short_text(self, obj: models.Prompt) -> str:
        return obj.last_user_text[:80]


@admin.register(models.Generator)
class GeneratorAdmin(admin.ModelAdmin):
    list_display = ("name", "campaign", "provider", "model", "samples_per_prompt")
    list_filter = ("provider", "campaign")
    search_fields = ("name", "model")


@admin.register(models.GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "status", "mode", "total", "created_at", "finished_at")
    list_filter = ("status", "mode")
    readonly_fields = ("provider_batch_ids",)


@admin.register(models.Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = (
        "id", "prompt", "generator", "sample_index", "status", "self_identifies", "duplicate_of",
    )  # fmt: skip
    list_filter = ("status", "self_identifies", "generator__provider")
    search_fields = ("text", "request_id", "prompt__external_id")
    raw_id_fields = ("prompt", "generator", "job", "duplicate_of")
    readonly_fields = ("html",)


@admin.register(models.Pair)
class PairAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "campaign",
        "prompt",
        "strategy",
        "needed",
        "assigned",
        "completed",
        "gold_answer",
    )
    list_filter = ("campaign", "strategy")
    search_fields = ("prompt__external_id",)
    raw_id_fields = ("prompt", "candidate_a", "candidate_b")


@admin.register(models.Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "pair", "rater", "status", "left_is_a", "expires_at")
    list_filter = ("status", "campaign")
    search_fields = ("rater__username",)
    raw_id_fields = ("pair", "rater")


class CandidateSetMemberInline(admin.TabularInline):
    model = models.CandidateSetMember
    extra = 0
    raw_id_fields = ("candidate",)
    readonly_fields = ("slot",)


@admin.register(models.CandidateSet)
class CandidateSetAdmin(admin.ModelAdmin):
    """A ranking set. Its gold ranking (candidate ids, best first, ties grouped) is checked
    against the set's members by CandidateSet.clean, as every other way in checks it."""

    list_display = ("id", "campaign", "prompt", "needed", "assigned", "completed", "gold_ranking")
    list_filter = ("campaign",)
    raw_id_fields = ("campaign", "prompt")
    readonly_fields = ("assigned", "completed")
    inlines = [CandidateSetMemberInline]


@admin.register(models.SetAssignment)
class SetAssignmentAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "candidate_set", "rater", "status", "rotation", "expires_at")
    list_filter = ("status", "campaign")
    search_fields = ("rater__username",)
    raw_id_fields = ("candidate_set", "rater")


@admin.register(models.RankingVote)
class RankingVoteAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "candidate_set", "rater", "source", "all_bad", "created_at")
    list_filter = ("campaign", "source")
    raw_id_fields = ("candidate_set", "lease", "rater")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # votes are immutable


@admin.register(models.Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "pair", "rater", "source", "choice", "revises", "created_at")
    list_filter = ("source", "choice", "campaign")
    search_fields = ("rater__username", "rationale")
    raw_id_fields = ("pair", "assignment", "rater", "revises")


@admin.register(models.PairFlag)
class PairFlagAdmin(admin.ModelAdmin):
    list_display = ("id", "pair", "rater", "reason", "created_at")
    list_filter = ("reason",)
    raw_id_fields = ("pair", "rater")


@admin.register(models.ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("provider", "model", "input_per_mtok", "output_per_mtok", "batch_discount")
    search_fields = ("model",)


@admin.register(models.Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "format", "status", "row_count", "created_by", "created_at")
    list_filter = ("status", "format")


# Models added by other areas (judge, pricing…) still show up in the back office, plainly.
for _model in apps.get_app_config("annotate").get_models():
    if not admin.site.is_registered(_model):
        admin.site.register(_model)
