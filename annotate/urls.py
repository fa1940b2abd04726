"""HTML pages, grouped by area. One URL per page; htmx requests get a partial of the same template."""

from django.conf import settings
from django.urls import path

from annotate.views import (
    browse,
    campaign_generators,
    campaign_imports,
    campaign_people,
    campaigns,
    crowd_admin,
    generation,
    home,
    research,
    ttc,
)
from annotate.views import gold as gold_views
from annotate.views import gold_sets as gold_set_views
from annotate.views import invitations as invite_views
from annotate.views import judge as judge_views
from annotate.views import leases as lease_views
from annotate.views import live as live_views
from annotate.views import participants as crowd_views
from annotate.views import rank as rank_views
from annotate.views import rate as rate_views
from annotate.views import rating as rating_views
from annotate.views import steps as steps_views

app_name = "annotate"

urlpatterns = [
    path("", home.home, name="home"),
]

# --- admin pages: campaigns, prompts, generators, enrollment (annotate/views/campaigns.py) ---
urlpatterns += [
    path("campaigns/new/", campaigns.campaign_create_view, name="campaign-create"),
    path("raters/new/", campaign_people.rater_create_view, name="rater-create"),
    path("campaigns/<slug:slug>/", campaigns.campaign_detail, name="campaign-detail"),
    path("campaigns/<slug:slug>/edit/", campaigns.campaign_edit, name="campaign-edit"),
    path("campaigns/<slug:slug>/status/", campaigns.campaign_status, name="campaign-status"),
    path("campaigns/<slug:slug>/pairs/build/", campaigns.pairs_build_view, name="pairs-build"),
    path(
        "campaigns/<slug:slug>/prompts/import/",
        campaign_imports.prompt_import,
        name="prompt-import",
    ),
    path(
        "campaigns/<slug:slug>/prompts/imports/<int:import_id>/",
        campaign_imports.prompt_import_progress,
        name="prompt-import-progress",
    ),
    path(
        "campaigns/<slug:slug>/responses/import/",
        campaign_imports.response_import,
        name="response-import",
    ),
    path(
        "campaigns/<slug:slug>/generators/add/",
        campaign_generators.generator_add,
        name="generator-add",
    ),
    path(
        "campaigns/<slug:slug>/generators/<int:generator_id>/delete/",
        campaign_generators.generator_delete_view,
        name="generator-delete",
    ),
    path("campaigns/<slug:slug>/raters/", campaign_people.enroll, name="enroll"),
    path("campaigns/<slug:slug>/gold/", gold_views.gold_pairs, name="gold-pairs"),
    path("campaigns/<slug:slug>/gold/<int:pair_id>/", gold_views.gold_pair, name="gold-pair"),
    path("campaigns/<slug:slug>/gold/sets/", gold_set_views.gold_sets, name="gold-sets"),
    path(
        "campaigns/<slug:slug>/gold/sets/<int:set_id>/",
        gold_set_views.gold_set,
        name="gold-set",
    ),
]

# --- generation (annotate/views/generation.py) ---

urlpatterns += [
    path(
        "campaigns/<slug:slug>/generation/start/",
        generation.generation_start_view,
        name="generation-start",
    ),
    path(
        "campaigns/<slug:slug>/generation/cancel/",
        generation.generation_cancel_view,
        name="generation-cancel",
    ),
    path(
        "campaigns/<slug:slug>/generation/resume/",
        generation.generation_resume_view,
        name="generation-resume",
    ),
    path(
        "campaigns/<slug:slug>/generation/progress/",
        generation.generation_progress,
        name="generation-progress",
    ),
]

# --- rating workbench (annotate/views/rate.py) ---

