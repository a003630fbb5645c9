"""Shared by the test modules: hostile files."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib


def pdf_file(*objects: bytes) -> bytes:
    """A PDF of the numbered object bodies (object 1 is the catalog), with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def pdf_stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (dictionary, len(data), data)


def zeros_deflated(megabytes: int) -> bytes:
    """A zlib stream of megabytes MB of zeros, made in milliseconds: after a full flush, every further MB of
    zeros deflates to the same bytes; the stream ends with an empty final block and the Adler-32 of zeros."""
    block = bytes(1024 * 1024)
    deflate = zlib.compressobj(9)
    first = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    adler32 = (megabytes * len(block)) % 65521 << 16 | 1
    return first + repeated * (megabytes - 1) + b"\x03\x00" + struct.pack(">I", adler32)


def page_with_contents(filters: bytes, data: bytes) -> bytes:
    """A one-page PDF with a line of text, and a second content stream of the given filters and data."""
    text = b"BT /F1 12 Tf 72 720 Td (Jane Doe) Tj ET"
    return pdf_file(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents [5 0 R 6 0 R] >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        pdf_stream(b"", text),
        pdf_stream(b"/Filter " + filters, data),
    )


def flate_bomb_pdf() -> bytes:
    return page_with_contents(b"/FlateDecode", zeros_deflated(2000))


def looping_pdf() -> bytes:
    return pdf_file(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 3 0 R] /Count 1 >>",
    )


def nested_json() -> bytes:
    depth = 100_000
    return ('{"basics": {"name": "Jane Doe"}, "work": [' + "[" * depth + "]" * depth + "]}").encode()


def docx_file(document_parts: list[bytes], images: int = 0) -> bytes:
    """A DOCX whose document part is the pieces joined (written piece by piece: a huge part is never held whole),
    with that many (empty) image files beside it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="word/document.xml" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>',
        )
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            for piece in document_parts:
                part.write(piece)
        for number in range(images):
            archive.writestr(f"word/media/image{number}.png", b"")
    return out.getvalue()


_W = b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'


def zip_bomb_docx() -> bytes:
    """A DOCX whose document part unpacks to 64 MB of spaces (twice the test server's limit)."""
    return docx_file([_W, *[b" " * (1024 * 1024)] * 64, b"</w:body></w:document>"])
