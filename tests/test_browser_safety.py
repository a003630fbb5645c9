"""Browser safety: the review page's session cookie, CSRF tokens, sign-in, headers and docs, attacked for real.

Real uvicorn on 127.0.0.1 and real PostgreSQL; where a browser is the point, Debian's Chromium with a
hostile page served from another 127.0.0.1 port (the same site, another origin: SameSite cookies go along).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Response, expect

from jobland.browser_sessions import CSRF_HEADER, SESSION_COOKIE
from jobland.settings import ApiUser
from jobland.templates import TEMPLATES_DIR
from tests.conftest import EXAMPLE_CV, free_port
from tests.support.api import ALICE, api_settings, client, running_server, upload
from tests.support.browser import (
    CSRF_META,
    INLINE_SCRIPT,
    browser_client,
    console_errors,
    serving,
    sign_in,
    start_search,
)

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

CAROL = "cora-token-0123456789"


def test_the_session_cookie_is_opaque_expires_needs_csrf_and_holds_across_two_servers(
    database_url: str, home: Path
) -> None:
    # A user of this test's own, so that the other tests' lists of Alice's and Bob's threads stay theirs.
    carol = ApiUser(user_id="cora", email="cora@example.com", name="Cora Example")
    settings = api_settings(database_url, home).model_copy(update={"api_tokens": {CAROL: carol}})
    with running_server(settings) as one, running_server(settings) as two, client(one, CAROL) as api:
        cv_id = upload(api, EXAMPLE_CV).json()["cv_id"]
        thread_id = api.post("/api/threads", json={"cv_id": cv_id, "max_packages": 1}).json()["thread_id"]
        sign_in_path = f"/review/{thread_id}/sign-in"

        # Only the page's own form signs in: no Origin, another port's origin, a same-site fetch are refused.
        assert httpx.post(one + sign_in_path, data={"token": CAROL}).status_code == 403
        other_port = {"Origin": "http://127.0.0.1:1"}
        assert httpx.post(one + sign_in_path, data={"token": CAROL}, headers=other_port).status_code == 403
        same_site = {"Sec-Fetch-Site": "same-site", "Origin": one}
        assert httpx.post(one + sign_in_path, data={"token": CAROL}, headers=same_site).status_code == 403
        with browser_client(one) as wrong:
            refused = wrong.post(sign_in_path, data={"token": "not-a-token"})
            assert refused.status_code == 401 and "set-cookie" not in refused.headers

        with browser_client(one) as carol_browser:
            signed_in = carol_browser.post(sign_in_path, data={"token": CAROL})
            assert signed_in.status_code == 303, signed_in.text
            set_cookie = signed_in.headers["set-cookie"]
            cookie = carol_browser.cookies[SESSION_COOKIE]
            assert CAROL not in set_cookie and len(cookie) >= 40, "the cookie is a random id, not the API token"
            for attribute in ("HttpOnly", "SameSite=strict", f"Max-Age={12 * 3600}", "Path=/"):
                assert attribute.lower() in set_cookie.lower(), set_cookie
            page = carol_browser.get(f"/review/{thread_id}")
            assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
            (csrf,) = CSRF_META.findall(page.text)
            assert "Cora Example" in page.text

        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT key || value::text FROM store WHERE prefix = 'browser_sessions'").fetchall()
        assert rows and not any(cookie in row or CAROL in row for (row,) in rows), "PostgreSQL holds neither"

        # The other server knows the session; a change needs the page's CSRF token on both.
        for base in (one, two):
            with httpx.Client(base_url=base, cookies={SESSION_COOKIE: cookie}, timeout=30) as browser_like:
                assert [t["thread_id"] for t in browser_like.get("/api/threads").json()] == [thread_id]
                resume = f"/api/threads/{thread_id}/resume"
                assert browser_like.post(resume).status_code == 403
                assert browser_like.post(resume, headers={CSRF_HEADER: "guessed"}).status_code == 403
                assert browser_like.post("/api/cv", files={"file": ("cv.md", b"# Mallory\n")}).status_code == 403
                assert browser_like.post(resume, headers={CSRF_HEADER: csrf}).status_code in (202, 409)
        assert upload(api, EXAMPLE_CV).status_code == 201, "a bearer-token client needs no CSRF token"

        # Signing out on one server ends the session on both.
        with httpx.Client(base_url=two, cookies={SESSION_COOKIE: cookie}) as browser_like:
            assert browser_like.post("/review/sign-out").status_code == 403
            assert browser_like.post("/review/sign-out", headers={CSRF_HEADER: csrf}).status_code == 204
        assert httpx.get(f"{one}/api/threads", cookies={SESSION_COOKIE: cookie}).status_code == 401

        # A new token for Carol ends the sessions the old one opened.
        with browser_client(one) as carol_browser:
            assert carol_browser.post(sign_in_path, data={"token": CAROL}).status_code == 303
            cookies = {SESSION_COOKIE: carol_browser.cookies[SESSION_COOKIE]}
        rotated = settings.model_copy(update={"api_tokens": {"carol-new-token-0123456789": carol}})
        with running_server(rotated) as after_rotation:
            assert httpx.get(f"{after_rotation}/api/threads", cookies=cookies).status_code == 401
        assert httpx.get(f"{one}/api/threads", cookies=cookies).status_code == 200

        # A session lasts browser_session_s, whatever the cookie's holder does: on every server.
        with running_server(settings.model_copy(update={"browser_session_s": 1.0})) as brief:
            with browser_client(brief) as carol_browser:
                signed_in = carol_browser.post(sign_in_path, data={"token": CAROL})
                assert signed_in.status_code == 303 and "max-age=1;" in signed_in.headers["set-cookie"].lower()
                assert carol_browser.get("/api/threads").status_code == 200
                time.sleep(1.2)
                cookies = {SESSION_COOKIE: carol_browser.cookies[SESSION_COOKIE]}
            assert httpx.get(f"{brief}/api/threads", cookies=cookies).status_code == 401
        assert httpx.get(f"{two}/review/{thread_id}", cookies=cookies).status_code == 401, "the sign-in form again"


def test_every_response_carries_the_browser_policy_and_the_docs_need_no_cdn(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as anyone, client(base_url) as api:
        responses = [
            anyone.get("/healthz"),
            anyone.get("/api/threads"),
            anyone.get("/review/some-thread"),
            anyone.get("/static/review.js"),
            anyone.get("/no-such-page"),
            anyone.get("/openapi.json"),
            anyone.get("/docs"),
            api.get("/api/threads"),
            api.post("/api/cv", files={"file": ("cv.exe", b"MZ")}),
        ]
        for response in responses:
            policy = response.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy, response.url
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"

        docs = responses[-3]
        assert docs.status_code == 200 and "JobLand" in responses[-4].json()["info"]["title"]
        assert "http" not in docs.text and not INLINE_SCRIPT.search(docs.text), "Swagger UI comes from this server"
        bundle = anyone.get("/static/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
        assert anyone.get("/static/swagger-ui.css").headers["content-type"].startswith("text/css")
        assert anyone.get("/redoc").status_code == 404

        # An old ?token= link signs nothing in: the token moves to the fragment, for the page's own form.
        legacy = anyone.get(f"/review/some-thread?token={ALICE}&view=1")
        assert legacy.status_code == 303 and "set-cookie" not in legacy.headers
        assert legacy.headers["location"] == f"/review/some-thread?view=1#token={ALICE}"

    for template in ("review.html.j2", "sign_in.html.j2", "docs.html.j2"):
        assert not INLINE_SCRIPT.search((TEMPLATES_DIR / template).read_text()), f"{template} has inline script"


ATTACK_PAGE = """<!DOCTYPE html>
<html><body>
<h1>Cute cats</h1>
<iframe name="framed" src="{base}/review/{thread_id}"></iframe>
<iframe name="sink-one"></iframe><iframe name="sink-two"></iframe>
<form id="mark-sent" method="post" action="{base}/api/deliveries/{package_id}/mark-sent" target="sink-one"></form>
<form id="sign-in" method="post" action="{base}/review/{thread_id}/sign-in" target="sink-two">
  <input name="token" value="{token}">
