"""Typed, frozen models of the rule files in ``rules/``.

One model per file; the YAML keys are the field names (no aliases), so an error
path such as ``penalties.ladder[1].strikes`` is both the YAML path and the
attribute path. Every model forbids unknown keys. Lists are tuples so the whole
``Rules`` value is immutable once loaded.

Durations are whole days/hours/weeks; lengths are text units as counted by
``worker.engine.textlen`` (one Chinese character or one Latin word per unit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from worker.rules.types import (
    LANGUAGES,
    CategorySlug,
    CronExpr,
    FormatText,
    GroupSlug,
    Language,
    LocalText,
    MessageKey,
    NonNegativeInt,
    Placeholders,
    PositiveInt,
    Regex,
    Share,
    TemplateKey,
    TimeZoneName,
    TopicTitle,
    UserFieldName,
    Weekday,
)

if TYPE_CHECKING:  # the engine imports these rules; the week type is only named here
    from worker.engine.weeks import Week

# Human limits on durations and counts: beyond them a value is a typo, and the engines'
# date arithmetic would leave the calendar (OverflowError: date value out of range).
MAX_CAMP_DAYS = 120  # a camp of at most four months
MAX_HOURS = 336  # hour windows within two weeks
MAX_WEEKS = 104  # look-backs and streaks within two years
MAX_SILENCE_DAYS = 3 * 366  # a silence of at most about three years
MAX_MEMBERS = 1000  # Discourse adds at most 1,000 usernames to a group at once
CampDays = Annotated[PositiveInt, Field(le=MAX_CAMP_DAYS)]
WeekHours = Annotated[PositiveInt, Field(le=MAX_HOURS)]
Weeks = Annotated[PositiveInt, Field(le=MAX_WEEKS)]
MemberCount = Annotated[PositiveInt, Field(le=MAX_MEMBERS)]


class RulesModel(BaseModel):
    """Base of every rule model: immutable, unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


# ───────────────────────────── community.yml ─────────────────────────────


class BaseGroups(RulesModel):
    """Discourse group names of the community's standing groups."""

    camp: GroupSlug = "camp"  # newcomers on probation
    members: GroupSlug = "members"  # full members (passed camp)
    leaders: GroupSlug = "leaders"  # squad and class leaders
    alumni: GroupSlug = "alumni"  # former members who left in good standing or were removed
    reviewers: GroupSlug = "reviewers"  # staff helpers who review held applications


class BaseCategories(RulesModel):
    """Category slugs the worker reads from or posts to."""

    introductions: CategorySlug = "introductions"  # camp self-introductions
    checkins: CategorySlug = "checkins"  # daily camp check-ins
    digests: CategorySlug = "digests"  # curated weekly digests (digest_curator badge)
    audit_log: CategorySlug = "audit-log"  # staff-only: audit summaries, health reports


class Community(RulesModel):
    name: str = Field(min_length=1, max_length=100)
    timezone: TimeZoneName = "Asia/Shanghai"  # weeks, deadlines and cron run in this zone
    default_language: Language = "zh"  # for members without a language preference
    # User field holding a member's preferred language ("zh"/"en"); None: everyone gets default.
    language_field: UserFieldName | None = None
    staff_groups: tuple[GroupSlug, ...] = ("staff",)  # members of these are never penalised
    groups: BaseGroups = BaseGroups()
    categories: BaseCategories = BaseCategories()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# ───────────────────────────── gating.yml ─────────────────────────────

GateFailAction = Literal["reject", "hold_for_review"]
ReferralVia = Literal["invite", "user_field"]
ScreenTarget = Literal["application", "username", "email_domain"]


class ReferrerRequirements(RulesModel):
    """What the person who refers an applicant must be."""

    must_be_member: bool = True
    not_on_probation: bool = True  # not in the camp group
    max_strikes: NonNegativeInt = 2  # at most this many active strikes
    max_referrals_per_month: PositiveInt = 3


class Referral(RulesModel):
    required: bool = True
    # Accepted ways to name a referrer: a Discourse invite (invited_by) or a user field.
    via: tuple[ReferralVia, ...] = Field(default=("invite", "user_field"), min_length=1)
    referrer_field: UserFieldName | None = None  # user field with the referrer's username
    referrer: ReferrerRequirements = ReferrerRequirements()
    on_fail: GateFailAction | None = None  # None: use gating.on_fail

    @model_validator(mode="after")
    def _field_named_when_used(self) -> Referral:
        if "user_field" in self.via and not self.referrer_field:
            raise ValueError("referrer_field must be set when via includes 'user_field'")
        return self


class Application(RulesModel):
    """The written application (self-introduction) entered at sign-up."""

    field: UserFieldName  # user field holding the application text
    min_length: NonNegativeInt = 200  # text units (字数 / words)
    on_fail: GateFailAction | None = None


class ScreenList(RulesModel):
    """One values-screening list; any match flags the applicant with ``reason``."""

    name: LocalText  # shown to reviewers, in the staff log's language
    applies_to: tuple[ScreenTarget, ...] = Field(min_length=1)
    keywords: tuple[str, ...] = ()  # case-insensitive substrings
    patterns: tuple[Regex, ...] = ()  # Python regular expressions, case-insensitive
    reason: LocalText  # shown to reviewers, and to the applicant (in their language)
    on_match: GateFailAction | None = None  # None: use gating.on_fail

    @model_validator(mode="after")
    def _not_empty(self) -> ScreenList:
        if not self.keywords and not self.patterns:
            raise ValueError("a screening list needs at least one keyword or pattern")
        return self


