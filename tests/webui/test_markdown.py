"""Messages read the way people write them (issue 19): Mattermost's Markdown flavour rendered from the
vendored marked tokens, @mentions of the reader highlighted, :shortcodes: as emoji, and raw HTML (a script
tag) kept as text, never run."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.webui.conftest import PageErrors, Site, login, shot

MESSAGE = """# Release notes
**Release** is _out_ ~~maybe~~ with `a < b`, thanks @{dave} :tada: and @all
<script>window.hacked = 1</script><img src=x onerror="window.hacked = 2">

- first item
- second item

1. one
2. two

| Fruit | Count |
|:------|------:|
| apples | 3 |

```python
print("<b>hi</b>")
```
> quoted text

[safe](https://example.com/docs) and [unsafe](javascript:window.hacked=3)"""


def test_markdown_as_the_reader_sees_it(browser: Browser, alpha: Site, page_errors: PageErrors) -> None:
    carol, dave = alpha.person(), alpha.person()
    lab = alpha.channel(carol, "Markdown Lab")
    r = carol.http.post(f"/api/v4/channels/{lab['id']}/members", json={"user_id": dave.id})
    assert r.status_code == 201, r.text

    writer = login(browser, alpha, carol, page_errors)
    writer.get_by_role("link", name=re.compile("Markdown Lab")).click()
    writer.get_by_role("textbox", name="Write to Markdown Lab").fill(MESSAGE.format(dave=dave.username))
    writer.keyboard.press("Enter")
    mine = writer.get_by_role("article").filter(has_text="Release notes")
    expect(mine).to_be_visible()
    # The writer sees the mention marked, but it is not theirs: no highlight.
    expect(mine.locator(".mention", has_text=f"@{dave.username}")).not_to_have_class(re.compile("mention-me"))

    reader = login(browser, alpha, dave, page_errors)
    reader.get_by_role("link", name=re.compile("Markdown Lab")).click()
    post = reader.get_by_role("article").filter(has_text="Release notes")
    body = post.locator(".post-message")
    expect(body.get_by_role("heading", name="Release notes")).to_be_visible()
    expect(body.locator("strong")).to_have_text("Release")
    expect(body.locator("em")).to_have_text("out")
    expect(body.locator("del")).to_have_text("maybe")
    expect(body.locator("code.md-inline-code")).to_have_text("a < b")
    expect(body.locator(".mention-me")).to_have_text([f"@{dave.username}", "@all"])
    expect(body.get_by_role("img", name="tada")).to_have_text("🎉")
    expect(body.locator("ul > li")).to_have_text(["first item", "second item"])
    expect(body.locator("ol > li")).to_have_text(["one", "two"])
    expect(body.get_by_role("columnheader")).to_have_text(["Fruit", "Count"])
    expect(body.get_by_role("cell")).to_have_text(["apples", "3"])
    expect(body.locator("pre code")).to_have_text('print("<b>hi</b>")')
    expect(body.locator("blockquote")).to_have_text("quoted text")
    expect(body.get_by_role("link", name="safe", exact=True)).to_have_attribute("href", "https://example.com/docs")
    # Raw HTML is shown as written and never becomes elements; a javascript: link is not a link.
    expect(body).to_contain_text("<script>window.hacked = 1</script>")
    expect(body).to_contain_text('<img src=x onerror="window.hacked = 2">')
    assert body.locator("script, img, b").count() == 0
    expect(body.get_by_role("link", name="unsafe")).to_have_count(0)
    expect(body).to_contain_text("unsafe")
    assert reader.evaluate("window.hacked") is None
    shot(reader, "markdown.png")
