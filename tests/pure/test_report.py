"""The report rendered: terminal text, forum posts, and the self-contained HTML page."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from tests.pure.test_health import community_world, report_for
from tests.support.recognition_world import WEEK, World, at, shipped_rules
from worker.report import Labels, render_html, render_leader_part, render_post, render_text
from worker.report.labels import parse_labels
from worker.report.svg import MAX_EDGES_DRAWN, graph_drawing, layout
from worker.report.tables import sections

RULES = shipped_rules()
SECTION_IDS = [
    "alerts",
    "stages",
    "flows",
    "contributors",
    "graph",
    "bonds",
    "isolated",
    "activity",
    "indicators",
    "completion",
    "definitions",
]


@pytest.fixture(scope="module")
def report():
    w, stages = community_world()
    return report_for(w, stages)


class Page(HTMLParser):
    """Collects what the tests check: sections, circles in the drawing, external references."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.headings: list[str] = []
        self.circles: list[dict[str, str]] = []
        self.scripts = 0
        self.external: list[str] = []
        self._in_drawing = 0
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if tag == "script":
            self.scripts += 1
        if tag in ("link", "img", "iframe") or any(
            k in ("src", "href") and "://" in v for k, v in a.items()
        ):
            self.external.append(f"{tag} {a}")
        if tag == "svg" and a.get("id") == "graph-drawing":
            self._in_drawing += 1
        if tag == "circle" and self._in_drawing and "member" in a.get("class", "").split():
            self.circles.append(a)
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._in_drawing:
            self._in_drawing -= 1
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.headings.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


# ───────────── HTML ─────────────


def test_html_has_every_section_in_order(report) -> None:
    page = parse(render_html(RULES, report))
    assert page.sections == SECTION_IDS
    labels = Labels.from_rules(RULES)
    titles = [t.title for t in sections(report, labels)]
    assert page.headings == [*titles, labels.definitions["heading"]]


def test_html_is_self_contained(report) -> None:
    html = render_html(RULES, report)
    page = parse(html)
    assert page.scripts == 0 and page.external == []
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html


def test_graph_drawing_has_a_node_per_member_and_marks_the_isolated(report) -> None:
    page = parse(render_html(RULES, report))
    drawn = {c["data-member"]: c for c in page.circles}
    assert sorted(drawn) == sorted(report.member_squads)
    assert len(page.circles) == len(report.member_squads)  # one node each
    marked = {n for n, c in drawn.items() if "isolated" in c["class"].split()}
    assert marked == {"cam", "lurk"}
    assert all(drawn[n]["data-squad"] == report.member_squads[n] for n in drawn)


def test_every_svg_is_well_formed_xml(report) -> None:
    html = render_html(RULES, report)
    start = 0
    count = 0
    while (i := html.find("<svg", start)) >= 0:
        j = html.index("</svg>", i) + len("</svg>")
        ET.fromstring(html[i:j])  # raises if broken
        count += 1
        start = j
    assert count >= 5  # stages, contributors, graph ×2, activity, drawing


def test_completion_cells_are_coloured_by_rate(report) -> None:
    html = render_html(RULES, report)
    assert html.count('class="cell" style="background:hsl(120,') == 7  # red ×4, blue ×3
    assert html.count('class="cell" style="background:hsl(0,') == 1  # blue's last week


def test_html_escapes_what_members_wrote() -> None:
    w = World()
    w.squad("red", "<script>x</script>", "ann")
    w.reply("ann", w.topic("<script>x</script>", at(WEEK, 1)), at(WEEK, 2))
    report = report_for(w, {"members": frozenset({"<script>x</script>", "ann"})})
    page = parse(render_html(RULES, report))
    assert page.scripts == 0
    assert {c["data-member"] for c in page.circles} == {"<script>x</script>", "ann"}


def test_html_in_english_uses_the_english_labels(report) -> None:
    html = render_html(RULES, report, "en")
    assert '<html lang="en">' in html and "Interaction graph" in html and "互动网络" not in html


# ───────────── the drawing alone ─────────────


