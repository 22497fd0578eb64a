"""Slack-style ``<url|text>`` links in command replies, rewritten to Markdown in linear time.

Mattermost's ``ParseSlackLinksToMarkdown`` uses ``<([^<|]+)\\|([^>]+)>`` under Go's RE2, which never
backtracks. Python's backtracking engine runs that pattern in quadratic time on ``<x|<x|<x|…`` with no ``>``
(each ``<`` scans to the end of the text and gives up), so a 27 kB reply stalled every request for 0.4 s
(issue 18). This scanner gives the same matches as the pattern, leftmost first and non-overlapping, by
looking each ``>`` up in a table instead of rescanning.
"""

from __future__ import annotations


def parse_slack_links(text: str, steps: list[int] | None = None) -> str:
    """``<url|text>`` → ``[text](url)``. ``steps`` (tests only) receives the number of characters inspected."""
    n = len(text)
    next_gt = [n] * (n + 1)  # index of the first '>' at or after each position (n: none)
    for i in range(n - 1, -1, -1):
        next_gt[i] = i if text[i] == ">" else next_gt[i + 1]
    out: list[str] = []
    work = n
    done = 0  # text[:done] is already in out
    i = text.find("<")
    while i != -1:
        # group 1: one or more characters other than '<' and '|' (a '<' restarts the search there)
        j = i + 1
        while j < n and text[j] not in "<|":
            j += 1
        work += j - i
        if j > i + 1 and j < n and text[j] == "|":
            # group 2: one or more characters other than '>', up to the first '>' (greedy [^>]+ then '>')
            k = next_gt[j + 1] if j + 1 <= n else n
            if k < n and k > j + 1:
                out.append(text[done:i])
                out.append(f"[{text[j + 1:k]}]({text[i + 1:j]})")
                done = k + 1
                i = text.find("<", done)
                continue
        i = text.find("<", j if j < n and text[j] == "<" else i + 1)
    if steps is not None:
        steps.append(work)
    out.append(text[done:])
    return "".join(out)
