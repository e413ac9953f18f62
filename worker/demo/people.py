"""Who takes part in the demo: the founding members, and an intake of applicants.

Everything is generated from a seed, so two runs tell the same story. Each
applicant carries the *story* the demo wants to tell about them (``kind``, what
a human reviewer would do with a held application, how they behave in camp and
afterwards); what actually happens to them is decided by Diamond and read back
from the forum for the summary.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from worker.engine.textlen import count_units

Kind = Literal[
    "good",  # referred, long enough, paid: should be approved into the camp
    "promoter",  # advertises a get-rich-quick scheme: rejected by screening
    "short",  # introduction far below the minimum length: held for a human
    "no_referrer",  # nobody referred them: rejected
    "over_quota",  # their referrer already brought three people this month: rejected
    "notes_only",  # "just want the notes": held for a human
    "disposable",  # signed up with a disposable email address: held for a human
    "unpaid",  # no payment reference yet: held for a human
    "duplicate",  # a second account with the same (gmail) address: held for a human
]
CampHabit = Literal["diligent", "slow", "absent"]  # slow: extended once, then passes
# When the applicant follows the activation link in their email: Diamond gates an email
# sign-up only once it is confirmed (Discourse approves only active accounts).
Confirms = Literal["at_once", "late", "never"]
WeekHabit = Literal["diligent", "misser", "dropout", "digest", "extra_reviewer", "connector"]

CITIES = ("北京", "北京", "上海", "上海", "深圳", "杭州", "成都")
_SURNAMES = (
    "li wang zhang liu chen yang zhao huang zhou wu xu sun hu zhu gao lin he guo ma luo "
    "liang song zheng xie han tang feng yu dong xiao cheng cao yuan deng fu shen zeng peng"
)
SURNAMES = tuple(_SURNAMES.split())
_GIVEN = (
    "wei fang na min jing li qiang lei jun yang yong yan jie tao ming chao xiu xia hui "
    "ping gang hua dan bin lan yu ying hao kai rui xin yue chen lu shan ning"
)
GIVEN = tuple(_GIVEN.split())

# Material for texts that read like the real thing (length is what the rules count).
_ZH_SENTENCES = (
    "我是一名在互联网公司工作了五年的产品经理,最近越来越觉得自己需要系统地读书和写作。",
    "过去一年我断断续续写了二十多篇读书笔记,但总是因为没有同伴督促而半途而废。",
    "听朋友说这个社区每周都要写一篇文章,还要认真点评上下楼的作品,我觉得这正是我需要的。",
    "我希望在这里和一群认真的人一起,把每周的阅读和思考变成可以分享的文字。",
    "我愿意遵守社区的规则,按时交作业,也会认真阅读并点评组员的文章。",
    "我平时喜欢读历史和心理学方面的书,也对城市规划和公共政策很感兴趣。",
    "写作对我来说是整理思路的方式,每次写完都会发现自己原来没有想清楚的地方。",
    "我知道每周八百字并不轻松,但我相信坚持下来会让我的表达能力有明显提高。",
    "如果有机会担任组长,我也愿意为小组做一些组织和提醒的工作。",
    "我最近在读一本关于习惯养成的书,书里说环境比意志力更重要,这也是我申请的原因。",
    "工作之外,我每天早上会留出一个小时读书,周末会把读到的内容整理成笔记。",
    "我希望认识不同行业的朋友,听听他们怎么看待同一本书、同一个问题。",
)
_ZH_ARTICLE = (
    "这一周我读完了一本讲时间管理的书,作者认为真正稀缺的不是时间而是注意力。",
    "书中举了很多例子,其中让我印象最深的是关于深度工作的那一章。",
    "作者建议每天给自己留出一段不被打扰的时间,专门处理最重要也最困难的事情。",
    "我试着在工作日的早上七点到九点关掉手机通知,结果发现效率确实提高了不少。",
    "不过我也发现,长期坚持需要身边人的理解,否则很容易被各种临时的事情打断。",
    "另一个收获是关于复盘的方法:每周末花半小时回顾这一周做了什么、学到了什么。",
    "以前我总觉得复盘是浪费时间,现在才明白没有复盘的努力很难积累成真正的能力。",
    "书里也有我不太同意的地方,比如作者把所有的社交都看成干扰,这未免有些绝对。",
    "在我看来,和朋友讨论一本书本身就是一种深度思考,很多想法是在交流中才变清楚的。",
    "下周我打算继续读这位作者的另一本书,看看他对长期主义的理解有什么变化。",
    "我们小组的讨论也给了我很多启发,尤其是上周关于阅读方法的那几篇文章。",
    "写到这里,我想起小时候父亲常说的一句话:慢慢来,比较快。",
    "这句话放在学习上同样适用,急于求成往往适得其反,稳定的节奏才最重要。",
    "最后想感谢组里每一位认真点评的朋友,你们的意见让我的文章越改越好。",
)
_ZH_REVIEW = (
    "读完你的文章很受启发,尤其是关于注意力的那一段,我也有类似的体会。",
    "我觉得第二部分的论证可以再展开一些,举一个你自己工作中的例子会更有说服力。",
    "结尾的那句话写得很好,把全文的意思收住了,读起来很舒服。",
    "有一个小建议:段落之间的过渡可以更自然一点,现在读起来稍微有些跳跃。",
    "你提到的复盘方法我打算这周就试一试,谢谢分享这么实用的经验。",
    "整体结构清楚,观点明确,期待你下周的文章。",
)
_EN_SENTENCES = (
    "I work as a software engineer and have been trying to write more regularly for years.",
    "Every time I start a writing habit alone it fades after a few weeks without peers.",
    "A friend in this community told me about the weekly article and the reviews of the "
    "neighbours above and below, and that rhythm is exactly what I am missing.",
    "I read mostly history and economics, and I would like to turn my notes into essays.",
    "I understand that missing articles has consequences and I am happy to accept the rules.",
    "I would also enjoy reviewing other people's work carefully and learning from their style.",
    "Outside work I run a small reading group, so I know how much a committed group matters.",
)
_PROMOTIONS = (
    "加微信 vx: richfast888 每天带你刷单赚钱,免费领取投资课程,名额有限!",
    "DM me for crypto signals, 300% monthly returns guaranteed, see https://moon-gains.xyz now",
    "代写各类文章论文,价格优惠,加微信详聊,保证原创。",
)
_NOTES_ONLY = "我只想要资料,不想写作业,可以直接把课程笔记发给我吗?"


def zh_text(rng: random.Random, units: int, bank: tuple[str, ...] = _ZH_SENTENCES) -> str:
    """Chinese prose of at least ``units`` 字 (as ``count_units`` counts them)."""
    parts: list[str] = []
    while count_units("".join(parts)) < units:
        parts.append(rng.choice(bank))
    return "".join(parts)


def en_text(rng: random.Random, words: int) -> str:
    parts: list[str] = []
    while count_units(" ".join(parts)) < words:
        parts.append(rng.choice(_EN_SENTENCES))
    return " ".join(parts)


def article_text(rng: random.Random, units: int = 850) -> str:
    return zh_text(rng, units, _ZH_ARTICLE)


def review_text(rng: random.Random, units: int = 120) -> str:
    return zh_text(rng, units, _ZH_REVIEW)


@dataclass(frozen=True)
class Founder:
    """A member from before Diamond: refers applicants, welcomes campers."""

    username: str
    name: str
    city: str
    moderator: bool = False  # the human who reviews held applications
    welcomer: bool = False  # replies to campers' introductions


@dataclass(frozen=True)
class Applicant:
    username: str
    name: str
    email: str
    kind: Kind
    city: str = ""
    language: str = "zh"
    application: str = ""
    payment: str = ""
    referrer: str | None = None
    via_invite: bool = False  # referred by a Discourse invite (else by the referrer field)
    confirms: Confirms = "at_once"  # an email invite needs no confirmation
    volunteer: bool = False
    previous_username: str = ""
    human_verdict: Literal["approve", "reject"] | None = None  # for a held application
    camp: CampHabit = "diligent"
    habit: WeekHabit = "diligent"
    missed_weeks: tuple[int, ...] = ()  # for "misser": weeks (1-based) without an article

    @property
    def expected(self) -> str:
        """What the rules should decide at the gate (shown next to what Diamond did)."""
        if self.confirms == "never":
            return "unconfirmed"  # never gated
        if self.kind == "good":
            return "approve"
        if self.kind in ("promoter", "no_referrer", "over_quota"):
            return "reject"
        return "hold"


@dataclass(frozen=True)
class Cast:
    founders: tuple[Founder, ...]
    applicants: tuple[Applicant, ...]
    seed: int

    @property
    def moderator(self) -> Founder:
        return next(f for f in self.founders if f.moderator)

    def applicant(self, username: str) -> Applicant | None:
        return next((a for a in self.applicants if a.username == username), None)

    def by_kind(self, kind: str) -> list[Applicant]:
        return [a for a in self.applicants if a.kind == kind]


@dataclass(frozen=True)
class CastSize:
    """How many of each kind; ``full()`` is the demo, ``small()`` the smoke test."""

    founders: int = 24
    good: int = 58
    promoter: int = 5
    short: int = 5
    no_referrer: int = 3
    over_quota: int = 2
    notes_only: int = 2
    disposable: int = 2
    unpaid: int = 2
    duplicate: int = 1
    slow_campers: int = 3
    absent_campers: int = 3
    dropouts: int = 2
    missers: int = 6
    digest_writers: int = 2
    extra_reviewers: int = 4
    connectors: int = 2
    late_confirmers: int = 4  # confirm their email hours after signing up
    never_confirm: int = 2  # never confirm: never gated
    cities: tuple[str, ...] = field(default=CITIES)

    @classmethod
    def full(cls) -> CastSize:
        return cls()

    @classmethod
    def small(cls) -> CastSize:
        return cls(
            founders=6, good=9, promoter=1, short=1, no_referrer=1, over_quota=0,
            notes_only=0, disposable=0, unpaid=0, duplicate=0, slow_campers=0,
            absent_campers=1, dropouts=1, missers=1, digest_writers=1, extra_reviewers=0,
            connectors=0, late_confirmers=1, never_confirm=1, cities=("北京",),
        )  # fmt: skip

    @property
    def applicants(self) -> int:
        return (
            self.good + self.promoter + self.short + self.no_referrer + self.over_quota
            + self.notes_only + self.disposable + self.unpaid + self.duplicate
        )  # fmt: skip


def _names(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Unique (username, display name) pairs: ``li_wei``, ``li_wei2``…"""
    seen: set[str] = set()
    while True:
        surname, given = rng.choice(SURNAMES), rng.choice(GIVEN)
        base = f"{surname}_{given}"
        username = base
        n = 2
        while username in seen:
            username = f"{base}{n}"
            n += 1
        seen.add(username)
        yield username, f"{surname.title()} {given.title()}"


