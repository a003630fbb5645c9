"""One posting from its web page: a link the person pasted (`--jobs https://...`, the API's posting_url).

The page is fetched through tools/safe_fetch.py (public addresses only, at most 3 redirects, size and
time limits). Its JSON-LD JobPosting is read when it has one, as the folder source reads HTML files;
otherwise trafilatura extracts the page's main text (navigation, cookie banners and footers left out)
and the text reader makes a posting of it. The posting keeps the URL it came from.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from jobland.domain.models import SearchRequest
from jobland.tools.job_folder import (
    JobBatch,
    JobSourceError,
    PostingDraft,
    batch_of_drafts,
    drafts_from_html,
    drafts_from_json,
)
from jobland.tools.safe_fetch import PageFetchError, UnsafeURLError, fetch_page

# trafilatura stops reading a page whose tree has more elements than this (bounded work on hostile pages).
MAX_TREE_SIZE = 50_000


def main_text(html: str) -> str | None:
    """The main content of a web page as light Markdown (headings, lists), or None when trafilatura finds none."""
    import trafilatura  # a second to import: only runs that read a link pay for it
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MAX_TREE_SIZE", str(MAX_TREE_SIZE))
    return trafilatura.extract(
        html,
        output_format="markdown",
        include_formatting=True,
        include_links=False,
        include_images=False,
        include_comments=False,
        favor_recall=True,
        config=config,
    )


@dataclass(frozen=True)
class PostingURLSource:
    """The posting (or postings: a page may list several in JSON-LD) at one URL."""

    url: str
    allow_loopback: bool = False

    async def fetch(self, request: SearchRequest, *, now: datetime) -> JobBatch:
        try:
            page = await fetch_page(self.url, allow_loopback=self.allow_loopback)
        except (UnsafeURLError, PageFetchError) as error:
            raise JobSourceError(f"cannot read the job link: {error}") from error

        def read(text: str) -> list[PostingDraft]:
            json_page = "json" in page.content_type or text.lstrip()[:1] in ("{", "[")
            drafts = drafts_from_json(text) if json_page else drafts_from_html(text, main_text=main_text)
            for draft in drafts:
                draft.url = draft.url or page.url
            return drafts

        return await asyncio.to_thread(batch_of_drafts, read, page.text, f"url:{page.url}", now)
