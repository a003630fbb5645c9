"""A local web site with job posting pages, for pasted links: plain HTTP GETs of HTML (or anything else).

`pages` maps a path to (content type, body); `redirects` maps a path to the Location it answers 302
with. Anything else is a 404 page, as a web server gives.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.local_world.base import LocalService, Reply, Request


class FakeWebSite(LocalService):
    def __init__(self) -> None:
        super().__init__("web")
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.redirects: dict[str, str] = {}
        self.route("GET", "/", self._get)

    def page(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> str:
        """Serve body at path; its full URL."""
        self.pages[path] = (content_type, body.encode() if isinstance(body, str) else body)
        return f"{self.url}{path}"

    def _get(self, request: Request) -> Reply:
        if request.path in self.redirects:
            return Reply(302, headers={"Location": self.redirects[request.path]}, raw=b"")
        if request.path not in self.pages:
            return Reply(404, headers={"Content-Type": "text/html"}, raw=b"<h1>Not found</h1>")
        content_type, body = self.pages[request.path]
        return Reply(200, headers={"Content-Type": content_type}, raw=body)


@pytest.fixture
def web_site() -> Iterator[FakeWebSite]:
    site = FakeWebSite().start()
    yield site
    site.stop()