def make_cast(size: CastSize | None = None, seed: int = 7) -> Cast:
    """The founders and a shuffled intake of applicants, as ``size`` says."""
    size = size or CastSize.full()
    rng = random.Random(seed)
    names = _names(rng)
    founders = []
    for i in range(size.founders):
        username, name = next(names)
        founders.append(
            Founder(
                username=username,
                name=name,
                city=size.cities[i % len(size.cities)],
                moderator=i == 0,
                welcomer=1 <= i <= 3,
            )
        )
    # Referrers: three approvals a month each at most (rules/gating.yml). The kinds that
    # end up approved share the slots of most founders; the flawed ones are referred by
    # two founders kept aside, so a quota never hides what is wrong with them.
    spare = [f.username for f in founders[-2:]]
    referral_slots = [f.username for f in founders[1:-2] for _ in range(3)]
    rng.shuffle(referral_slots)

    def referrer(kind: Kind) -> str:
        if kind in ("good", "disposable", "unpaid") and referral_slots:
            return referral_slots.pop()
        return rng.choice(spare)

    applicants: list[Applicant] = []

    def add(kind: Kind, count: int, **overrides: object) -> None:
        for _ in range(count):
            username, name = next(names)
            english = rng.random() < 0.1
            values: dict[str, object] = {
                "username": username,
                "name": name,
                "email": f"{username.replace('_', '.')}@example.org",
                "kind": kind,
                "city": rng.choice(size.cities),
                "language": "en" if english else "zh",
                "application": en_text(rng, 230) if english else zh_text(rng, 240),
                "payment": f"PAY-{rng.randrange(10**7, 10**8)}",
                "referrer": referrer(kind),
                "via_invite": rng.random() < 0.5,
                "volunteer": rng.random() < 0.15,
            }
            values.update(overrides)
            applicants.append(Applicant(**values))  # type: ignore[arg-type]  # Applicant's own fields

    add("good", size.good)
    add("promoter", size.promoter, application="")  # filled below, one scheme each
    add("short", size.short, application="你好,我想加入。", human_verdict="reject")
    add("no_referrer", size.no_referrer, referrer=None, via_invite=False)
    add("notes_only", size.notes_only, human_verdict="reject")
    # Held by Diamond but approved by a human: a sign-up (an invitee is approved by the
    # invite already, and a held invitee has nothing left for a moderator to approve).
    add("disposable", size.disposable, human_verdict="approve", via_invite=False)
    add("unpaid", size.unpaid, payment="no", human_verdict="approve")
    applicants = _finish(applicants, rng, size, founders)
    return Cast(tuple(founders), tuple(applicants), seed)