def test_layout_is_deterministic_and_inside_the_canvas() -> None:
    squads = {f"m{i}": f"s{i % 7}" for i in range(60)} | {"lone": ""}
    first, centres = layout(squads, 500)
    again, _ = layout(dict(reversed(list(squads.items()))), 500)
    assert first == again
    assert len(centres) == 7
    assert all(0 <= x <= 500 and 0 <= y <= 500 for x, y in first.values())


def test_many_squads_are_laid_out_on_a_grid_inside_the_canvas() -> None:
    squads = {f"m{i}": f"s{i // 10:03d}" for i in range(2000)}
    pos, centres = layout(squads, 720)
    assert len(centres) == 200 and len(pos) == 2000
    assert all(0 <= x <= 720 and 0 <= y <= 720 for x, y in pos.values())


def test_drawing_samples_edges_beyond_the_cap() -> None:
    people = {f"m{i}": "s" for i in range(200)}
    edges = {(f"m{i}", f"m{j}") for i in range(200) for j in range(i + 1, 200)}
    svg = graph_drawing(people, edges, (), {}, title="g")
    root = ET.fromstring(svg)
    lines = root.findall(".//{http://www.w3.org/2000/svg}line")
    assert len(lines) == MAX_EDGES_DRAWN
    assert root.get("data-edges-total") == str(len(edges))


# ───────────── terminal and forum posts ─────────────


def test_terminal_report_has_every_section_and_the_isolated(report) -> None:
    text = render_text(RULES, report, "en")
    for table in sections(report, Labels.from_rules(RULES, "en")):
        assert f"== {table.title} ==" in text
    assert "@cam, @lurk" in text
    assert text.splitlines()[0] == "Overall 2026-W47: ✗ ALERT"


def test_forum_post_carries_every_section(report) -> None:
    post = render_post(RULES, report)
    assert post.title == "社区健康报告 · 2026年第47周"
    for table in sections(report, Labels.from_rules(RULES)):
        assert f"### {table.title}" in post.body, table.key
    assert "{" not in post.body  # every placeholder filled
    assert "| BLUE | @bob | 100% | 100% | 100% | 0% |" in post.body


def test_leader_part_is_addressed_to_the_leader_with_their_squad(report) -> None:
    part = render_leader_part(RULES, report, "blue", "en")
    assert part.title == "BLUE: health in week 47 of 2026"
    assert part.body.startswith("@bob ")
    assert "| @bea | 2 |" in part.body and "@ann" not in part.body
    assert "| 2026-W47 | 0 | 1 | 2 | 0% |" in part.body


def test_labels_come_from_the_rules_and_unknown_names_show_as_themselves() -> None:
    labels = Labels.from_rules(RULES, "zh")
    assert labels["density"] == "密度"
    assert labels["no_such_label"] == "no_such_label"
    assert parse_labels("a: 一\n# note: x\nb:二: 三\nbroken") == {"a": "一", "b": "二: 三"}


def test_forum_post_stays_under_discourses_length_limit_for_a_big_community() -> None:
    w = World()
    for k in range(400):
        w.squad(f"s{k:03d}", *[f"m{k:03d}x{i}" for i in range(25)])
    everyone = frozenset(m for s in w.squads for m in s.members)
    report = report_for(w, {"members": everyone})
    post = render_post(RULES, report, "en")
    assert len(post.body) <= 32_000
    assert "370 more rows not shown" in post.body  # completion: 30 of 400 squads shown
    assert " …" in post.body  # 25 isolated names in a squad: cut to 20
    html = render_html(RULES, report)
    assert len(parse(html).circles) == 10_000  # the page keeps everyone


# ───────────── when the report and the leaders' parts start ─────────────


def test_nothing_is_posted_for_a_week_no_squad_owed_anything() -> None:
    from tests.pure.test_health import one_squad_world
    from worker.engine.health import HealthFacts, build_report
    from worker.steps.health_report import report_actions

    w, stages = one_squad_world()
    facts = HealthFacts(recognition=w.facts(), stages=stages, staff=frozenset({"admin"}))
    camp_week = build_report(RULES, facts, WEEK.shift(-2))
    assert report_actions(RULES, camp_week, category_id=5) == []
    assert len(report_actions(RULES, build_report(RULES, facts, WEEK), category_id=5)) == 2


