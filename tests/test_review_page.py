"""The review page end to end: the real server on 127.0.0.1, the real graph, Debian's Chromium.

Open the page, see the verdicts and the CV diff, approve one package, reject the others, submit,
and watch the delivery happen; a hostile posting's markup shows as text and never runs.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.local_world.smtp import LocalSmtp
from tests.support.api import BROKEN_BUILD, smtp_env
from tests.support.browser import (
    CHROMIUM,
    HOSTILE_COMPANY,
    HOSTILE_TITLE,
    SCREENSHOTS,
    console_errors,
    serving,
    sign_in,
    start_search,
)
from tests.support.edits import FABRICATED, assert_styled_like, attached_cv, fabricate, sent_messages

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"the browser test needs Debian's chromium at {CHROMIUM} (apt install chromium)"
    ),
]


def card(page: Page, text: str):
    return page.locator("article.card", has_text=text)


def test_review_page_approve_one_reject_the_rest_and_see_delivery(
    review_server: tuple[str, str], browser: Browser, home: Path
) -> None:
    base, token = review_server
    thread_id = start_search(base, token)
    SCREENSHOTS.mkdir(exist_ok=True)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors = console_errors(page)
    sign_in(page, base, thread_id, token)
    expect(page.locator("#signed-in-as")).to_have_text("alex.morgan@example.com")

    # The run pauses for review; every package shows its verdict.
    expect(page.locator("#stage")).to_have_attribute("data-stage", "awaiting_review", timeout=60_000)
    cards = page.locator("article.card")
    expect(cards.locator(".choice-accept")).to_have_count(3, timeout=10_000)
    assert "accountant" not in page.locator("#packages").inner_text().lower(), "a poor match gets no package"
    for i in range(3):
        one = cards.nth(i)
        assert 0 <= int(one.locator(".score-value").inner_text()) <= 100
        expect(one.locator(".badge")).to_have_text("High probability")
        assert one.locator(".reasons li").count() >= 3
    expect(page.locator("[data-count=postings]")).to_have_text("4")
    expect(page.locator("[data-count=packages_built]")).to_have_text("3")

    # The hostile posting's markup is text, nowhere markup; documents sit in script-less sandboxes.
    hostile = card(page, "Riptide")
    expect(hostile.locator("h2")).to_have_text(HOSTILE_TITLE)
    expect(hostile.locator(".company")).to_have_text(HOSTILE_COMPANY)
    assert page.locator("main img, main script").count() == 0
    frames = page.locator("iframe.document")
    assert frames.count() == 6
    assert all(frames.nth(i).get_attribute("sandbox") == "" for i in range(frames.count()))
    hostile.locator("summary", has_text="dossier").click()
    expect(hostile.locator(".dossier")).to_be_visible()
    assert hostile.locator(".dossier a[href^=javascript]").count() == 0

    # The CV diff against the master CV: lines kept and dropped are shown.
    ledgerline = card(page, "Ledgerline")
    ledgerline.locator("summary", has_text="What changed").click()
    expect(ledgerline.locator(".diff")).to_be_visible()
    assert ledgerline.locator(".diff-kept").count() >= 5
    assert ledgerline.locator(".diff-dropped").count() >= 1, "the tailored CV keeps a page budget"
    ledgerline.locator("summary", has_text="Tailored CV").click()
    page.screenshot(path=str(SCREENSHOTS / "review.png"), full_page=True)

    # Edit opens the CV and the letter as text; then decide: approve Ledgerline, reject the others.
    kiezkraft = card(page, "Kiezkraft")
    kiezkraft.locator(".choice-edit").click()
    cv_text = kiezkraft.get_by_label("CV (Markdown)")
    expect(cv_text).to_be_visible()
    assert cv_text.input_value().startswith("# ")
    assert kiezkraft.get_by_label("Cover letter (Markdown)").input_value()
    kiezkraft.locator(".choice-reject").click()
    expect(kiezkraft.get_by_label("CV (Markdown)")).to_have_count(0)
    hostile.locator(".choice-reject").click()
    ledgerline.locator(".choice-accept").click()
    expect(ledgerline.locator(".choice-accept")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#decision-summary")).to_contain_text("3 of 3 decided: 1 accept, 0 edit, 2 reject")
    page.locator("#submit-decisions").click()

    # Delivery happens on the page: the approved package is sent, the others rejected.
    expect(ledgerline.locator(".status")).to_have_text("sent", timeout=60_000)
    expect(page.locator("#stage")).to_have_attribute("data-stage", "finished", timeout=30_000)
    expect(kiezkraft.locator(".status")).to_have_text("rejected")
    expect(hostile.locator(".status")).to_have_text("rejected")
    expect(page.locator("[data-count=delivered]")).to_have_text("1")
    expect(page.locator("#decision-bar")).to_be_hidden()
    expect(ledgerline.get_by_role("link", name="Email (.eml)")).to_be_visible()
    expect(ledgerline.frame_locator("iframe.document").first.locator("h1")).to_have_text("Alex Morgan")
    page.screenshot(path=str(SCREENSHOTS / "delivered.png"), full_page=True)

    messages = sorted((home / "outbox").glob("*.eml"))
    assert len(messages) == 1, messages
    message = email.message_from_bytes(messages[0].read_bytes(), policy=email.policy.default)
    package_id = ledgerline.get_attribute("data-package-id")
    assert message["X-JobLand-Package"] == package_id
    assert dialogs == [], f"script from a posting ran: {dialogs}"
    assert errors == [], f"the page broke under its Content-Security-Policy: {errors}"

    # A phone: the same page, no sideways scrolling.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, base, thread_id, token)
    expect(phone.locator("article.card")).to_have_count(3)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(SCREENSHOTS / "phone.png"), full_page=True)


def test_review_page_shows_what_is_missing_builds_it_again_and_resolves_dead_letters(
    database_url: str, home: Path, review_jobs: Path, browser: Browser, smtp_server: LocalSmtp
) -> None:
    env = smtp_env(smtp_server)
    with serving(home, database_url, review_jobs, JOBLAND_FAILPOINTS=BROKEN_BUILD, **env) as (base, token):
        thread_id = start_search(base, token)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = console_errors(page)
        sign_in(page, base, thread_id, token)
        expect(page.locator("#stage")).to_have_attribute("data-stage", "awaiting_review", timeout=60_000)

        # The package that failed says why, shows its history, and offers to be built again.
        missing = page.locator("article.card", has=page.locator(".failure-box"))
        expect(missing).to_have_count(1, timeout=10_000)
        expect(missing.locator(".failure-reason")).to_contain_text("failpoint write_cv.start raised")
        expect(missing.locator(".timeline li")).to_have_count(4)
        expect(missing.locator(".timeline li").last).to_have_attribute("data-status", "failed")
        expect(page.locator("#intro")).to_contain_text("1 could not be built")
        expect(page.locator("article.card .choice-accept")).to_have_count(2)
        missing_id = missing.get_attribute("data-package-id")
        missing.locator(".choice-retry").click()
        expect(page.locator("#decision-summary")).to_contain_text("1 build again")
        page.locator("#submit-decisions").click()

        rebuilt = page.locator(f"article.card[data-package-id='{missing_id}']")
        expect(rebuilt.locator(".status")).to_have_text("ready", timeout=60_000)
        expect(page.locator("article.card .choice-accept")).to_have_count(3, timeout=30_000)
        expect(rebuilt.locator(".failure-box")).to_have_count(0)
        expect(rebuilt.locator(".timeline li").last).to_have_attribute("data-status", "ready")

        # Every send hears "try again later": the approved one becomes a dead letter the page offers to resolve.
        smtp_server.handler.busy_next = 1000
        for i in range(3):
            one = page.locator("article.card").nth(i)
            one.locator(
                ".choice-accept" if one.get_attribute("data-package-id") == missing_id else ".choice-reject"
            ).click()
        page.locator("#submit-decisions").click()
        letters = page.locator("#dead-letters")
        expect(letters).to_be_visible(timeout=60_000)
        expect(letters.locator(".dead-letter")).to_have_count(1)
        expect(letters).to_contain_text("attempts ran out")
        expect(rebuilt.locator(".status")).to_have_text("failed")
        page.screenshot(path=str(SCREENSHOTS / "dead-letter.png"), full_page=True)

        smtp_server.handler.busy_next = 0
        letters.get_by_role("button", name="Send again").click()
        expect(rebuilt.locator(".status")).to_have_text("sent", timeout=60_000)
        expect(letters).to_be_hidden()
        assert errors == [], errors
    assert len(smtp_server.handler.deliveries) == 1


def test_review_page_edits_a_cv_in_place_flags_invented_lines_and_sends_it_once_confirmed(
    review_server: tuple[str, str], browser: Browser, home: Path
) -> None:
    base, token = review_server
    thread_id = start_search(base, token)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = console_errors(page)
    sign_in(page, base, thread_id, token)
    expect(page.locator("#stage")).to_have_attribute("data-stage", "awaiting_review", timeout=60_000)
    expect(page.locator("article.card .choice-accept")).to_have_count(3, timeout=10_000)

    # The CV is edited in place, and the preview follows the text as it is typed.
    kiezkraft = card(page, "Kiezkraft")
    kiezkraft.locator(".choice-edit").click()
    cv_text = kiezkraft.get_by_label("CV (Markdown)")
    cv_text.fill(fabricate(cv_text.input_value()))
    expect(kiezkraft.get_by_label("CV preview")).to_contain_text(FABRICATED["employer"])
    page.locator("#submit-decisions").click()

    # Stored as version 2 with every invented line flagged; not sent.
    held = kiezkraft.locator(".unsupported-box")
    expect(held).to_be_visible(timeout=60_000)
    for written in FABRICATED.values():
        expect(held).to_contain_text(written)
    expect(kiezkraft.locator(".status")).to_have_text("ready")
    assert not (home / "outbox").exists() or not list((home / "outbox").glob("*.eml"))
    kiezkraft.locator("summary", has_text="Your edits").click()
    expect(kiezkraft.locator(".diff-version")).to_contain_text(FABRICATED["employer"])
    page.screenshot(path=str(SCREENSHOTS / "edit-flagged.png"), full_page=True)

    # The second confirmation: tick each line, accept, submit; it goes out.
    for box in kiezkraft.locator(".confirm-unsupported").all():
        box.check()
    kiezkraft.locator(".choice-accept").click()
    page.locator("#submit-decisions").click()
    expect(kiezkraft.locator(".status")).to_have_text("sent", timeout=60_000)
    assert errors == [], errors

    package_id = kiezkraft.get_attribute("data-package-id")
    (message,) = sent_messages(home).values()
    assert message["X-JobLand-Package"] == package_id
    pdf, markdown = attached_cv(message)
    assert FABRICATED["employer"] in markdown
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
        detail = api.get(f"/api/threads/{thread_id}/packages/{package_id}").raise_for_status().json()
    assert_styled_like(home, detail["versions"][0]["cv"]["pdf_file"], pdf)