urlpatterns += [
    path("campaigns/<slug:slug>/rate/", rate_views.rate, name="rate"),
    # The ranking protocol's workbench (annotate/views/rank.py).
    path("campaigns/<slug:slug>/rank/", rank_views.rank, name="rank"),
    path("campaigns/<slug:slug>/rank/vote/", rank_views.rank_vote, name="rank-vote"),
    path("campaigns/<slug:slug>/rank/skip/", rank_views.rank_skip, name="rank-skip"),
    path("campaigns/<slug:slug>/rank/heartbeat/", rank_views.rank_heartbeat, name="rank-heartbeat"),
    path("campaigns/<slug:slug>/rank/undo/", rank_views.rank_undo, name="rank-undo"),
    path(
        "campaigns/<slug:slug>/rank/correct/<int:vote_id>/",
        rank_views.rank_correct,
        name="rank-correct",
    ),
    # The rating protocol's workbench (annotate/views/rating.py); its leases are set leases, so
    # the ranking page's heartbeat renews them.
    path("campaigns/<slug:slug>/rating/", rating_views.rating, name="rating"),
    path("campaigns/<slug:slug>/rating/vote/", rating_views.rating_vote, name="rating-vote"),
    path("campaigns/<slug:slug>/rating/skip/", rating_views.rating_skip, name="rating-skip"),
    path("campaigns/<slug:slug>/rating/undo/", rating_views.rating_undo, name="rating-undo"),
    path(
        "campaigns/<slug:slug>/rating/correct/<int:vote_id>/",
        rating_views.rating_correct,
        name="rating-correct",
    ),
    # The step-labels protocol's workbench (annotate/views/steps.py).
    path("campaigns/<slug:slug>/live/", live_views.live_page, name="live"),
    path("campaigns/<slug:slug>/live/start/", live_views.live_start, name="live-start"),
    path("campaigns/<slug:slug>/live/send/", live_views.live_send, name="live-send"),
    path("campaigns/<slug:slug>/live/vote/", live_views.live_vote, name="live-vote"),
    path("campaigns/<slug:slug>/live/stop/", live_views.live_stop, name="live-stop"),
    path("campaigns/<slug:slug>/live/retry/", live_views.live_retry, name="live-retry"),
    path("campaigns/<slug:slug>/live/end/", live_views.live_end, name="live-end"),
    path(
        "campaigns/<slug:slug>/live/replies/<int:candidate_id>/events/",
        live_views.live_events,
        name="live-events",
    ),
    path("campaigns/<slug:slug>/steps/", steps_views.steps, name="steps"),
    path("campaigns/<slug:slug>/steps/vote/", steps_views.steps_vote, name="steps-vote"),
    path("campaigns/<slug:slug>/steps/skip/", steps_views.steps_skip, name="steps-skip"),
    path("campaigns/<slug:slug>/steps/undo/", steps_views.steps_undo, name="steps-undo"),
    path(
        "campaigns/<slug:slug>/steps/correct/<int:vote_id>/",
        steps_views.steps_correct,
        name="steps-correct",
    ),
    path(
        "campaigns/<slug:slug>/steps/heartbeat/",
        steps_views.steps_heartbeat,
        name="steps-heartbeat",
    ),
    path("campaigns/<slug:slug>/rate/vote/", rate_views.rate_vote, name="rate-vote"),
    path("campaigns/<slug:slug>/rate/skip/", rate_views.rate_skip, name="rate-skip"),
    path("campaigns/<slug:slug>/rate/flag/", rate_views.rate_flag, name="rate-flag"),
    path("campaigns/<slug:slug>/rate/heartbeat/", rate_views.rate_heartbeat, name="rate-heartbeat"),
    path(
        "campaigns/<slug:slug>/rate/diff/<int:assignment_id>/",
        rate_views.rate_diff,
        name="rate-diff",
    ),
    path("campaigns/<slug:slug>/rate/history/", rate_views.rate_history, name="rate-history"),
    path("campaigns/<slug:slug>/rate/undo/", rate_views.rate_undo, name="rate-undo"),
    path(
        "campaigns/<slug:slug>/rate/correct/<int:judgment_id>/",
        rate_views.rate_correct,
        name="rate-correct",
    ),
    path("campaigns/<slug:slug>/leases/", lease_views.leases, name="leases"),
    path("campaigns/<slug:slug>/leases/release/", lease_views.lease_release, name="lease-release"),
    path("campaigns/<slug:slug>/leases/pause/", lease_views.rater_pause, name="rater-pause"),
]

# --- crowd participants: platform entries, consent, training, finish (views/participants.py) ---