def test_a_leader_hears_first_in_the_week_their_squad_first_owes_anything() -> None:
    from tests.pure.test_health import one_squad_world
    from worker.steps.health_report import report_actions

    w, stages = one_squad_world()
    w.squad("blue", "bob", "bea")  # formed this week: owes from next week
    report = report_for(w, stages)
    pms = [x for x in report_actions(RULES, report, category_id=5) if x.key.startswith("health-")]
    assert [x.key for x in pms] == ["health-report:2026-W47", "health-leader:2026-W47:red"]


def test_a_leaders_part_has_headings_about_their_squad_and_no_na_alarm(report) -> None:
    labels = Labels.from_rules(RULES, "zh")
    part = render_leader_part(RULES, report, "blue", "zh")
    assert f"### {labels['completion']}" not in part.body  # "各小组完成率": all squads
    assert "### 本组每周完成率" in part.body
    assert "| @bob |" not in part.body  # the leader is not in their own member list


def test_na_is_shown_as_not_applicable_in_the_reports_words() -> None:
    from tests.pure.test_health import one_squad_world

    w, stages = one_squad_world()
    report = report_for(w, stages)
    text = render_text(RULES, report, "zh")
    line = next(x for x in text.splitlines() if x.strip().startswith("跨组回复比例"))
    assert line.split() == ["跨组回复比例", "不适用", "15%", "5%", "不适用"]
    line = next(x for x in render_text(RULES, report, "en").splitlines() if "Cross-squad" in x)
    assert "n/a" in line and "✗" not in line


# ───────────── the HTML page on a phone ─────────────


class Definitions(HTMLParser):
    """The page's viewport, its definitions (dt → dd) and what scrolls sideways."""

    def __init__(self) -> None:
        super().__init__()
        self.viewport = ""
        self.terms: dict[str, str] = {}
        self.tables = 0
        self.scrolling_tables = 0
        self._open: list[str] = []
        self._term = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and a.get("name") == "viewport":
            self.viewport = a.get("content", "")
        if tag == "table":
            self.tables += 1
            self.scrolling_tables += "scroll" in self._open
        if tag in ("dt", "dd"):
            self._in = tag
        if tag == "dt":
            self._term = ""
        if tag == "div":
            self._open.append(a.get("class", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._open:
            self._open.pop()
        if tag in ("dt", "dd"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "dt":
            self._term += data
        elif self._in == "dd":
            self.terms[self._term] = self.terms.get(self._term, "") + data


def definitions(html: str) -> Definitions:
    page = Definitions()
    page.feed(html)
    return page


@pytest.mark.parametrize(("lang", "dates"), [("zh", "11月16日–11月22日"), ("en", "16–22 Nov 2026")])
def test_html_names_the_community_and_the_dates_of_the_week(report, lang, dates) -> None:
    html = render_html(RULES, report, lang)
    assert RULES.community.name in html
    assert dates in html


def test_html_fits_a_phone(report) -> None:
    page = definitions(render_html(RULES, report))
    assert "width=device-width" in page.viewport
    assert page.tables > 0 and page.scrolling_tables == page.tables  # wide tables scroll


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_defines_every_measure(report, lang) -> None:
    labels = Labels.from_rules(RULES, lang)
    page = definitions(render_html(RULES, report, lang))
    for indicator in report.indicators:
        term = labels[indicator.name]
        assert page.terms.get(term, "").strip(), f"{indicator.name} has no definition"


@pytest.mark.parametrize(("lang", "says"), [("zh", "小组聊天"), ("en", "squad chat")])
def test_the_silent_members_definition_says_chat_counts_and_how_long(report, lang, says) -> None:
    """A member who wrote a chat message of health.chat.min_units or more has spoken."""
    labels = Labels.from_rules(RULES, lang)
    page = definitions(render_html(RULES, report, lang))
    meaning = page.terms[labels["silent_share"]]
    assert says in meaning and str(RULES.health.chat.min_units) in meaning
    assert "{" not in meaning
