"""The short summary at the end: who got in and why not, squads, penalties, badges, health.

Everything is read back from the forum (and Diamond's ledger) after the run:
it is what Diamond did, set next to what each applicant's story was.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

from worker.demo.ch_gate import gate_outcomes, gate_reasons
from worker.demo.context import Demo

KIND_WORDS = {
    "good": "referred, long enough, paid",
    "promoter": "promoting a get-rich-quick scheme",
    "short": "introduction too short",
    "no_referrer": "no valid referrer",
    "over_quota": "referrer over the monthly quota",
    "notes_only": "'just want the notes'",
    "disposable": "disposable email address",
    "unpaid": "no payment yet",
    "duplicate": "second account, same inbox",
}


def summary_lines(demo: Demo) -> list[str]:
    lines: list[str] = []
    lines += _gate(demo)
    lines += _camp_and_squads(demo)
    lines += _penalties(demo)
    lines += _leave(demo)
    lines += _roll_call(demo)
    lines += _badges(demo)
    lines += _health(demo)
    lines += _members(demo)
    return lines


def broken_promises(demo: Demo) -> list[str]:
    """What the story promised and did not happen: each of its weeks audited."""
    log_path = demo.stack.logs_dir / "worker.log"
    try:
        worker_log = log_path.read_text(errors="replace")
    except OSError:
        worker_log = ""
    return unaudited_weeks(demo.facts.get("weeks", {}), worker_log)


def unaudited_weeks(weeks: dict, worker_log: str) -> list[str]:
    """One line per week with members whose audit recorded no strikes (not even 0s):
    halted by the guard rail (the worker logged it), or never run."""
    out = []
    for _n, w in sorted(weeks.items()):
        if not w["members"] or w.get("recorded", 1):
            continue
        if f"audit of {w['week']} HALTED" in worker_log:
            out.append(
                f"the audit of {w['week']} HALTED at the guard rail: nothing applied to "
                "members, no strike recorded (see the staff audit log; "
                f"`diamond audit --week {w['week']} --dry-run`)"
            )
        else:
            out.append(f"the audit of {w['week']} did not run: no strike recorded")
    return out


def _members(demo: Demo) -> list[str]:
    done = demo.members.done
    refused = demo.members.refused
    line = "What members did: " + ", ".join(f"{n} {what}" for what, n in sorted(done.items()))
    if refused:
        line += "; refused by the forum: " + ", ".join(
            f"{n} {what}" for what, n in sorted(refused.items())
        )
    return [line]


def _gate(demo: Demo) -> list[str]:
    outcomes = gate_outcomes(demo)
    reasons = gate_reasons(demo)
    by_human: dict[str, str] = demo.facts.get("by_human", {})
    day0 = demo.facts.get("gate_outcomes_day0", outcomes)
    got_in = [n for n, o in day0.items() if o in ("camp", "member", "alumni")]
    lines = [f"Applicants: {len(outcomes)} · entered the camp: {len(got_in)}"]
    by_rules = [n for n in got_in if n not in by_human]
    after_human = Counter(by_human[n] for n in got_in if n in by_human)
    words = {
        "approved": "approved by the moderator",
        "payment confirmed": "approved once the moderator confirmed their payment",
    }
    lines.append(
        f"  {len(by_rules)} approved by the rules"
        + "".join(f", {n} {words.get(what, what)}" for what, n in sorted(after_human.items()))
    )
    not_in: dict[str, list[str]] = defaultdict(list)
    for person in demo.cast.applicants:
        if person.username not in got_in:
            not_in[person.kind].append(person.username)
    if not_in:
        lines.append("  not in, and why (Diamond's reasons from the staff audit log):")
    for kind, names in sorted(not_in.items(), key=lambda kv: -len(kv[1])):
        fates = Counter(
            "deleted by the moderator"
            if by_human.get(n) == "deleted"
            else {
                "rejected": "rejected (emailed the reason)",
                "held": "held for a human",
                "unconfirmed": "never confirmed their email",
            }.get(outcomes.get(n, ""), outcomes.get(n, "?"))
            for n in names
        )
        example = next((reasons[n] for n in names if reasons.get(n)), [])
        if example:
            why = _short(example[0])
        elif all(outcomes.get(n) == "unconfirmed" for n in names):
            why = "not gated: Discourse approves only confirmed accounts"
        else:
            why = "no reason recorded"
        fate = ", ".join(f"{n} {f}" for f, n in fates.most_common())
        lines.append(f"    {len(names):2d} {KIND_WORDS.get(kind, kind)} — {fate}: {why}")
    return lines


def _short(reason: str, width: int = 100) -> str:
    reason = re.sub(r"\s*→.*$", "", reason)  # the fate is shown next to it
    return reason if len(reason) <= width else reason[: width - 1] + "…"


def _camp_and_squads(demo: Demo) -> list[str]:
    groups = demo.rules.community.groups
    campers = demo.facts.get("campers", [])
    first = demo.facts.get("passed_first", [])
    late = demo.facts.get("passed_late", [])
    still = demo.view.group_members(groups.camp) & set(campers)
    failed = [c for c in campers if c not in first and c not in late and c not in still]
    lines = [
        f"Camp: {len(campers)} campers → {len(first) + len(late)} passed ({len(late)} after"
        f" an extension), {len(failed)} removed"
        + (f", {len(still)} still in camp" if still else "")
    ]
    squads = demo.view.squads()
    names = demo.view.squad_full_names()
    if squads:
        sizes = ", ".join(
            f"{names.get(s, s)} {len(m)}"
            + (f" (@{sorted(demo.view.squad_owners(s))[0]})" if demo.view.squad_owners(s) else "")
            for s, m in squads.items()
        )
        lines.append(f"Squads: {len(squads)} — {sizes}")
    else:
        lines.append("Squads: none formed")
    return lines


def _penalties(demo: Demo) -> list[str]:
    weeks = demo.facts.get("weeks", {})
    if not weeks:
        return ["Weeks: none ran"]
    per_week = " · ".join(
        f"{w['week']} {w['articles']}/{w['members']}" for _n, w in sorted(weeks.items())
    )
    lines = [f"Articles on record per week: {per_week}"]
    unaudited = [w["week"] for _n, w in sorted(weeks.items()) if not w.get("recorded", 1)]
    if unaudited:
        lines.append(f"NOT AUDITED (halted or not run): {', '.join(unaudited)}")
    strikes: Counter[str] = Counter()
    for w in weeks.values():
        strikes.update(w["penalised"])
    alumni = demo.view.group_members(demo.rules.community.groups.alumni)
    silenced = sorted({n for w in weeks.values() for n in w["silenced"]})
    habits = Counter(p.habit for n in strikes if (p := demo.cast.applicant(n)) is not None)
    lines.append(
        f"Penalties: {len(strikes)} members got strikes"
        + (f" in the audited weeks only ({len(unaudited)} not audited)" if unaudited else "")
        + (f" ({', '.join(f'{n} {h}' for h, n in habits.most_common())})" if habits else "")
        + f"; silenced on the ladder: {len(silenced)}"
        + (f" ({', '.join('@' + s for s in silenced)})" if silenced else "")
        + f"; removed to alumni: {len(alumni)}"
        + (f" ({', '.join('@' + s for s in sorted(alumni))})" if alumni else "")
    )
    return lines


def _leave(demo: Demo) -> list[str]:
    """Each leave request of the story and the week line of Diamond's answer to it."""
    from worker.demo.stack import API_USERNAME

    lines = []
    for username, week, topic_id in demo.facts.get("leave", []):
        answers = [p for p in demo.view.posts_of(topic_id) if p.username == API_USERNAME]
        said = next(
            (line.strip("- ").strip() for a in answers for line in a.raw.splitlines()
             if line.startswith("- ")),
            "NOT ANSWERED",
        )  # fmt: skip
        lines.append(f"Leave: @{username} asked for {week} → {_short(said)}")
    return lines


