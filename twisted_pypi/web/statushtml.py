# -*- test-case-name: tests.web.test_statushtml -*-
"""
The status page's building blocks: its stylesheet, how durations and counts
read, and the small patterns its sections are made of (definition lists,
"5 min ago" with the time as a tooltip), as :mod:`twisted.web.template`
tags, so that every value in them is escaped by the flattener.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from twisted.web.template import Flattenable, Tag, tags

__all__ = ["CSS", "format_duration", "group", "kv", "plural", "when"]

#: The page's only style, inline (the page loads nothing).  It holds no
#: ``<``, ``>`` or ``&``: the flattener escapes text in ``<style>`` too, so
#: selectors use descendant combinators rather than ``>``.
CSS = """
:root{color-scheme:light dark;--fg:#1d2126;--muted:#5d6670;--bg:#f3f5f7;
--card:#fff;--line:#d8dde3;--bad:#c62828;--accent:#2f4fc9}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--muted:#9ba5b1;
--bg:#111418;--card:#1a1f25;--line:#2e353d;--bad:#ff6b6b;
--accent:#8ea6ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:56rem;margin:0 auto;padding:.75rem}
h1{font-size:1.3rem;margin:.2rem 0}
h2{font-size:1.05rem;margin:0 0 .5rem}
h3{font-size:.95rem;margin:.6rem 0 .2rem}
p{margin:.2rem 0}
section{background:var(--card);border:1px solid var(--line);
border-radius:.5rem;padding:.75rem;margin:.75rem 0}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));
gap:.5rem;margin:0}
.figures div{border:1px solid var(--line);border-radius:.4rem;padding:.4rem .5rem;
min-width:0}
.figures dt{color:var(--muted);font-size:.8rem}
.figures dd{margin:0;font-size:1.15rem;font-weight:600;overflow-wrap:anywhere}
.figures small{display:block;font-size:.75rem;font-weight:400;color:var(--muted)}
dl.kv{display:grid;grid-template-columns:fit-content(45%) minmax(0,1fr);
gap:.15rem .75rem;margin:.3rem 0 0}
dl.kv dt{color:var(--muted);overflow-wrap:anywhere}
dl.kv dd{margin:0;min-width:0;overflow-wrap:anywhere}
ul.items{list-style:none;padding:0;margin:0}
ul.items li{padding:.55rem 0;border-top:1px solid var(--line);min-width:0}
ul.items li:first-child{border-top:0;padding-top:0}
pre{background:var(--bg);border:1px solid var(--line);border-radius:.35rem;
padding:.4rem .55rem;margin:.3rem 0;white-space:pre-wrap;
overflow-wrap:anywhere;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}
progress{display:block;width:100%;height:.7rem;margin:.25rem 0;
accent-color:var(--accent)}
.url{color:var(--muted);font-size:.82rem;overflow-wrap:anywhere}
.muted{color:var(--muted)}
.error{color:var(--bad);overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;
font-size:.78rem;font-weight:600;color:#fff;vertical-align:.1rem}
a{color:var(--accent)}
footer{margin:1rem 0 .5rem;text-align:center;font-size:.85rem}
.ok{background:#1a7f37}.bad{background:#c62828}.idle{background:#5d6670}
"""


def format_duration(seconds: float) -> str:
    """
    A duration for people: ``42 s``, ``5 min``, ``3 h 20 min``, ``2 d 4 h``.

    :param seconds: The duration.
    """
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def plural(n: int, noun: str) -> str:
    """
    ``"1 client"``, ``"2 clients"``, ``"2 misses"``.

    :param n: How many.
    :param noun: The noun, singular.
    """
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {noun}es" if noun.endswith("s") else f"{n} {noun}s"


def kv(rows: Iterable[tuple[str, Flattenable]]) -> Tag:
    """
    A definition list.

    :param rows: Each name, and its value: text or tags.
    """
    return tags.dl([(tags.dt(name), tags.dd(value)) for name, value in rows],
                   class_="kv")  # fmt: skip


def group(title: str, rows: list[tuple[str, Flattenable]]) -> list[Tag]:
    """
    A titled definition list, or "None." under the title.

    :param title: The title.
    :param rows: As for :func:`kv`.
    """
    if not rows:
        return [tags.h3(title), tags.p("None.", class_="muted")]
    return [tags.h3(title), kv(rows)]


def when(moment: float | None, now: float) -> Tag:
    """
    ``moment`` as "5 min ago" with the UTC time as a tooltip, or "never".

    :param moment: When, in clock seconds, or ``None`` for never.
    :param now: The clock's time now.
    """
    if moment is None:
        return tags.span("never", class_="muted")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))
    return tags.span(f"{format_duration(now - moment)} ago", title=stamp)