def _finish(
    applicants: list[Applicant], rng: random.Random, size: CastSize, founders: list[Founder]
) -> list[Applicant]:
    from dataclasses import replace

    out: list[Applicant] = []
    promos = iter(_PROMOTIONS * 10)
    for a in applicants:
        if a.kind == "promoter":
            a = replace(a, application=zh_text(rng, 210) + next(promos), volunteer=False)
        elif a.kind == "notes_only":
            a = replace(a, application=zh_text(rng, 210) + _NOTES_ONLY)
        elif a.kind == "disposable":
            a = replace(a, email=a.username.replace("_", "") + "@mailinator.com")
        out.append(a)
    names = _names(random.Random(rng.random()))
    taken = {a.username for a in out} | {f.username for f in founders}
    # Over quota: a founder who already has three good applicants refers one more.
    counts: dict[str, int] = {}
    for a in out:
        if a.referrer and a.kind == "good":
            counts[a.referrer] = counts.get(a.referrer, 0) + 1
    busy = [name for name, n in sorted(counts.items()) if n >= 3] or [founders[-1].username]
    for i in range(size.over_quota):
        username, name = _fresh(names, taken)
        out.append(
            Applicant(
                username=username, name=name, email=f"{username}@example.org",
                kind="over_quota", city=rng.choice(size.cities),
                application=zh_text(rng, 240), payment="PAY-1", referrer=busy[i % len(busy)],
            )
        )  # fmt: skip
    # A duplicate: the same gmail inbox as a good applicant, dots moved around.
    goods = [a for a in out if a.kind == "good"]
    for original in goods[: size.duplicate]:
        username, name = _fresh(names, taken)
        local = original.username.replace("_", "")
        out = [replace(a, email=f"{local}@gmail.com") if a is original else a for a in out]
        out.append(
            Applicant(
                username=username, name=original.name, email=f"{local[:3]}.{local[3:]}@gmail.com",
                kind="duplicate", city=original.city, application=original.application,
                payment=original.payment, referrer=founders[-1].username,
                human_verdict="reject",
            )
        )  # fmt: skip
    return _assign_habits(out, rng, size)


