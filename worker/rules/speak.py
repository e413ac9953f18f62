"""What ``diamond check`` says, in the moderator's language (zh or en).

Problems are built in English (the JSON output and the logs keep them so, for tools);
here a small catalogue turns each part of a message into Chinese for a zh community.
``file:line:col:`` and the field path stay as they are: they point into the YAML.
Ladder steps are counted from 1 in the words ("第 2 级" / "step 2"), while the path
keeps YAML's index (``penalties.ladder[1]``).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from worker.rules.located import HINT_CN_QUOTES, HINT_COLON, HINT_SPACE, HINT_TAB
from worker.rules.problems import Problem

LANGUAGES = ("zh", "en")

# Whole-message parts (a message is parts joined by "; "), English → Chinese.
_FIXED: dict[str, str] = {
    HINT_COLON: "'：' 是全角冒号;YAML 需要英文半角冒号 ':',后面再加一个空格",
    HINT_SPACE: "'\u3000' 是全角空格;YAML 需要英文半角空格",
    HINT_TAB: "请用空格缩进,不要用 Tab",
    HINT_CN_QUOTES: '“ ” 是中文引号,会成为文字的一部分;请用英文半角引号 "..." 或不加引号',
    "required key is missing": "缺少必填的键",
    "file is missing": "文件不存在",
    "rules directory not found": "找不到规则目录",
    "not a rule file Diamond reads": "不是 Diamond 读取的规则文件",
    "the file is empty": "文件是空的",
    "it needs the keys of this section": "需要这一部分的各个键",
    "this line is read as part of the value above": "这一行被当作上面那个值的一部分",
    "YAML nested too deeply": "YAML 嵌套太深",
    "document too large (aliases or nesting)": "文件太大 (别名或嵌套过多)",
    "invalid YAML": "YAML 格式错误",
    "put it in quotes": "请加上引号",
    "remove it": "请删掉它",
    "or none": "或不加引号",
}

# Parts with values in them: (pattern, Chinese with \\1...). Tried in order; first match wins.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), zh)
    for p, zh in (
        (r"^hint: (?P<x>.+)$", "提示:{x}"),
        (r"^did you mean (?P<x>.+)\?$", "是不是想写 {x}?"),
        (r"^unknown key (?P<x>.+)$", "未知的键 {x}"),
        (r"^YAML syntax: (?P<x>.+)$", "YAML 语法错误:{x}"),
        (
            r"^(?P<x>.+) \(YAML stopped at line (?P<n>\d+): (?P<y>.+)\)$",
            "{x} (YAML 在第 {n} 行停止:{y})",
        ),
        (
            r"^a value starting with (?P<c>.+) means something else to YAML$",
            "以 {c} 开头的值在 YAML 中另有含义",
        ),
        (r"^put the value in quotes: (?P<x>.+)$", "请给值加上引号:{x}"),
        (
            r"^must be greater than the previous step \(got (?P<x>.+)\)$",
            "必须大于上一级 (现为 {x})",
        ),
        (
            r"^must not exceed (?P<k>\w+) \((?P<v>.+)\) \(got (?P<x>.+)\)$",
            "不能超过 {k} ({v}) (现为 {x})",
        ),
        (
            r"^template (?P<k>'.+') is missing: Diamond writes with it "
            r"\(copy it from the rules Diamond ships\)$",
            "缺少模板 {k}:Diamond 要用它发消息 (请从 Diamond 自带的规则中复制)",
        ),
        (r"^template (?P<k>'.+') is missing from (?P<f>.+)$", "{f} 中缺少模板 {k}"),
        (
            r"^message template (?P<k>'.+') is not defined in (?P<f>.+)$",
            "消息模板 {k} 在 {f} 中没有定义",
        ),
        (
            r"^placeholder (?P<p>\{.+\}) is not filled here$",
            "占位符 {p} 在这里不会被填入",
        ),
        (r"^available: (?P<x>.*)$", "可用的有:{x}"),
        (r"^available to every use: (?P<x>.*)$", "每处都可用的有:{x}"),
        (
            r"^unknown (?P<k>\w+) (?P<t>'.+'); expected one of: (?P<x>.+)$",
            "未知的 {k} {t};应为其中之一:{x}",
        ),
        (r"^expected one of: (?P<x>.+)$", "应为其中之一:{x}"),
        (
            r"^must be a mapping of 'key: value' lines \(got (?P<x>.+)\)$",
            "应是若干「键: 值」行 (现为 {x})",
        ),
        (r"^must be a list \(got (?P<x>.+)\)$", "应是一个列表 (现为 {x})"),
        (r"^must be text \(got (?P<x>.+)\)$", "应是文字 (现为 {x})"),
        (
            r"^must be greater than or equal to (?P<n>\S+)(?P<g> \(got .+\))?$",
            "必须大于或等于 {n}{g}",
        ),
        (r"^must be greater than (?P<n>\S+)(?P<g> \(got .+\))?$", "必须大于 {n}{g}"),
        (r"^must be less than or equal to (?P<n>\S+)(?P<g> \(got .+\))?$", "必须小于或等于 {n}{g}"),
        (r"^must be less than (?P<n>\S+)(?P<g> \(got .+\))?$", "必须小于 {n}{g}"),
        (r"^must be a valid integer(?P<r>.*?)(?P<g> \(got .+\))?$", "必须是整数{g}"),
        (r"^must be a valid number(?P<r>.*?)(?P<g> \(got .+\))?$", "必须是数字{g}"),
        (r"^must be a valid boolean(?P<r>.*?)(?P<g> \(got .+\))?$", "必须是 true 或 false{g}"),
        (r"^must be (?P<o>'.+'(?: or '.+')*)(?P<g> \(got .+\))?$", "必须是 {o}{g}"),
        (r"^must have at least (?P<n>\d+) (?:items?|characters?)(?P<r>.*)$", "至少要有 {n} 项{r}"),
        (r"^must have at most (?P<n>\d+) (?:items?|characters?)(?P<r>.*)$", "最多只能有 {n} 项{r}"),
    )
]

_GOT = re.compile(r"\(got ")
_LADDER = re.compile(r"(?:^|\.)ladder\[(\d+)\]")


def _part_zh(part: str) -> str:
    if part in _FIXED:
        return _FIXED[part]
    for pattern, zh in _PATTERNS:
        match = pattern.match(part)
        if match:
            values = {
                k: _part_zh(v) if k in ("x", "y") else v or "" for k, v in match.groupdict().items()
            }
            if "o" in values:
                values["o"] = values["o"].replace("' or '", "' 或 '")
            return _GOT.sub("(现为 ", zh.format(**values))
    return part  # not in the catalogue: the English words, rather than nothing


def words(problem: Problem, lang: str) -> str:
    """The message of ``problem`` in ``lang``, with ladder steps counted from 1."""
    message = problem.message
    if lang == "zh":
        for english, chinese in _FIXED.items():  # whole hints first: some hold a "; "
            if "; " in english:
                message = message.replace(english, chinese)
        message = ";".join(_part_zh(part) for part in message.split("; "))
    step = _LADDER.search(problem.field)
    if step:
        n = int(step[1]) + 1
        message = f"第 {n} 级:{message}" if lang == "zh" else f"step {n}: {message}"
    return message


def say(problem: Problem, lang: str) -> str:
    """``file:line:col: field: message`` in ``lang``; where and which field stay as they are."""
    where = f"{problem.file}:{problem.line}:{problem.col}:"
    text = words(problem, lang)
    return f"{where} {problem.field}: {text}" if problem.field else f"{where} {text}"


def default_language(directory: Path) -> str:
    """``community.yml``'s ``default_language``, read on its own (the rules may not load);
    English when it cannot be read."""
    try:
        data = yaml.safe_load((directory / "community.yml").read_text(encoding="utf-8"))
        lang = data.get("default_language") if isinstance(data, dict) else None
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return "en"
    return lang if lang in LANGUAGES else "en"
