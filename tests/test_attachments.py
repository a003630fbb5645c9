"""Every text attachment of a delivered package declares its charset (RFC 7763 requires it of text/markdown),
and what it declares is what the bytes are: non-ASCII text arrives as written."""

from __future__ import annotations

import email
from email.headerregistry import Address
from email.policy import default
from pathlib import Path

from jobland.agents.deliver import compose_message
from tests.support.packages import make_package, make_posting, make_profile


def test_markdown_attachments_declare_utf_8(tmp_path: Path) -> None:
    posting = make_posting(company="Müller & Söhne — Logistik GmbH", title="Senior Site Reliability Engineer")
    package = make_package(make_profile(), posting)
    sent = compose_message(package, Address(display_name="Jane", addr_spec="jane@example.org"), tmp_path)
    received = email.message_from_bytes(sent.as_bytes(), policy=default)  # as the recipient's client reads it

    markdown = [part for part in received.iter_attachments() if part.get_content_type() == "text/markdown"]
    assert {part.get_filename().split("-")[0] for part in markdown} >= {"cv", "cover", "dossier"}
    for part in markdown:
        assert part.get_content_charset() == "utf-8", part.get_filename()
    letter = next(part for part in markdown if part.get_filename().startswith("cover-letter"))
    assert letter.get_content() == package.cover_letter.markdown
    dossier = next(part for part in markdown if part.get_filename().startswith("dossier"))
    assert "Müller & Söhne — Logistik GmbH" in dossier.get_content()
    for part in received.walk():
        if part.get_content_maintype() == "text":
            assert part.get_content_charset(), f"{part.get_content_type()} without a charset"
