"""REST API (DRF), grouped by area. One APIView per operation."""

from django.urls import path

from annotate.api import adjudication as adjudication_api
from annotate.api import browse as browse_api
from annotate.api import campaigns as campaign_api
from annotate.api import crowd as crowd_api
from annotate.api import exports as export_api
from annotate.api import generation as generation_api
from annotate.api import gold as gold_api
from annotate.api import imports as import_api
from annotate.api import invitations as invitations_api
from annotate.api import judge as judge_api
from annotate.api import live as live_api
from annotate.api import ranking as ranking_api
from annotate.api import rating as rating_api
from annotate.api import set_undo as set_undo_api
from annotate.api import steps as steps_api
from annotate.api import webhooks as webhooks_api

app_name = "api"

urlpatterns: list = []

# --- campaign admin: campaigns, generators, enrollment (annotate/api/campaigns.py), imports (imports.py) ---

urlpatterns += [
    path("campaigns/", campaign_api.CampaignListApi.as_view(), name="campaign-list"),
    path("campaigns/create/", campaign_api.CampaignCreateApi.as_view(), name="campaign-create"),
    path("raters/create/", campaign_api.RaterCreateApi.as_view(), name="rater-create"),
    path(
        "campaigns/<slug:slug>/", campaign_api.CampaignDetailApi.as_view(), name="campaign-detail"
    ),
    path(
        "campaigns/<slug:slug>/update/",
        campaign_api.CampaignUpdateApi.as_view(),
        name="campaign-update",
    ),
    path(
        "campaigns/<slug:slug>/status/",
        campaign_api.CampaignStatusApi.as_view(),
        name="campaign-status",
    ),
    path(
        "campaigns/<slug:slug>/pairs/build/",
        campaign_api.PairsBuildApi.as_view(),
        name="pairs-build",
    ),
    path(
        "campaigns/<slug:slug>/prompts/import/",
        import_api.PromptImportApi.as_view(),
        name="prompt-import",
    ),
    path(
        "campaigns/<slug:slug>/prompts/imports/<int:import_id>/",
        import_api.PromptImportDetailApi.as_view(),
        name="prompt-import-detail",
    ),
    path(
        "campaigns/<slug:slug>/responses/import/",
        import_api.ResponseImportApi.as_view(),
        name="response-import",
    ),
    path(
        "campaigns/<slug:slug>/generators/",
        campaign_api.GeneratorCreateApi.as_view(),
        name="generator-create",
    ),
    path(
        "campaigns/<slug:slug>/generators/<int:generator_id>/",
        campaign_api.GeneratorDeleteApi.as_view(),
        name="generator-delete",
    ),
    path(
        "campaigns/<slug:slug>/generation/start/",
        campaign_api.GenerationStartApi.as_view(),
        name="generation-start",
    ),
    path(
        "campaigns/<slug:slug>/enrollments/",
        campaign_api.EnrollmentListApi.as_view(),
        name="enrollment-list",
    ),
    path(
        "campaigns/<slug:slug>/enrollments/add/",
        campaign_api.EnrollmentAddApi.as_view(),
        name="enrollment-add",
    ),
    path(
        "campaigns/<slug:slug>/enrollments/remove/",
        campaign_api.EnrollmentRemoveApi.as_view(),
        name="enrollment-remove",
    ),
]

# --- exports (annotate/api/exports.py) ---

urlpatterns += [
    path(
        "campaigns/<slug:slug>/exports/",
        export_api.ExportListApi.as_view(),
        name="export-list",
    ),
    path(
        "campaigns/<slug:slug>/exports/create/",
        export_api.ExportCreateApi.as_view(),
        name="export-create",
    ),
    path("exports/<int:pk>/", export_api.ExportDetailApi.as_view(), name="export-detail"),
    path(
        "exports/<int:pk>/download/",
        export_api.ExportDownloadApi.as_view(),
        name="export-download",
    ),
]