urlpatterns += [
    path("p/<slug:slug>/prolific/", crowd_views.crowd_prolific, name="crowd-prolific"),
    path("p/<slug:slug>/mturk/", crowd_views.crowd_mturk, name="crowd-mturk"),
    path("p/<slug:slug>/start/<str:token>/", crowd_views.crowd_start, name="crowd-start"),
    path("p/<slug:slug>/join/<str:token>/", crowd_views.crowd_join, name="crowd-join"),
    path("p/<slug:slug>/", crowd_views.crowd_next, name="crowd-next"),
    path("p/<slug:slug>/consent/", crowd_views.crowd_consent, name="crowd-consent"),
    path("p/<slug:slug>/training/", crowd_views.crowd_training, name="crowd-training"),
    path("p/<slug:slug>/done/", crowd_views.crowd_done, name="crowd-done"),
    path("campaigns/<slug:slug>/crowd/", crowd_admin.crowd_page, name="crowd-admin"),
    path("campaigns/<slug:slug>/crowd/link/", crowd_admin.crowd_link_view, name="crowd-link"),
    path(
        "campaigns/<slug:slug>/crowd/training/",
        crowd_admin.crowd_training_add_view,
        name="crowd-training-add",
    ),
    path(
        "campaigns/<slug:slug>/crowd/participants.csv",
        crowd_admin.crowd_csv,
        name="crowd-csv",
    ),
]
# --- bulk invitations and their one-time links (views/invitations.py) ---

urlpatterns += [
    path(
        "campaigns/<slug:slug>/invitations/",
        invite_views.invitations_page,
        name="invitations",
    ),
    path(
        "campaigns/<slug:slug>/invitations/csv/",
        invite_views.invitations_csv_view,
        name="invitations-csv",
    ),
    path(
        "campaigns/<slug:slug>/invitations/anonymous/",
        invite_views.invitations_anonymous_view,
        name="invitations-anonymous",
    ),
    path(
        "campaigns/<slug:slug>/invitations/links.csv",
        invite_views.invitations_links_csv,
        name="invitations-links",
    ),
    path("invite/password/", invite_views.invite_password, name="invite-password"),
    path("invite/<str:token>/", invite_views.invite, name="invite"),
]
if settings.BENCH_HOOKS:  # bench/settings.py only: the benchmark's floor, absent otherwise
    urlpatterns += [path("bench/noop/", rate_views.bench_noop, name="bench-noop")]

# --- researcher: progress, analytics, exports (annotate/views/research.py); the data (browse.py) ---

urlpatterns += [
    path("campaigns/<slug:slug>/research/", research.research, name="research"),
    path("campaigns/<slug:slug>/browse/", browse.browse, name="browse"),
    path("campaigns/<slug:slug>/browse/<int:pair_id>/", browse.pair_page, name="browse-pair"),
    path(
        "campaigns/<slug:slug>/browse/<int:pair_id>/adjudicate/",
        browse.pair_adjudicate,
        name="pair-adjudicate",
    ),
    path(
        "campaigns/<slug:slug>/research/analytics/",
        research.research_analytics,
        name="research-analytics",
    ),
    path(
        "campaigns/<slug:slug>/research/analytics/recompute/",
        research.research_analytics_recompute,
        name="research-analytics-recompute",
    ),
    path("campaigns/<slug:slug>/exports/", research.export_list, name="export-list"),
    path("campaigns/<slug:slug>/exports/new/", research.export_create_view, name="export-create"),
    path("exports/<int:pk>/progress/", research.export_progress, name="export-progress"),
    path("exports/<int:pk>/download/", research.export_download, name="export-download"),
]

# --- AI judge (annotate/views/judge.py) ---

urlpatterns += [
    path("campaigns/<slug:slug>/judge/", judge_views.judge_page, name="judge"),
    path("campaigns/<slug:slug>/judge/start/", judge_views.judge_start, name="judge-start"),
    path(
        "campaigns/<slug:slug>/judge/progress/",
        judge_views.judge_progress_view,
        name="judge-progress",
    ),
    path(
        "campaigns/<slug:slug>/judge/auto-label/",
        judge_views.judge_auto_label_view,
        name="judge-auto-label",
    ),
    path(
        "campaigns/<slug:slug>/judge/best-pairs/",
        judge_views.judge_best_pairs,
        name="judge-best-pairs",
    ),
    path(
        "campaigns/<slug:slug>/rate/revise/<int:judgment_id>/",
        judge_views.judge_revise,
        name="judge-revise",
    ),
]

# --- test-time compute: answers, best-of-N, accuracy vs N (annotate/views/ttc.py) ---

urlpatterns += [
    path("campaigns/<slug:slug>/ttc/", ttc.ttc_page, name="ttc"),
    path("campaigns/<slug:slug>/ttc/curves/", ttc.ttc_curves, name="ttc-curves"),
    path("campaigns/<slug:slug>/ttc/settings/", ttc.ttc_settings, name="ttc-settings"),
    path("campaigns/<slug:slug>/ttc/select/", ttc.ttc_select, name="ttc-select"),
    path("campaigns/<slug:slug>/ttc/reviews/", ttc.ttc_reviews, name="ttc-reviews"),
]
