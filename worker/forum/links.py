"""Links people click: a forum path Diamond writes (``/t/5/2``, ``/c/sq-3``) made absolute
on the forum's public URL, so that it is a link in a PM, a post and an email alike.

The engines build paths (they know no host); the one door (``worker.apply``) makes them
absolute as it writes. Badge grant reasons stay relative (Discourse wants its own host or
a path there), which is why only text is rewritten, never an action's other fields.
"""

from __future__ import annotations

import re

# A path of a forum page standing on its own: at the start of a line, after a space or an
# opening bracket / parenthesis / quote, never inside a URL or a longer path.
_PATH = re.compile(r"(?<![\w/.:@#%?=&~+-])/(?:t|c|u|g|admin|badges)/[^\s)\]>\"'<`]*")


def absolute_links(text: str, public_url: str) -> str:
    """``text`` with every forum path in it prefixed by ``public_url`` (no change when
    ``public_url`` is empty)."""
    base = public_url.rstrip("/")
    if not base:
        return text
    return _PATH.sub(lambda m: base + m.group(0), text)