# --- AI judge (annotate/api/judge.py) ---

urlpatterns += [
    path("campaigns/<slug:slug>/judge/", judge_api.JudgeConfigApi.as_view(), name="judge-config"),
    path(
        "campaigns/<slug:slug>/judge/update/",
        judge_api.JudgeConfigUpdateApi.as_view(),
        name="judge-config-update",
    ),
    path(
        "campaigns/<slug:slug>/judge/start/", judge_api.JudgeStartApi.as_view(), name="judge-start"
    ),
    path(
        "campaigns/<slug:slug>/judge/units/start/",
        judge_api.JudgeUnitsStartApi.as_view(),
        name="judge-units-start",
    ),
    path(
        "campaigns/<slug:slug>/judge/auto-label/",
        judge_api.JudgeAutoLabelApi.as_view(),
        name="judge-auto-label",
    ),
    path(
        "campaigns/<slug:slug>/judge/verdicts/",
        judge_api.JudgeVerdictListApi.as_view(),
        name="judge-verdicts",
    ),
    path(
        "campaigns/<slug:slug>/judge/analytics/",
        judge_api.JudgeAnalyticsApi.as_view(),
        name="judge-analytics",
    ),
]

# --- generation: progress, cancel, resume (annotate/api/generation.py; start is in campaigns.py) ---

urlpatterns += [
    path(
        "campaigns/<slug:slug>/generation/",
        generation_api.GenerationProgressApi.as_view(),
        name="generation-progress",
    ),
    path(
        "campaigns/<slug:slug>/generation/cancel/",
        generation_api.GenerationCancelApi.as_view(),
        name="generation-cancel",
    ),
    path(
        "campaigns/<slug:slug>/generation/resume/",
        generation_api.GenerationResumeApi.as_view(),
        name="generation-resume",
    ),
]

# --- gold answers (annotate/api/gold.py) ---

urlpatterns += [
    path(
        "campaigns/<slug:slug>/pairs/<int:pair_id>/gold/",
        gold_api.PairGoldApi.as_view(),
        name="pair-gold",
    ),
]

# --- browse and search (annotate/api/browse.py) ---

urlpatterns += [
    path("campaigns/<slug:slug>/units/", browse_api.UnitListApi.as_view(), name="unit-list"),
]

# --- adjudication (annotate/api/adjudication.py) ---

urlpatterns += [
    path(
        "campaigns/<slug:slug>/pairs/<int:pair_id>/",
        adjudication_api.PairDetailApi.as_view(),
        name="pair-detail",
    ),
    path(
        "campaigns/<slug:slug>/pairs/<int:pair_id>/adjudicate/",
        adjudication_api.PairAdjudicateApi.as_view(),
        name="pair-adjudicate",
    ),
]

# --- ranking for raters (annotate/api/ranking.py) ---

urlpatterns += [
    path("campaigns/<slug:slug>/rank/next/", ranking_api.RankNextApi.as_view(), name="rank-next"),
    path("campaigns/<slug:slug>/rank/vote/", ranking_api.RankVoteApi.as_view(), name="rank-vote"),
    # --- rating for raters (annotate/api/rating.py) ---
    path(
        "campaigns/<slug:slug>/rating/next/", rating_api.RateNextApi.as_view(), name="rating-next"
    ),
    path(
        "campaigns/<slug:slug>/rating/vote/", rating_api.RateVoteApi.as_view(), name="rating-vote"
    ),
]

# --- live conversations for raters (annotate/api/live.py) ---