class Payment(RulesModel):
    required: bool = False
    paid_group: GroupSlug | None = None  # membership of this group proves payment
    confirmed_field: UserFieldName | None = None  # or a staff-set user field (non-empty = paid)
    on_fail: GateFailAction | None = None

    @model_validator(mode="after")
    def _some_proof(self) -> Payment:
        if self.required and not (self.paid_group or self.confirmed_field):
            raise ValueError("payment is required: set paid_group or confirmed_field")
        return self


class Duplicates(RulesModel):
    """A second application by the same person."""

    # Same email once normalised (case; for gmail.com also dots and +tags) as an earlier applicant.
    same_email: bool = True
    # User field an applicant fills in when they were a member before (their old username).
    reapplication_field: UserFieldName | None = None
    on_match: GateFailAction | None = None  # None: use gating.on_fail


class GatingMessages(RulesModel):
    # Each field names a template and the values its call site passes (see Placeholders).
    # The reason in Discourse's rejection email to an applicant (their language)
    rejected: Annotated[TemplateKey, Placeholders("username", "reasons")]
    # staff audit-log summary of an application held for review (a topic: the title
    # carries the applicant's user id, a username comes back after a rejected one's deletion)
    held_for_review: Annotated[
        TemplateKey,
        Placeholders("username", "user_id", "checks", "application", "review_url"),
        TopicTitle(("user_id",)),
    ]
    # PM to the referrer: someone named you. Not sent yet: the names the template is
    # written with, for when it is (the username is the referrer's).
    referrer_notice: Annotated[TemplateKey, Placeholders("username", "applicant")]
    # PM to the referrer (username): your applicant is in
    referrer_approved: (
        Annotated[TemplateKey, Placeholders("username", "applicant", "camp_ends")] | None
    ) = None
    # staff audit-log entry for an approval or rejection
    decided: (
        Annotated[
            TemplateKey,
            Placeholders("username", "user_id", "outcome", "checks", "referrer", "application"),
            TopicTitle(("user_id", "outcome")),
        ]
        | None
    ) = None


class Gating(RulesModel):
    on_fail: GateFailAction = "hold_for_review"  # default for every check below
    block_on_reject: bool = False  # also block the email and IP of rejected applicants
    referral: Referral = Referral(via=("invite",))
    application: Application
    screening: tuple[ScreenList, ...] = ()
    payment: Payment = Payment()
    duplicates: Duplicates = Duplicates()
    messages: GatingMessages

    def fail_action(
        self, check: Referral | Application | ScreenList | Payment | Duplicates
    ) -> GateFailAction:
        """What a failed ``check`` leads to, after its own override."""
        own = check.on_match if isinstance(check, ScreenList | Duplicates) else check.on_fail
        return own or self.on_fail


# ───────────────────────────── camp.yml ─────────────────────────────


class IntroductionTask(RulesModel):
    category: CategorySlug  # a topic here by the camper counts
    min_length: NonNegativeInt = 100


class CheckinTask(RulesModel):
    category: CategorySlug  # a post here (topic or reply) on a camp day counts for that day
    min_days: CampDays = 5  # of the camp's days (days in the community time zone)
    min_length: NonNegativeInt = 0
    # A chat message in the camp channel (the channel of ``category``) counts for its day
    # too, when at least ``chat_min_length`` long (units as people count them).
    chat: bool = False
    chat_min_length: NonNegativeInt = 10


class RepliesTask(RulesModel):
    min_replies: NonNegativeInt = 3  # replies to posts of *other* campers
    min_length: NonNegativeInt = 20


class CampTasks(RulesModel):
    introduction: IntroductionTask
    checkins: CheckinTask
    replies: RepliesTask = RepliesTask()


class CampExtension(RulesModel):
    days: CampDays = 7
    times: Annotated[NonNegativeInt, Field(le=10)] = 1  # how many extensions before removal


_CAMP_WELCOME = Placeholders(
    "username",
    "camp_days",
    "camp_ends",
    "intro_category",
    "intro_min_length",
    "checkin_category",
    "checkin_days",
    "min_replies",
    "checkin_chat",  # camp_checkin_chat's words when chat checks in too, else empty
)
_REFERRER_OUTCOME = Placeholders("username", "newcomer")  # username: the referrer


class CampMessages(RulesModel):
    welcome: Annotated[TemplateKey, _CAMP_WELCOME]  # PM: welcome to camp, with the tasks
    passed: Annotated[TemplateKey, Placeholders("username")]  # PM: passed, now a member
    # PM shared by up to 30 campers who passed in the same check (pass_message: shared):
    # {usernames} their names (no @: recipients are notified anyway), {count} how many
    passed_shared: Annotated[TemplateKey, Placeholders("usernames", "count")] | None = None
    # PM: not yet, camp extended
    extended: Annotated[
        TemplateKey, Placeholders("username", "missing", "extension_days", "camp_ends")
    ]
    failed: Annotated[TemplateKey, Placeholders("username", "missing")]  # PM: removed after camp
    referrer_passed: Annotated[TemplateKey, _REFERRER_OUTCOME]  # PM to referrer
    referrer_failed: Annotated[TemplateKey, _REFERRER_OUTCOME]  # PM to referrer
    # staff audit-log entry for a pass, extension or removal; {round}: 1 for the camp,
    # 2 for its first extension...
    decided: (
        Annotated[
            TemplateKey,
            Placeholders("username", "user_id", "round", "outcome", "progress", "missing"),
            TopicTitle(("user_id", "round", "outcome")),
        ]
        | None
    ) = None


class Camp(RulesModel):
    duration_days: CampDays = 7
    tasks: CampTasks
    on_pass: Literal["promote"] = "promote"  # move from camp group to members group
    # individual: a PM to each camper who passed (messages.passed); shared: one PM to up to
    # 30 campers who passed in the same check (messages.passed_shared; Discourse's
    # max_allowed_message_recipients). Extensions and removals are always individual.
    pass_message: Literal["individual", "shared"] = "individual"
    on_fail: Literal["extend", "remove"] = "extend"  # "extend" removes once extensions run out
    extension: CampExtension = CampExtension()
    check_schedule: CronExpr = "0 9 * * *"  # when camp progress is evaluated
    # The camp's chat channel: a category channel of the check-ins category, made when the
    # first camper enters (every intake shares the camp group, so one channel for all).
    chat_channel: bool = False
    messages: CampMessages