</form>
<script>
  document.getElementById("mark-sent").submit();
  document.getElementById("sign-in").submit();
  const body = new FormData();
  body.append("file", new Blob(["# Mallory\\n\\nmallory@example.com"]), "cv.md");
  fetch("{base}/api/cv", {{ method: "POST", mode: "no-cors", credentials: "include", body }});
</script>
</body></html>
"""


@contextmanager
def hostile_site(page_html: str) -> Iterator[str]:
    """A page served from another port of 127.0.0.1: the same site as the server, another origin."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page_html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/cats.html"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_cannot_change_state_sign_in_or_frame_the_review_page(
    database_url: str,
    home: Path,
    review_jobs: Path,
    browser: Browser,
) -> None:
    with serving(home, database_url, review_jobs) as (base, token):
        thread_id = start_search(base, token)
        context = browser.new_context()
        page = context.new_page()
        errors = console_errors(page)
        sign_in(page, base, thread_id, token)
        expect(page.locator("#stage")).to_have_attribute("data-stage", "awaiting_review", timeout=60_000)
        package_id = page.locator("article.card").first.get_attribute("data-package-id")

        attack = ATTACK_PAGE.format(base=base, thread_id=thread_id, package_id=package_id, token=token)
        with hostile_site(attack) as cats_url:
            evil = context.new_page()
            evil_console = console_errors(evil)
            answers: dict[str, Response] = {}
            evil.on("response", lambda r: answers.setdefault(r.request.method + " " + r.url, r))
            evil.goto(cats_url)
            posts = {
                "mark-sent": f"POST {base}/api/deliveries/{package_id}/mark-sent",
                "sign-in": f"POST {base}/review/{thread_id}/sign-in",
                "upload": f"POST {base}/api/cv",
            }
            deadline = time.monotonic() + 15
            while not set(posts.values()) <= answers.keys() and time.monotonic() < deadline:
                evil.wait_for_timeout(100)
            # 403, not 401: the browser did send the session cookie along (same site); the server refused.
            assert {name: answers[key].status for name, key in posts.items()} == dict.fromkeys(posts, 403)
            assert any("frame-ancestors" in message for message in evil_console), evil_console
            assert evil.frame_locator("iframe[name=framed]").locator("#thread-id").count() == 0

        owner_uploads = sorted(p.name for p in (home / "uploads").rglob("*") if p.is_file())
        assert len(owner_uploads) == 1, f"only the search's own CV was stored: {owner_uploads}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
            letters = api.get("/api/deliveries", params={"include_resolved": True}).json()
            assert [d for d in letters if d["thread_id"] == thread_id] == [], "no dead letter was marked sent"
            status = api.get(f"/api/threads/{thread_id}").json()
        assert status["stage"] == "awaiting_review" and package_id in status["awaiting_review"]

        # The person is still signed in as themselves; an old ?token= link lands on the page, signed in.
        page.reload()
        expect(page.locator("#signed-in-as")).to_have_text("alex.morgan@example.com")
        page.goto(f"{base}/review/{thread_id}?token={token}")
        expect(page.locator("#thread-id")).to_have_text(thread_id)
        assert token not in page.url

        (session,) = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
        assert session["httpOnly"] and session["sameSite"] == "Strict" and token not in session["value"]
        assert time.time() < session["expires"] <= time.time() + 12 * 3600, "the cookie expires"
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]

        # The API docs run under the same policy, from files this server serves.
        docs = context.new_page()
        docs_errors = console_errors(docs)
        docs.goto(f"{base}/docs")
        expect(docs.locator(".swagger-ui .title")).to_contain_text("JobLand", timeout=20_000)
        expect(docs.locator(".opblock-summary-path", has_text="/api/threads").first).to_be_visible()
        assert errors == [] and docs_errors == [], (errors, docs_errors)
        context.close()

    access_log = (home / "server.log").read_text()
    assert f"/review/{thread_id}" in access_log and "token=[redacted]" in access_log, access_log[-2000:]
    assert token not in access_log, "the API token is never written to the access log"