_LIVE = "campaigns/<slug:slug>/live"
urlpatterns += [
    path(f"{_LIVE}/start/", live_api.LiveStartApi.as_view(), name="live-start"),
    path(
        f"{_LIVE}/conversations/<int:conversation_id>/",
        live_api.LiveConversationApi.as_view(),
        name="live-conversation",
    ),
    path(
        f"{_LIVE}/conversations/<int:conversation_id>/messages/",
        live_api.LiveMessageApi.as_view(),
        name="live-message",
    ),
    path(
        f"{_LIVE}/conversations/<int:conversation_id>/vote/",
        live_api.LiveVoteApi.as_view(),
        name="live-vote",
    ),
    path(
        f"{_LIVE}/conversations/<int:conversation_id>/end/",
        live_api.LiveEndApi.as_view(),
        name="live-end",
    ),
    path(f"{_LIVE}/replies/<int:reply_id>/stop/", live_api.LiveStopApi.as_view(), name="live-stop"),
    path(
        f"{_LIVE}/replies/<int:reply_id>/retry/", live_api.LiveRetryApi.as_view(), name="live-retry"
    ),
]

# --- step labels for raters (annotate/api/steps.py) ---

urlpatterns += [
    path("campaigns/<slug:slug>/steps/next/", steps_api.StepsNextApi.as_view(), name="steps-next"),
    path("campaigns/<slug:slug>/steps/vote/", steps_api.StepsVoteApi.as_view(), name="steps-vote"),
]

# --- undo the last vote on a set protocol (annotate/api/set_undo.py) ---

urlpatterns += [
    path("campaigns/<slug:slug>/rank/undo/", set_undo_api.RankUndoApi.as_view(), name="rank-undo"),
    path(
        "campaigns/<slug:slug>/rank/correct/",
        set_undo_api.RankCorrectApi.as_view(),
        name="rank-correct",
    ),
    path(
        "campaigns/<slug:slug>/rating/undo/",
        set_undo_api.RateUndoApi.as_view(),
        name="rating-undo",
    ),
    path(
        "campaigns/<slug:slug>/rating/correct/",
        set_undo_api.RateCorrectApi.as_view(),
        name="rating-correct",
    ),
    path(
        "campaigns/<slug:slug>/steps/undo/", set_undo_api.StepsUndoApi.as_view(), name="steps-undo"
    ),
    path(
        "campaigns/<slug:slug>/steps/correct/",
        set_undo_api.StepsCorrectApi.as_view(),
        name="steps-correct",
    ),
]

# --- crowd platforms: settings and the participants report (annotate/api/crowd.py) ---

urlpatterns += [
    path(
        "campaigns/<slug:slug>/crowd/",
        crowd_api.CrowdSettingsDetailApi.as_view(),
        name="crowd-settings",
    ),
    path(
        "campaigns/<slug:slug>/crowd/update/",
        crowd_api.CrowdSettingsUpdateApi.as_view(),
        name="crowd-settings-update",
    ),
    path(
        "campaigns/<slug:slug>/participants/",
        crowd_api.ParticipantListApi.as_view(),
        name="participant-list",
    ),
    path(
        "campaigns/<slug:slug>/participants.csv",
        crowd_api.ParticipantCsvApi.as_view(),
        name="participant-csv",
    ),
]

# --- bulk invitations with one-time links (annotate/api/invitations.py) ---

urlpatterns += [
    path(
        "campaigns/<slug:slug>/invitations/csv/",
        invitations_api.InvitationCsvCreateApi.as_view(),
        name="invitations-csv",
    ),
    path(
        "campaigns/<slug:slug>/invitations/anonymous/",
        invitations_api.InvitationAnonymousCreateApi.as_view(),
        name="invitations-anonymous",
    ),
    path(
        "campaigns/<slug:slug>/invitations/links.csv",
        invitations_api.InvitationLinksCsvApi.as_view(),
        name="invitations-links",
    ),
]

# --- webhooks (annotate/api/webhooks.py) ---

urlpatterns += [
    path(
        "campaigns/<slug:slug>/webhooks/",
        webhooks_api.WebhookListApi.as_view(),
        name="webhook-list",
    ),
    path(
        "campaigns/<slug:slug>/webhooks/<int:webhook_id>/",
        webhooks_api.WebhookDeleteApi.as_view(),
        name="webhook-delete",
    ),
]