def _fresh(names: Iterator[tuple[str, str]], taken: set[str]) -> tuple[str, str]:
    while True:
        username, name = next(names)
        if username not in taken:
            taken.add(username)
            return username, name


def _assign_confirmations(
    applicants: list[Applicant], rng: random.Random, size: CastSize
) -> list[Applicant]:
    """Good sign-ups (not invitees: an email invite confirms the address) who confirm
    their email late, or never."""
    from dataclasses import replace

    pool = [a.username for a in applicants if a.kind == "good" and not a.via_invite]
    rng.shuffle(pool)
    never = set(pool[: size.never_confirm])
    late = set(pool[size.never_confirm : size.never_confirm + size.late_confirmers])
    return [
        replace(a, confirms="never")
        if a.username in never
        else replace(a, confirms="late")
        if a.username in late
        else a
        for a in applicants
    ]


def _assign_habits(applicants: list[Applicant], rng: random.Random, size: CastSize) -> list:
    from dataclasses import replace

    applicants = _assign_confirmations(applicants, rng, size)
    admitted = [
        a
        for a in applicants
        if (a.kind == "good" or a.human_verdict == "approve") and a.confirms != "never"
    ]
    order = list(admitted)
    rng.shuffle(order)
    camp: dict[str, CampHabit] = {}
    for a in order[: size.absent_campers]:
        camp[a.username] = "absent"
    for a in order[size.absent_campers : size.absent_campers + size.slow_campers]:
        camp[a.username] = "slow"
    graduates = [a for a in order if camp.get(a.username) != "absent"]
    habits: dict[str, tuple[WeekHabit, tuple[int, ...]]] = {}
    pool = iter(graduates)
    for habit, count in (
        ("dropout", size.dropouts),
        ("digest", size.digest_writers),
        ("extra_reviewer", size.extra_reviewers),
        ("connector", size.connectors),
    ):
        for i in range(count):
            person = next(pool, None)
            if person is None:
                continue
            # Dropouts: one writes the first week and then vanishes, the next never writes.
            missed: tuple[int, ...] = (
                ((2, 3, 4) if i % 2 == 0 else (1, 2, 3, 4)) if habit == "dropout" else ()
            )
            habits[person.username] = (habit, missed)  # type: ignore[assignment]  # habit: a WeekHabit
    for i in range(size.missers):
        person = next(pool, None)
        if person is not None:
            first = i % 4 + 1
            # Most miss one week; every third misses a second one, two weeks later.
            missed = (first,) if i % 3 else tuple(sorted({first, (first + 1) % 4 + 1}))
            habits[person.username] = ("misser", missed)
    out = []
    for a in applicants:
        habit, missed = habits.get(a.username, ("diligent", ()))
        out.append(
            replace(a, camp=camp.get(a.username, "diligent"), habit=habit, missed_weeks=missed)
        )
    rng.shuffle(out)  # applications arrive in no particular order
    return out
