"""The data model, one module per area. Methods touch only their own row; anything that spans models
is a service.

Vocabulary: a *campaign* holds *prompts*; *generators* produce *candidates* (responses) for them;
a *pair* is two candidates of one prompt; an *assignment* leases a pair to a rater; a *judgment* is a
rater's immutable vote on a pair. "a" and "b" always mean the pair's canonical candidate_a/candidate_b;
what the rater saw on the left is recorded separately (``left_is_a``).

    users.py       User (and its role)
    campaigns.py   Campaign, Enrollment, Prompt
    generation.py  Generator, GenerationJob, Candidate, ModelPrice, RateLimitBucket
    rating.py      Pair, Assignment, Judgment, PairFlag, PairSearch (the words a pair is found by)
    sets.py        CandidateSet, CandidateSetMember, SetAssignment, RankingVote (ranking protocol),
                   RatingVote, RatingScore, RatingJudgement (rating protocol; the judge's scores)
    steps.py       StepTrace, StepVote (step labels: sets of one candidate, split into steps),
                   StepJudgement (the judge labelling a trace's steps)
    judge.py       JudgeConfig, JudgeRubric, JudgeJob, JudgeVerdict, SetJudgement (abstract)
    exports.py     Export
    imports.py     PromptImport (a prompt file imported in the background)
    ttc.py         TTCConfig, CandidateReview, BestOfNChoice (test-time compute: answers, best-of-N)
    participants.py CrowdSettings, Participant, TrainingUnit, TrainingAnswer (crowd platforms)
    invitations.py Invitation (raters invited in bulk, one-time links)
    webhooks.py    Webhook, WebhookDelivery (signed event notifications to a campaign's URLs)
    live.py        LiveSettings, LiveConversation, LiveTurn, LiveReply (live conversations)
    analytics.py   CampaignStats (the dashboard's figures over every vote, cached)
    work.py        WorkerProcess, WorkLease, WorkRecovery (background work shared by every kind)

Every model is importable from ``annotate.models``.
"""

from annotate.models.analytics import CampaignStats
from annotate.models.campaigns import Campaign, Enrollment, Prompt
from annotate.models.exports import Export
from annotate.models.generation import (
    Candidate,
    GenerationJob,
    Generator,
    ModelPrice,
    RateLimitBucket,
)
from annotate.models.imports import PromptImport
from annotate.models.invitations import Invitation
from annotate.models.judge import (
    JudgeConfig,
    JudgeJob,
    JudgeRubric,
    JudgeVerdict,
    _default_judge_model,  # noqa: F401 (named by migration 0001)
)
from annotate.models.live import LiveConversation, LiveReply, LiveSettings, LiveTurn
from annotate.models.participants import (
    CrowdSettings,
    Participant,
    TrainingAnswer,
    TrainingUnit,
)
from annotate.models.rating import Assignment, Judgment, Pair, PairFlag, PairSearch
from annotate.models.sets import (
    CandidateSet,
    CandidateSetMember,
    RankingVote,
    RatingJudgement,
    RatingScore,
    RatingVote,
    SetAssignment,
)
from annotate.models.steps import StepJudgement, StepTrace, StepVote
from annotate.models.ttc import BestOfNChoice, CandidateReview, TTCConfig
from annotate.models.users import User
from annotate.models.webhooks import Webhook, WebhookDelivery
from annotate.models.work import WorkerProcess, WorkLease, WorkRecovery

__all__ = [
    "Assignment",
    "BestOfNChoice",
    "Campaign",
    "CampaignStats",
    "Candidate",
    "CandidateReview",
    "CandidateSet",
    "CandidateSetMember",
    "CrowdSettings",
    "Enrollment",
    "Export",
    "GenerationJob",
    "Generator",
    "Invitation",
    "JudgeConfig",
    "JudgeJob",
    "JudgeRubric",
    "JudgeVerdict",
    "Judgment",
    "LiveConversation",
    "LiveReply",
    "LiveSettings",
    "LiveTurn",
    "ModelPrice",
    "Pair",
    "PairFlag",
    "PairSearch",
    "Participant",
    "Prompt",
    "PromptImport",
    "RankingVote",
    "RateLimitBucket",
    "RatingJudgement",
    "RatingScore",
    "RatingVote",
    "SetAssignment",
    "StepJudgement",
    "StepTrace",
    "StepVote",
    "TTCConfig",
    "TrainingAnswer",
    "TrainingUnit",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WorkLease",
    "WorkRecovery",
    "WorkerProcess",
]
