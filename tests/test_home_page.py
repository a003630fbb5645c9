"""The home page end to end: sign in at `/`, upload a CV, start a search, open its review, keep the tracker.

The real server on 127.0.0.1, the real graph and Debian's Chromium; and over plain HTTP, the page's
sign-in and the CSRF token that every change it makes must carry.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from jobland.browser_sessions import CSRF_HEADER, SESSION_COOKIE
from jobland.settings import ApiUser
from jobland.templates import TEMPLATES_DIR
from tests.conftest import EXAMPLE_CV, free_port, jobland_process
from tests.support.api import api_settings, client, running_server, upload, wait_for
from tests.support.browser import CSRF_META, INLINE_SCRIPT, SCREENSHOTS, browser_client, console_errors

pytestmark = pytest.mark.slow  # starts processes, servers or whole pipeline runs

# Users of these tests' own, so that the other tests' lists of Alice's and Bob's threads stay theirs.
DANA, ERIN = "dana-token-0123456789", "erin-token-0123456789"
USERS = {
    DANA: ApiUser(user_id="dana", email="dana@example.com", name="Dana Example"),
    ERIN: ApiUser(user_id="erin", email="erin@example.com", name="Erin"),
}


@pytest.fixture
def base_url(database_url: str, home: Path) -> Iterator[str]:
    with running_server(api_settings(database_url, home).model_copy(update={"api_tokens": USERS})) as base:
        yield base


def sign_in_at_home(page: Page, base: str, token: str) -> None:
    """Open the link `jobland serve` prints (the token in its fragment) and press Sign in."""
    page.goto(f"{base}/#token={token}")
    assert page.url == f"{base}/", "the token leaves the address bar before anything is sent"
    expect(page.get_by_role("heading", name="Sign in to JobLand")).to_be_visible()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Start a search")).to_be_visible()


def test_from_home_upload_search_review_deliver_and_track(
    review_server: tuple[str, str],
    browser: Browser,
    home: Path,
) -> None:
    base, token = review_server
    SCREENSHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = console_errors(page)
    changes: list[Request] = []
    page.on("request", lambda r: changes.append(r) if r.method not in ("GET", "HEAD") and "/api/" in r.url else None)
    sign_in_at_home(page, base, token)
    expect(page.locator("#signed-in-as")).to_have_text("alex.morgan@example.com")
    expect(page.locator("#start-search")).to_be_disabled()
    expect(page.locator("#threads-empty")).not_to_have_text("Loading…")  # the first load is in
    # The other tests' searches, by the same user: some start or end while this one runs.
    earlier = page.locator("#threads tbody tr").evaluate_all("rows => rows.map(r => r.dataset.threadId)")

    # Upload the CV, then start a search in words.
    page.locator("#cv-file").set_input_files(EXAMPLE_CV)
    page.get_by_role("button", name="Upload CV").click()
    # The server's first read waits for its fork server to load the parser (3 s idle, more on a loaded machine).
    expect(page.locator("#cv-status")).to_contain_text("Alex Morgan", timeout=30_000)
    page.get_by_label("What are you looking for?").fill("senior Python backend")
    page.get_by_role("button", name="Start search").click()

    # The search appears with its stage, and says when it waits for review.
    new_thread = page.wait_for_function(
        """([earlier, query]) => [...document.querySelectorAll('#threads tbody tr')]
            .find(r => !earlier.includes(r.dataset.threadId) && r.cells[0].textContent.trim() === query)
            ?.dataset.threadId""",
        arg=[earlier, "senior Python backend"],
    ).json_value()
    row = page.locator(f'#threads tbody tr[data-thread-id="{new_thread}"]')
    order = page.locator("#threads tbody tr").evaluate_all("rows => rows.map(r => r.dataset.threadId)")
    assert all(order.index(new_thread) < order.index(t) for t in earlier if t in order), "newest first"
    expect(row).to_have_attribute("data-stage", "awaiting_review", timeout=60_000)
    expect(row.locator(".stage")).to_have_text("Waiting for your review")
    started = row.locator("time").get_attribute("datetime")
    assert row.locator("time").inner_text() == page.evaluate(f"new Date({started!r}).toLocaleString()")
    page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)

    # Its review: approve one package, reject the others.
    thread_id = row.get_attribute("data-thread-id")
    row.get_by_role("link", name="Review packages").click()
    expect(page).to_have_url(f"{base}/review/{thread_id}")
    cards = page.locator("article.card")
    expect(cards.locator(".choice-accept")).to_have_count(3, timeout=10_000)
    chosen = cards.first.get_attribute("data-package-id")
    # Check names and timestamps wait behind a toggle that names the outcome; times are in the person's locale.
    details = cards.first.locator("details.panel-details")
    expect(details.locator("summary")).to_have_text(re.compile(r"^Details: all \d+ checks passed, status history$"))
    expect(details.locator(".timeline")).to_be_hidden()
    details.locator("summary").click()
    stamp = details.locator(".timeline time").last
    expect(stamp).to_be_visible()
    assert stamp.inner_text() == page.evaluate(f"new Date({stamp.get_attribute('datetime')!r}).toLocaleString()")
    expect(details.locator(".checks li.check-pass").first).to_be_visible()
    cards.first.locator(".choice-accept").click()
    for i in (1, 2):
        cards.nth(i).locator(".choice-reject").click()
    page.locator("#submit-decisions").click()
    expect(page.locator("#stage")).to_have_attribute("data-stage", "finished", timeout=60_000)

    # Back home: the search is finished and the tracker lists the delivered application; move it along.
    page.get_by_role("link", name="JobLand").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator(f"#threads tr[data-thread-id='{thread_id}']")).to_have_attribute("data-stage", "finished")
    application = page.locator(f"#applications tr[data-package-id='{chosen}']")
    picker = application.get_by_role("combobox")
    expect(picker).to_have_value("sent")
    picker.select_option("applied")
    expect(page.locator("#notice")).to_contain_text(": applied.")
    expect(application).to_have_attribute("data-status", "applied")
    page.screenshot(path=str(SCREENSHOTS / "home-tracker.png"), full_page=True)
    # Withdrawn: new searches (the other tests', by the same user) may offer this posting again.
    application.get_by_role("combobox").select_option("withdrawn")
    expect(application).to_have_attribute("data-status", "withdrawn")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
        (entry,) = [e for e in api.get("/api/applications").json() if e["package_id"] == chosen]
    assert [h["status"] for h in entry["history"]] == ["sent", "applied", "withdrawn"]

    # Every change the pages asked for carried the session's CSRF token.
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    asked = sorted({f"{r.method} {r.url.removeprefix(base)}" for r in changes})
    assert asked == [
        f"PATCH /api/applications/{chosen}",
        "POST /api/cv",
        "POST /api/threads",
        f"POST /api/threads/{thread_id}/decisions",
    ], asked
    assert all(r.headers.get(CSRF_HEADER.lower()) == csrf for r in changes)
    assert errors == [], f"the pages broke under their Content-Security-Policy: {errors}"

    # A phone: the same page, no sideways scrolling.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in_at_home(phone, base, token)
    expect(phone.locator(f"#applications tr[data-package-id='{chosen}']")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(SCREENSHOTS / "home-phone.png"), full_page=True)


def test_home_without_a_session_is_the_sign_in_form_and_its_changes_need_the_csrf_token(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as anyone:
        form = anyone.get("/")
        assert form.status_code == 401 and form.headers["cache-control"] == "no-store"
        assert 'action="/sign-in"' in form.text and "Sign in to JobLand" in form.text
        # Only this server's own page signs a browser in.
        assert anyone.post("/sign-in", data={"token": DANA}).status_code == 403
        other_port = {"Origin": "http://127.0.0.1:1"}
        assert anyone.post("/sign-in", data={"token": DANA}, headers=other_port).status_code == 403
        for name in ("page.js", "home.js", "home.css"):
            assert anyone.get(f"/static/{name}").status_code == 200, name

    with browser_client(base_url) as wrong:
        refused = wrong.post("/sign-in", data={"token": "not-a-token"})
        assert refused.status_code == 401 and "not valid" in refused.text and "set-cookie" not in refused.headers

    with browser_client(base_url) as dana_browser:
        signed_in = dana_browser.post("/sign-in", data={"token": DANA})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
        assert DANA not in signed_in.headers["set-cookie"]
        page = dana_browser.get("/")
        assert page.status_code == 200 and "Dana Example" in page.text
        (csrf,) = CSRF_META.findall(page.text)
        statuses = re.search(r'data-statuses="([^"]+)"', page.text).group(1).split()
        assert statuses == ["sent", "applied", "interviewing", "offer", "rejected", "withdrawn"]
        cookie = dana_browser.cookies[SESSION_COOKIE]

    cv = {"file": (EXAMPLE_CV.name, EXAMPLE_CV.read_bytes())}
    with httpx.Client(base_url=base_url, cookies={SESSION_COOKIE: cookie}, timeout=60) as page_like:
        # Each change the home page makes is refused without the page's token, whatever the cookie.
        refused = {
            "upload": page_like.post("/api/cv", files=cv),
            "search": page_like.post("/api/threads", json={"cv_id": "0" * 16, "message": "python"}),
            "status": page_like.patch("/api/applications/pkg_x", json={"status": "applied"}),
            "sign-out": page_like.post("/review/sign-out"),
        }
        assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 403)
        with_token = {CSRF_HEADER: csrf}
        uploaded = page_like.post("/api/cv", files=cv, headers=with_token)
        assert uploaded.status_code == 201, uploaded.text
        assert {e["owner"] for e in page_like.get("/api/applications").json()} <= {"dana"}
        missing = page_like.patch("/api/applications/pkg_x", json={"status": "applied"}, headers=with_token)
        assert missing.status_code == 404 and "GET /api/applications" in missing.json()["detail"]

    template = (TEMPLATES_DIR / "home.html.j2").read_text()
    assert not INLINE_SCRIPT.search(template), "home.html.j2 has inline script"


def test_the_tracker_api_sets_statuses_of_your_own_delivered_applications(base_url: str) -> None:
    with client(base_url, DANA) as dana, client(base_url, ERIN) as erin:
        cv_id = upload(dana, EXAMPLE_CV).json()["cv_id"]
        thread_id = dana.post("/api/threads", json={"cv_id": cv_id, "max_packages": 2}).json()["thread_id"]
        status = wait_for(dana, thread_id, {"awaiting_review"})
        sent, rejected = status["awaiting_review"][:2]
        decisions = [{"package_id": sent, "action": "accept"}, {"package_id": rejected, "action": "reject"}]
        assert dana.post(f"/api/threads/{thread_id}/decisions", json={"decisions": decisions}).status_code == 202
        wait_for(dana, thread_id, {"finished"})

        tracked = dana.get("/api/applications").json()
        assert [e["package_id"] for e in tracked if e["thread_id"] == thread_id] == [sent]
        everything = dana.get("/api/applications", params={"include_all": True}).json()
        assert {e["package_id"] for e in everything if e["thread_id"] == thread_id} == {sent, rejected}

        assert erin.get("/api/applications", params={"include_all": True}).json() == [], "not another user's"
        assert erin.patch(f"/api/applications/{sent}", json={"status": "applied"}).status_code == 404
        unknown = dana.patch(f"/api/applications/{sent}", json={"status": "hired"})
        assert unknown.status_code == 422
        not_settable = dana.patch(f"/api/applications/{sent}", json={"status": "undecided"})
        assert not_settable.status_code == 422 and "use one of" in not_settable.json()["detail"]
        never_sent = dana.patch(f"/api/applications/{rejected}", json={"status": "applied"})
        assert never_sent.status_code == 409 and "never delivered" in never_sent.json()["detail"]

        changed = dana.patch(f"/api/applications/{sent}", json={"status": "interviewing", "note": "call on Friday"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["status"] == "interviewing" and changed.json()["notes"] == ["call on Friday"]
        # Withdrawn: a new search (the other tests', by the same user) may offer this posting again.
        assert dana.patch(f"/api/applications/{sent}", json={"status": "withdrawn"}).status_code == 200
        (entry,) = [e for e in dana.get("/api/applications").json() if e["package_id"] == sent]
        assert [h["status"] for h in entry["history"]] == ["sent", "interviewing", "withdrawn"]


def test_jobland_serve_prints_the_home_link_that_signs_in(database_url: str, home: Path) -> None:
    port = free_port()
    with jobland_process(home, database_url, "serve", "--port", str(port)) as server:
        printed, deadline = "", time.monotonic() + 60
        while "Application startup complete" not in printed:  # uvicorn's line, once the server answers
            assert server.poll() is None and time.monotonic() < deadline, f"the server did not start:\n{printed}"
            printed += server.stderr.readline()
        link = re.search(r"Open in a browser: (http://\S+)/#token=(\S+)", printed)
        assert link, printed
        base, token = link.groups()
        assert base == f"http://127.0.0.1:{port}"
        with browser_client(base) as person:
            assert person.get("/").status_code == 401
            assert person.post("/sign-in", data={"token": token}).status_code == 303
            assert person.get("/").status_code == 200