def _roll_call(demo: Demo) -> list[str]:
    """One squad's weekly thread as its members see it: the roll call in the last reminder
    that carried it (``article.roll_call: reminders``), else in its first post."""
    from worker.demo.ch_weeks import _thread

    for squad in sorted(demo.view.squads()):
        for week in range(demo.weeks, 0, -1):
            topic = _thread(demo, squad, week)
            posts = demo.view.posts_of(topic) if topic is not None else []
            # Diamond's posts after the first (reminders), newest first; then the first.
            own = [p for p in posts[1:] if p.username == posts[0].username][::-1]
            for post, where in [
                *((p, f"the reminder at #{p.post_number}") for p in own),
                *((p, "the first post") for p in posts[:1]),
            ]:
                if "---" not in post.raw:
                    continue
                roll = [
                    line
                    for line in post.raw.split("---", 1)[1].strip().splitlines()
                    if line.strip() and not line.startswith("<!--")  # not the marker
                ]
                shown = roll[:14]
                more = len(roll) - len(shown)
                return [
                    f"Roll call of {squad}, week {week} ({where} of its weekly thread):",
                    *(f"  {line}" for line in shown),
                    *([f"  … {more} more lines"] if more > 0 else []),
                ]
    return ["Roll call: no weekly thread carries one"]


def _badges(demo: Demo) -> list[str]:
    badges: dict[str, list[str]] = demo.facts.get("badges") or demo.view.badges()
    if not badges:
        return ["Badges: none granted"]
    return ["Badges: " + " · ".join(f"{name} {len(who)}" for name, who in badges.items())]


def _health(demo: Demo) -> list[str]:
    health: list[str] = demo.facts.get("health", [])
    html: Path | None = demo.facts.get("report_html")
    lines = [f"Health {health[0]}", *(f"  {line}" for line in health[1:])] if health else []
    lines.append(f"HTML report: {html}" if html else "HTML report: not produced")
    return lines