# ───────────────────────────── squads.yml ─────────────────────────────

LeaderSource = Literal["volunteers", "most_active", "staff"]


class SquadSize(RulesModel):
    target: MemberCount = 10
    min: MemberCount = 8
    max: MemberCount = 12

    @model_validator(mode="after")
    def _ordered(self) -> SquadSize:
        if not self.min <= self.target <= self.max:
            raise ValueError(
                f"must satisfy min <= target <= max (got min={self.min}, "
                f"target={self.target}, max={self.max})"
            )
        return self


class Grouping(RulesModel):
    """Squads are formed within classes of members sharing a key (e.g. city)."""

    key_field: UserFieldName | None = None  # None: one class per intake
    unknown_value: str = "other"  # class key for members with the field empty
    class_size: MemberCount = 20  # members per class; a class is split into squads
    class_leader: bool = True  # pick a class leader among the squad leaders


class LeaderSelection(RulesModel):
    order: tuple[LeaderSource, ...] = Field(
        default=("volunteers", "most_active", "staff"), min_length=1
    )
    volunteer_field: UserFieldName | None = None  # user field; truthy = volunteers to lead

    @model_validator(mode="after")
    def _unique(self) -> LeaderSelection:
        if len(set(self.order)) != len(self.order):
            raise ValueError(f"order lists a source twice: {list(self.order)}")
        if "volunteers" in self.order and not self.volunteer_field:
            raise ValueError("volunteer_field must be set when order includes 'volunteers'")
        return self


# Placeholders available in naming templates. ``cohort`` is the intake date
# formatted with ``naming.cohort_format``; ``n`` numbers squads within the intake,
# ``class_n`` numbers classes; ``class_key`` is the grouping value (may be Chinese).
SLUG_PLACEHOLDERS = ("cohort", "n", "class_n")
NAME_PLACEHOLDERS = ("cohort", "n", "class_n", "class_key")


class Naming(RulesModel):
    cohort_format: str = "%Y-%m"  # strftime of the intake date, e.g. "2026-11"
    squad_slug: FormatText = "sq-{cohort}-{n}"  # Discourse group name, ASCII, <= 20 chars
    squad_full_name: FormatText = "{cohort} 第{n}组"  # display name, Chinese allowed
    class_slug: FormatText = "cl-{cohort}-{class_n}"
    class_full_name: FormatText = "{cohort} {class_key}班"
    # The squad's leader group (moderates the squad category): squad slug + this suffix.
    leader_group_suffix: str = Field(default="-lead", pattern=r"^[a-z0-9_\-]{1,8}$")

    def cohort(self, intake: dt.datetime) -> str:
        return intake.strftime(self.cohort_format)


class SquadMessages(RulesModel):
    # PM to each member: your squad and leader
    assigned: Annotated[TemplateKey, Placeholders("username", "squad", "leader", "squad_url")]
    # PM to the leader (username): the members of your squad
    leader_squad_list: Annotated[
        TemplateKey, Placeholders("username", "squad", "members", "squad_url")
    ]
    # staff audit-log entry: squads formed or changed; {plan}: a short code of this plan
    # (a cohort's squads change as late graduates join: one entry per change)
    formed: (
        Annotated[
            TemplateKey,
            Placeholders("cohort", "plan", "count", "squads", "notes"),
            TopicTitle(("cohort", "plan")),
        ]
        | None
    ) = None


class Squads(RulesModel):
    size: SquadSize = SquadSize()
    grouping: Grouping = Grouping()
    leader: LeaderSelection = LeaderSelection(order=("most_active", "staff"))
    naming: Naming = Naming()
    private_category: bool = True  # each squad gets a category only it (and staff) can see
    # A squad below size.min: "merge" moves its members into the smallest squads of its class,
    # "refill" fills it first with late graduates, "keep" leaves it as it is.
    on_shrink: Literal["merge", "refill", "keep"] = "refill"
    messages: SquadMessages


# ───────────────────────────── obligations.yml ─────────────────────────────

PostingMode = Literal["topic", "thread"]
RollCallUpdates = Literal["posts", "daily", "reminders"]


class ArticleObligation(RulesModel):
    # "thread": a reply (floor) in the squad's weekly thread; "topic": each article a new topic.
    mode: PostingMode = "thread"
    category: CategorySlug | None = None  # None: the member's squad category
    # Title of the weekly thread ("thread" mode); {week} {year} {dates} {squad} {squad_slug}
    # ({dates}: the week's Monday to Sunday as people read them, with {year} unique).
    thread_title: Annotated[
        FormatText,
        Placeholders("week", "year", "dates", "squad", "squad_slug"),
        TopicTitle(
            ("year", "week", "squad"),
            ("year", "week", "squad_slug"),
            ("year", "dates", "squad"),
            ("year", "dates", "squad_slug"),
        ),
    ] = "{year}年第{week}周作业 · {squad}"
    # When the scheduler opens each squad's weekly thread ("thread" mode; community time zone).
    thread_opens: CronExpr = "5 0 * * mon"
    tag: str | None = None  # "topic" mode: only topics with this tag are articles
    min_length: PositiveInt = 800
    # "thread" mode: when the thread's first post (its roll call) is brought up to date,
    # each edit one call of the site's API bucket: "posts": within minutes of each post
    # (at most one edit per squad per 5 minutes); "daily": the first change of a day within
    # minutes, the day's later ones the next day (at most one edit per squad per day);
    # "reminders": the roll call comes with each reminder posted in the squad's thread
    # (``delivery: squad_thread``, at the end of its first post; ``diamond check`` wants
    # one); the first post says so and is never edited: no call besides the reminder's own.
    roll_call: RollCallUpdates = "posts"


ReviewKind = Literal["reply", "quote"]


class ReviewObligation(RulesModel):
    """Review the articles directly above and below one's own (by posting order)."""

    # articles reviewed on each side; half the largest squad already reaches everyone
    neighbours: Annotated[PositiveInt, Field(le=MAX_MEMBERS // 2)] = 1
    counts_as: tuple[ReviewKind, ...] = Field(default=("reply", "quote"), min_length=1)
    min_length: PositiveInt = 100
    # A review is on time by the end of the day this many days after the neighbour's article
    # (or after one's own, if that came later; community time zone); None: until the cap.
    due_days_after_article: Annotated[NonNegativeInt, Field(le=14)] | None = 1
    # Cap: reviews of week W's articles count until the article deadline + window_hours
    # (later than their due time they count as late; after the cap as missing).
    window_hours: WeekHours = 48


class Deadline(RulesModel):
    """Weekly article deadline in the community time zone (weeks are ISO weeks)."""

    weekday: Weekday = "sunday"
    time: dt.time = dt.time(22, 0)
    late_hours: Annotated[NonNegativeInt, Field(le=MAX_HOURS)] = (
        24  # an article this late counts as "late", later as missing
    )


class Reminder(RulesModel):
    name: str = Field(min_length=1)
    about: Literal["article", "review"]
    cron: CronExpr  # community time zone
    template: Annotated[
        TemplateKey,
        Placeholders(
            "username",
            "week",
            "dates",
            "squad",
            by="about",
            cases={
                "article": ("deadline", "min_length"),
                "review": ("review_links", "review_deadline"),
            },
        ),
    ]
    only_missing: bool = True  # remind only those who have not done it yet
    # pm: a PM to each member who owes (``template``), and the squad's list to its leader;
    # squad_thread: one post per squad in the week's thread mentioning those who owe
    # (``squad_reminder.<about>``), the leader cc'd instead of a separate note. Needs
    # article.mode "thread". squad_channel: the same as a chat message in the squad's chat
    # channel (``squad_channel_reminder.<about>``; at most 5 mentions a message, Discourse's
    # max_mentions_per_chat_message); a squad without a channel gets the thread's post.
    delivery: Literal["pm", "squad_thread", "squad_channel"] = "pm"


class LeaveOfAbsence(RulesModel):
    enabled: bool = True
    category: CategorySlug = "leave"  # a post here by the member requests leave
    min_notice_hours: Annotated[NonNegativeInt, Field(le=MAX_HOURS)] = (
        24  # before the deadline of the week requested
    )
    max_weeks_in_a_row: Weeks = 2
    max_weeks_per_year: Annotated[NonNegativeInt, Field(le=53)] = 6
    # Optional user field listing weeks of leave, e.g. "2026-W47, 2026-W48".
    user_field: UserFieldName | None = None


class StrikeWeights(RulesModel):
    missing_article: NonNegativeInt = 2
    missing_review: NonNegativeInt = 1  # per review not written
    late: NonNegativeInt = 1  # article or review within the late window


class StrikeExpiry(RulesModel):
    clean_weeks: Weeks = 4  # consecutive weeks with no new strike
    forgive: Literal["all", "one"] = "all"  # what those weeks wipe out


# What every ladder action's template gets; ``member`` is the one penalised, ``username``
# the recipient (the leader for notify_leader); ``leader`` and ``reviewers`` (a group) are
# where the member can write to ask or appeal.
_LADDER = (
    "username", "member", "strikes", "reasons", "next_strikes", "week", "year", "dates",
    "squad", "leader", "reviewers",
)  # fmt: skip
LadderTemplate = Annotated[TemplateKey, Placeholders(*_LADDER)]


class PmAction(RulesModel):
    action: Literal["pm"]
    template: LadderTemplate


class NotifyLeaderAction(RulesModel):
    action: Literal["notify_leader"]
    template: LadderTemplate


class PublicNoticeAction(RulesModel):
    action: Literal["public_notice"]
    # A post in the squad's weekly thread; a topic of its own where there is none.
    template: Annotated[
        TemplateKey,
        Placeholders(*_LADDER),
        TopicTitle(("member", "year", "week"), ("member", "year", "dates")),
    ]
    category: CategorySlug | None = None  # None: the member's squad category


class SilenceAction(RulesModel):
    action: Literal["silence"]
    days: Annotated[PositiveInt, Field(le=MAX_SILENCE_DAYS)]
    # reason shown to the member
    template: Annotated[TemplateKey, Placeholders(*_LADDER, "days", "until")]


class RemoveFromSquadAction(RulesModel):
    action: Literal["remove_from_squad"]
    template: LadderTemplate
    to_group: Literal["alumni"] | None = "alumni"  # also add to community.groups.alumni


PenaltyAction = Annotated[
    PmAction | NotifyLeaderAction | PublicNoticeAction | SilenceAction | RemoveFromSquadAction,
    Field(discriminator="action"),
]


class LadderStep(RulesModel):
    strikes: Annotated[
        PositiveInt, Field(le=1000)
    ]  # reached when a member's active strikes >= this
    actions: tuple[PenaltyAction, ...] = Field(min_length=1)


class Penalties(RulesModel):
    weights: StrikeWeights = StrikeWeights()
    ladder: tuple[LadderStep, ...] = Field(min_length=1)
    expiry: StrikeExpiry = StrikeExpiry()


class Audit(RulesModel):
    cron: CronExpr  # weekly audit, after deadline + review window
    # Largest share of members one audit may penalise; beyond it the audit stops and asks staff.
    max_penalised_share: Share = 0.3
    name_missing: bool = True  # the squad's weekly summary names who wrote no article


class ObligationMessages(RulesModel):
    # post in each squad's weekly thread after the audit (a topic where there is none)
    squad_weekly_summary: Annotated[
        TemplateKey,
        Placeholders(
            "squad",
            "week",
            "year",
            "articles",
            "missing",
            "reviews_done",
            "reviews_owed",
            "completion",
            "dates",
        ),
        TopicTitle(("squad", "year", "week"), ("squad", "year", "dates")),
    ]
    # staff audit-log post
    audit_summary: Annotated[
        TemplateKey,
        Placeholders("week", "year", "members", "penalised", "details"),
        TopicTitle(("year", "week")),
    ]
    # staff audit-log post when max_penalised_share is exceeded
    audit_halted: Annotated[
        TemplateKey,
        Placeholders("week", "year", "iso_week", "share", "max_share", "penalised", "members"),
        TopicTitle(("year", "week"), ("iso_week",)),
    ]
    # first post of the weekly thread ("thread" mode)
    weekly_thread: (
        Annotated[
            TemplateKey,
            Placeholders(
                "squad", "week", "year", "dates", "deadline", "min_length", "review_min_length"
            ),
        ]
        | None
    ) = None
    # PM to a leader (username): who in the squad still owes
    leader_reminder: (
        Annotated[
            TemplateKey,
            Placeholders("username", "squad", "week", "dates", "missing_articles", "owed_reviews"),
        ]
        | None
    ) = None


class Obligations(RulesModel):
    # Obligations begin with the first week starting after the member joined their squad
    # (after camp); the joining week is exempt. False: owed from the joining week on.
    starts_after_camp: bool = True
    article: ArticleObligation = ArticleObligation()
    review: ReviewObligation = ReviewObligation()
    deadline: Deadline = Deadline()
    reminders: tuple[Reminder, ...] = ()
    leave: LeaveOfAbsence = LeaveOfAbsence()
    penalties: Penalties
    audit: Audit
    messages: ObligationMessages

    @property
    def roll_call_delivery(self) -> str:
        """Where the reminders carry the roll call (``article.roll_call: reminders``):
        "squad_channel" when they all go to the squads' chat channels, else "squad_thread"
        (the weekly thread's first post says which)."""
        delivered = {r.delivery for r in self.reminders} - {"pm"}
        return "squad_channel" if delivered == {"squad_channel"} else "squad_thread"


# ───────────────────────────── badges.yml ─────────────────────────────


class ReviewerBeyondDuty(RulesModel):
    kind: Literal["reviewer_beyond_duty"]
    min_extra_reviews: PositiveInt = 5  # reviews beyond one's obligation
    weeks: Weeks = 4  # within the last N weeks
    min_length: NonNegativeInt = 100


class DigestCurator(RulesModel):
    kind: Literal["digest_curator"]
    min_digests: PositiveInt = 2  # topics in community.categories.digests (or tagged `tag`)
    weeks: Weeks = 4
    min_length: NonNegativeInt = 300
    min_likes: NonNegativeInt = 3  # liked by at least this many others
    min_replies: NonNegativeInt = 1  # replies by others: it gathered a discussion
    tag: str | None = "digest"  # topics with this tag count as digests wherever they are


class HomeworkReminder(RulesModel):
    kind: Literal["homework_reminder"]
    min_reminders: PositiveInt = 3  # posts mentioning squad mates who had not yet posted
    weeks: Weeks = 4
    # Messages in the squad's chat channel that mention such mates count too.
    chat: bool = False


class Connector(RulesModel):
    kind: Literal["connector"]
    min_other_squads: PositiveInt = 3  # distinct other squads replied to / reviewed
    min_people: NonNegativeInt = 5  # distinct people of other squads replied to / reviewed
    weeks: Weeks = 4


class Welcomer(RulesModel):
    kind: Literal["welcomer"]
    min_campers_welcomed: PositiveInt = 5  # distinct campers replied to in introductions
    weeks: Weeks = 4


class Streak(RulesModel):
    kind: Literal["streak"]
    weeks: Weeks = 8  # consecutive weeks with every obligation met


class FullAttendance(RulesModel):
    kind: Literal["full_attendance"]
    weeks: Weeks = 4  # consecutive weeks in which every squad member met every obligation


BadgeCriterion = Annotated[
    ReviewerBeyondDuty
    | DigestCurator
    | HomeworkReminder
    | Connector
    | Welcomer
    | Streak
    | FullAttendance,
    Field(discriminator="kind"),
]

BadgeKind = Literal[
    "reviewer_beyond_duty",
    "digest_curator",
    "homework_reminder",
    "connector",
    "welcomer",
    "streak",
    "full_attendance",
]


class Badge(RulesModel):
    slug: GroupSlug  # stable id used by Diamond (ASCII); the marker of what it owns
    name: str = Field(min_length=1, max_length=100)  # Discourse badge name, Chinese allowed
    tier: Literal["gold", "silver", "bronze"]
    description: LocalText  # the forum's badge page shows the default language's
    criterion: BadgeCriterion
    revocable: bool = False  # revoke when the criterion no longer holds
    # PM when granted
    template: Annotated[TemplateKey, Placeholders("username", "badge", "description", "reason_url")]

    @property
    def kind(self) -> BadgeKind:
        return self.criterion.kind

    @property
    def badge_type_id(self) -> int:
        return {"gold": 1, "silver": 2, "bronze": 3}[self.tier]


class Badges(RulesModel):
    badges: tuple[Badge, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Badges:
        for attr in ("slug", "name"):
            seen: set[str] = set()
            for badge in self.badges:
                value = getattr(badge, attr)
                if value in seen:
                    raise ValueError(f"two badges share the {attr} {value!r}")
                seen.add(value)
        return self


# ───────────────────────────── health.yml ─────────────────────────────


class AtLeast(RulesModel):
    """A metric where more is better: healthy at or above ``healthy``, alarm below ``critical``."""

    healthy: float = Field(ge=0)
    critical: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> AtLeast:
        if self.critical > self.healthy:
            raise ValueError(f"critical ({self.critical}) must not exceed healthy ({self.healthy})")
        return self


class AtMost(RulesModel):
    """A metric where less is better: healthy at or below ``healthy``, alarm above ``critical``."""

    healthy: float = Field(ge=0)
    critical: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> AtMost:
        if self.critical < self.healthy:
            raise ValueError(
                f"critical ({self.critical}) must not be below healthy ({self.healthy})"
            )
        return self


class HealthThresholds(RulesModel):
    article_rate: AtLeast = AtLeast(healthy=0.85, critical=0.6)  # share who wrote
    review_rate: AtLeast = AtLeast(healthy=0.8, critical=0.5)  # reviews written / owed
    cross_squad_reply_rate: AtLeast = AtLeast(healthy=0.15, critical=0.05)  # bonds between squads
    partners_per_member: AtLeast = AtLeast(healthy=3, critical=1)  # distinct people replied to
    # members with no post and no chat message of health.chat.min_units this week
    silent_share: AtMost = AtMost(healthy=0.1, critical=0.25)
    penalised_share: AtMost = AtMost(healthy=0.1, critical=0.25)  # members who got a strike
    camp_pass_rate: AtLeast = AtLeast(healthy=0.6, critical=0.3)
    # Signs of a dying group:
    staff_post_share: AtMost = AtMost(healthy=0.4, critical=0.6)  # posts by staff and leaders
    ad_post_share: AtMost = AtMost(healthy=0.02, critical=0.05)  # screened words, link-only
    actives_ratio: AtLeast = AtLeast(healthy=0.9, critical=0.7)  # actives vs previous weeks
    unanswered_share: AtMost = AtMost(healthy=0.2, critical=0.4)  # topics nobody answered
    contributor_share: AtLeast = AtLeast(healthy=0.2, critical=0.1)  # members giving beyond duty
    isolated_share: AtMost = AtMost(healthy=0.1, critical=0.25)  # no interaction for 2 weeks

    @model_validator(mode="after")
    def _rates_are_fractions(self) -> HealthThresholds:
        for name in type(self).model_fields:
            if name == "partners_per_member":
                continue
            band = getattr(self, name)
            if band.healthy > 1 or band.critical > 1:
                raise ValueError(f"{name} is a fraction: healthy and critical must be <= 1")
        return self


# The report's sections, one placeholder each (worker/report/tables.py ``sections``; the
# completion table is {squads}); {metrics} is all of them in order.
REPORT_SECTIONS = (
    "alerts",
    "stages",
    "flows",
    "contributors",
    "graph",
    "bonds",
    "isolated",
    "activity",
    "indicators",
    "squads",
)


class HealthMessages(RulesModel):
    # the staff health report post
    # {week}: the week's number, {year} its ISO year, {iso_week} both ("2026-W47")
    report: Annotated[
        TemplateKey,
        Placeholders("week", "year", "iso_week", "verdict", "metrics", *REPORT_SECTIONS),
        TopicTitle(("year", "week"), ("iso_week",)),
    ]
    # a leader's part: their squad's figures, PM'd to the leader
    leader_part: Annotated[
        TemplateKey, Placeholders("username", "squad", "week", "year", "iso_week", "metrics")
    ]


class HealthChat(RulesModel):
    """How squad chat counts in the interaction graph (replies, mentions, thread starters)."""

    # One chat interaction's weight (a forum reply weighs 1): a pair is bonded in a week
    # once its interactions weigh 1, so 0.5 means two chat exchanges make one bond; 0 off.
    weight: float = Field(default=0.5, ge=0, le=1)
    min_units: NonNegativeInt = 5  # shorter messages ("ok", "👍") make no bond


class Health(RulesModel):
    report_cron: CronExpr = "0 21 * * sun"
    report_category: CategorySlug | None = None  # None: community.categories.audit_log
    lookback_weeks: Weeks = 4  # trends are computed over this many weeks
    isolation_weeks: Weeks = 2  # no interaction for this many weeks: isolated
    unanswered_hours: WeekHours = 48  # a topic this old with no reply by others: unanswered
    link_only_max_units: NonNegativeInt = 5  # a post with a link and at most this much text
    thresholds: HealthThresholds = HealthThresholds()
    chat: HealthChat = HealthChat()
    messages: HealthMessages


# ───────────────────────────── messages/<lang>.yml ─────────────────────────────


class MessageTemplate(RulesModel):
    """A message: an optional title (PM/topic title) and a body, both str.format templates.

    In the file a plain string is a body without title.
    """

    title: FormatText | None = None
    body: FormatText

    @model_validator(mode="before")
    @classmethod
    def _plain_string_is_body(cls, data: object) -> object:
        return {"body": data} if isinstance(data, str) else data


class Rendered(RulesModel):
    title: str
    body: str


class Messages(RootModel[dict[MessageKey, MessageTemplate]]):
    """``messages/<lang>.yml``: template key -> body text or {title, body}."""

    model_config = ConfigDict(frozen=True)

    @property
    def templates(self) -> Mapping[str, MessageTemplate]:
        return self.root


# Templates the code renders by a fixed key instead of one a rule field names
# (``fnmatch`` patterns). Any other template no field names is only checked for syntax.
FIXED_TEMPLATES: dict[str, Placeholders] = {
    # worker/engine/recognition.py: the staff post, and one line per grant or revocation
    "badge_audit": Placeholders("week", "year", "iso_week", "decisions"),
    "badge_audit_grant": Placeholders("username", "badge", "reason_url", "count", "evidence"),
    "badge_audit_revoke": Placeholders("username", "badge", "reason_url", "count", "evidence"),
    # worker/engine/penalties.py: one line of {reasons} per failing (author: whose article)
    "obligation_reason.*": Placeholders("week", "dates", "author"),
    # worker/apply.py: what Diamond writes in shadow mode, wrapped so that it says so
    "shadow_mode": Placeholders("title", "body"),
    # worker/engine/notices.py: staff notices (jobs that gave up, rules that do not load)
    "notice_*": Placeholders("date", "time", "count", "details", "suppressed"),
    # worker/engine/changelog.py: what a change of the rule files changed
    "rules_changelog": Placeholders("date", "time", "count", "changes", "old_checksum", "checksum"),
    # worker/engine/gating.py: why a check failed (every value is passed, empty where it
    # does not apply), a staff line per check, and the words around them
    "gate_reason.*": Placeholders(
        "referrer", "count", "limit", "unit", "reason", "target", "other", "text"
    ),
    "gate_check": Placeholders("reason", "matched", "action", "rule"),
    "gate_note.*": Placeholders(),
    "gate_action.*": Placeholders(),
    "gate_outcome.*": Placeholders(),
    "gate_target.*": Placeholders(),
    # worker/engine/camp.py: an open task, the progress of a task, the verdict's word
    "camp_task.*": Placeholders("category", "min_length", "unit", "done", "need", "mark"),
    "camp_progress.*": Placeholders("category", "min_length", "unit", "done", "need", "mark"),
    "camp_outcome.*": Placeholders(),
    # worker/engine/camp.py: the welcome's words when a chat message checks in too
    "camp_checkin_chat": Placeholders("category", "min_length", "unit"),
    # worker/engine/camp.py: a camp check's one audit-log topic, every decision of the run
    "camp_check_log": Placeholders("date", "count", "run", "entries"),
    # worker/engine/squads.py: one squad of the staff log's plan, its class, who chose its leader
    "squad_line": Placeholders("squad", "slug", "count", "leader", "klass", "changes"),
    "squad_class": Placeholders("name", "leader"),
    "squad_leader_source.*": Placeholders(),
    # how length is counted: 字 / words
    "unit": Placeholders(),
    # worker/engine/obligations.py: the answer to a leave request, a line per week asked,
    # why a week was refused (each names its rule), and the leave rules in one line
    "leave_answer": Placeholders("username", "weeks", "rules"),
    "leave_week.*": Placeholders("year", "week", "first", "last", "reason"),
    "leave_reason.*": Placeholders("hours", "deadline", "max"),
    "leave_rules": Placeholders("hours", "in_a_row", "per_year"),
    # worker/engine/obligations.py: a reminder posted in the squad's weekly thread
    # (``delivery: squad_thread``): {members} the @mentions of those who owe an article,
    # {reviews} a line per review owed, {cc} the leader's line (``squad_reminder_cc``) or ""
    "squad_reminder.article": Placeholders(
        "squad", "week", "dates", "deadline", "min_length", "members", "cc"
    ),
    "squad_reminder.review": Placeholders(
        "squad", "week", "dates", "review_deadline", "reviews", "cc"
    ),
    "squad_reminder_review_line": Placeholders("reviewer", "author", "link", "due"),
    # the same in the squad's chat channel (``delivery: squad_channel``); {thread} the
    # weekly thread's link
    "squad_channel_reminder.article": Placeholders(
        "squad", "week", "dates", "deadline", "min_length", "members", "cc", "thread"
    ),
    "squad_channel_reminder.review": Placeholders(
        "squad", "week", "dates", "review_deadline", "reviews", "cc", "thread"
    ),
    "squad_reminder_cc": Placeholders("leader"),
    # worker/engine/obligations.py: the PM topic a leader's notes of one week gather in
    "leader_week_thread": Placeholders("squad", "year", "week", "dates", "first", "last"),
    # worker/engine/obligations.py: the weekly thread's roll call, a line per member (its
    # state: written, late, missing, leave, new) and per review (done, open)
    "roll_call": Placeholders("opening", "members", "reviews"),
    # {who}/{by}/{to}: the name as the post names it (@-mentioned in the first post; plain
    # in a reminder's roll call, ``reminder_roll_call``, whose mentions are those who owe)
    "roll_call_member.*": Placeholders("username", "who", "article", "streak"),
    "roll_call_review.*": Placeholders("reviewer", "author", "by", "to", "review"),
    # ``article.roll_call: reminders``: the roll call ending a squad-thread reminder, and
    # the line ending the weekly thread's first post that says so
    "reminder_roll_call": Placeholders("members", "reviews"),
    "weekly_thread_roll_call.*": Placeholders(),  # .squad_thread, .squad_channel
}

# The wrapper of every staff post and PM written in shadow mode (see ``worker.apply``):
# required in every rules directory, since shadow mode must never write without it.
SHADOW_TEMPLATE = "shadow_mode"
# The rules changelog too: a change of the rules must always reach the staff audit log.
REQUIRED_TEMPLATES: tuple[str, ...] = (SHADOW_TEMPLATE, "rules_changelog")


# Templates of FIXED_TEMPLATES that open a forum topic (see TopicTitle).
FIXED_TOPIC_TITLES: dict[str, TopicTitle] = {
    "badge_audit": TopicTitle(("year", "week"), ("iso_week",)),
    # one topic per camp check run: its decisions' digest
    "camp_check_log": TopicTitle(("run",)),
    # {title} is unique already; the words around it keep a shadow entry's title apart
    # from the live entry's (checks.check_topic_titles)
    SHADOW_TEMPLATE: TopicTitle(("title",)),
    # one topic per change: the new rules' checksum at that moment
    "rules_changelog": TopicTitle(("date", "time", "checksum")),
}


# ───────────────────────────── all rules ─────────────────────────────


# A week's dates as members read them ({dates}), and within one month (``_one_month``).
WEEK_DATES_TEMPLATE = "week_dates"


class _LenientValues(dict):
    # A placeholder the caller did not supply stays visible instead of crashing a job
    # (load_rules reports those it can foresee: checks.check_placeholders).
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Rules(RulesModel):
    """All rule files of one directory, validated together."""

    community: Community
    gating: Gating
    camp: Camp
    squads: Squads
    obligations: Obligations
    badges: Badges
    health: Health
    messages: Mapping[Language, Messages]

    @property
    def tz(self) -> ZoneInfo:
        return self.community.tz

    def template(self, key: str, lang: str | None = None) -> MessageTemplate:
        """``lang``: a member's stored preference, any string; unknown means the default."""
        chosen = lang if lang in LANGUAGES else self.community.default_language
        return self.messages[chosen].templates[key]

    def render(self, key: str, lang: str | None = None, **values: object) -> Rendered:
        """Title and body of template ``key`` in ``lang`` (default language when None).

        ``community`` is always available as a placeholder. A title-less template
        gets the community name as its title.
        """
        template = self.template(key, lang)
        mapping = _LenientValues(community=self.community.name, **values)
        title = template.title.format_map(mapping) if template.title else self.community.name
        return Rendered(title=title, body=template.body.format_map(mapping))

    def week_dates(self, week: Week, lang: str | None = None) -> str:
        """A week as members read it, Monday to Sunday without the year ("11月16日–22日",
        "16–22 Nov"): the ``week_dates`` templates of ``lang`` (the report's
        ``health_week_dates`` where a rules directory has none)."""
        # The audit asks for the same few weeks once per member it writes to (100,000 in
        # bench.audit): the labels are parsed once per rules and language, not each time.
        # Kept on this object, with the object it was made for: ``model_copy`` (another
        # language, other templates) copies ``__dict__``, and a copy must not inherit it.
        memo: dict[tuple[Week, str | None], str]
        owner, memo = self.__dict__.get("_week_dates_memo") or (None, {})
        if owner is not self:
            memo = {}
            self.__dict__["_week_dates_memo"] = (self, memo)
        if (known := memo.get((week, lang))) is not None:
            return known
        memo[(week, lang)] = text = self._week_dates(week, lang)
        return text

    def _week_dates(self, week: Week, lang: str | None) -> str:
        import dataclasses

        from worker.report.labels import Labels  # it reads these rules: imported late

        labels = Labels.from_rules(self, lang)
        templates = self.messages[labels.language].templates  # type: ignore[index]  # a language of messages
        if (dates := templates.get(WEEK_DATES_TEMPLATE)) is not None:
            one_month = templates.get(WEEK_DATES_TEMPLATE + "_one_month") or dates
            labels = dataclasses.replace(
                labels, dates=dates.body.strip(), dates_one_month=one_month.body.strip()
            )
        return labels.week_dates(week)

    def message(self, key: str, lang: str | None = None, **values: object) -> str:
        """The rendered body of template ``key``."""
        return self.render(key, lang, **values).body


# file name (relative to the rules dir) -> (Rules field, model)
SECTION_FILES: dict[str, tuple[str, type[RulesModel]]] = {
    "community.yml": ("community", Community),
    "gating.yml": ("gating", Gating),
    "camp.yml": ("camp", Camp),
    "squads.yml": ("squads", Squads),
    "obligations.yml": ("obligations", Obligations),
    "badges.yml": ("badges", Badges),
    "health.yml": ("health", Health),
}
MESSAGE_FILES: dict[str, Language] = {f"messages/{lang}.yml": lang for lang in LANGUAGES}

__all__ = [
    "FIXED_TEMPLATES",
    "NAME_PLACEHOLDERS",
    "REPORT_SECTIONS",
    "REQUIRED_TEMPLATES",
    "SHADOW_TEMPLATE",
    "SLUG_PLACEHOLDERS",
    "Application",
    "ArticleObligation",
    "AtLeast",
    "AtMost",
    "Audit",
    "Badge",
    "BadgeCriterion",
    "BadgeKind",
    "Badges",
    "BaseCategories",
    "BaseGroups",
    "Camp",
    "CampExtension",
    "CampMessages",
    "CampTasks",
    "CheckinTask",
    "Community",
    "Connector",
    "Deadline",
    "DigestCurator",
    "Duplicates",
    "FullAttendance",
    "GateFailAction",
    "Gating",
    "GatingMessages",
    "Grouping",
    "Health",
    "HealthMessages",
    "HealthThresholds",
    "HomeworkReminder",
    "IntroductionTask",
    "LadderStep",
    "LeaderSelection",
    "LeaderSource",
    "LeaveOfAbsence",
    "MessageTemplate",
    "Messages",
    "Naming",
    "NotifyLeaderAction",
    "ObligationMessages",
    "Obligations",
    "Payment",
    "Penalties",
    "PenaltyAction",
    "PmAction",
    "PostingMode",
    "PublicNoticeAction",
    "Referral",
    "ReferralVia",
    "ReferrerRequirements",
    "Reminder",
    "RemoveFromSquadAction",
    "Rendered",
    "RepliesTask",
    "ReviewKind",
    "ReviewObligation",
    "ReviewerBeyondDuty",
    "Rules",
    "RulesModel",
    "ScreenList",
    "ScreenTarget",
    "SilenceAction",
    "SquadMessages",
    "SquadSize",
    "Squads",
    "Streak",
    "StrikeExpiry",
    "StrikeWeights",
    "Welcomer",
]
