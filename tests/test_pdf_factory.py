"""Each tests/support/pdfs.py builder produces the kind of PDF it claims (real PyMuPDF, tmp dirs, < 5 s)."""

from __future__ import annotations

import pymupdf
import pytest

from tests.support import pdfs as pf


def test_text_pdf(tmp_path):
    doc = pymupdf.open(pf.text_pdf(tmp_path / "t.pdf", ["alpha page", "beta page"]))
    assert doc.page_count == 2
    assert "beta page" in doc[1].get_text()


def test_two_column_scan_is_image_only(tmp_path):
    path = pf.two_column_scan(tmp_path / "scan.pdf")
    doc = pymupdf.open(path)
    assert doc.page_count == 1
    page = doc[0]
    assert page.get_text().strip() == ""
    images = page.get_images(full=True)
    assert len(images) == 1
    info = doc.extract_image(images[0][0])
    assert info["width"] >= 1500  # 200 dpi over A4 width is ~1654 px
    pix = pymupdf.Pixmap(doc, images[0][0])
    assert pix.n == 1  # grayscale


def test_deep_outline_book(tmp_path):
    doc = pymupdf.open(pf.deep_outline_book(tmp_path / "book.pdf", chapters=6, depth=3))
    assert doc.page_count >= 30
    toc = doc.get_toc()
    assert {lvl for lvl, _, _ in toc} == {1, 2, 3}
    assert sum(1 for lvl, _, _ in toc if lvl == 1) == 6
    # every outline entry points at a page whose text carries that heading
    for _, title, page in toc:
        assert title in doc[page - 1].get_text()


def test_blank_page_has_no_text_and_no_image(tmp_path):
    doc = pymupdf.open(pf.blank_page_pdf(tmp_path / "blank.pdf"))
    assert doc.page_count == 1
    assert doc[0].get_text() == ""
    assert doc[0].get_images() == []


def test_cyclic_outline_loops(tmp_path):
    doc = pymupdf.open(pf.cyclic_outline_pdf(tmp_path / "cyc.pdf"))
    assert doc.page_count == 3
    items = pf._outline_items(doc)  # stops after 1000 hops
    assert len(items) == 1000 and len(set(items)) == 3
    # MuPDF itself notices the loop and gives no outline rather than hanging
    assert isinstance(doc.get_toc(), list)


def test_encrypted_user_password(tmp_path):
    doc = pymupdf.open(pf.encrypted_pdf(tmp_path / "enc.pdf", user_pw="user", owner_pw="owner"))
    assert doc.needs_pass
    assert not doc.authenticate("wrong")
    assert doc.authenticate("user")
    assert doc.page_count == 2


def test_encrypted_owner_only_opens(tmp_path):
    doc = pymupdf.open(pf.encrypted_pdf(tmp_path / "own.pdf", user_pw=None, owner_pw="owner"))
    assert not doc.needs_pass
    assert "AES" in doc.metadata["encryption"]
    assert "mitochondrion" in doc[0].get_text()
    assert not doc.permissions & pymupdf.PDF_PERM_COPY


def test_truncated_pdf_is_broken(tmp_path):
    src = pf.deep_outline_book(tmp_path / "book.pdf")
    path = pf.truncated_pdf(src, tmp_path / "trunc.pdf")
    assert 0 < path.stat().st_size < src.stat().st_size
    try:
        doc = pymupdf.open(path)
    except (pymupdf.FileDataError, RuntimeError):
        return
    assert doc.page_count == 0 or doc.page_count < 42


def test_zero_byte_and_not_a_pdf(tmp_path):
    z = pf.zero_byte(tmp_path / "zero.pdf")
    assert z.stat().st_size == 0
    with pytest.raises(pymupdf.EmptyFileError):
        pymupdf.open(z)
    n = pf.not_a_pdf(tmp_path / "html.pdf")
    assert not n.read_bytes().startswith(b"%PDF")
    try:  # MuPDF may sniff it as HTML and open it, but never as a PDF
        assert not pymupdf.open(n).is_pdf
    except (pymupdf.FileDataError, RuntimeError):
        pass


def test_factory_is_deterministic(tmp_path):
    a = pf.two_column_scan(tmp_path / "a.pdf").read_bytes()
    b = pf.two_column_scan(tmp_path / "b.pdf").read_bytes()
    assert a == b


def test_writer_text_layer_keeps_ligatures_and_refuses_missing_glyphs(tmp_path):
    from tutorforge.pdf.writer import TextLayer, save_pdf

    doc = pymupdf.open()
    doc.new_page(width=595, height=842)
    text = TextLayer(doc)
    assert text.put(0, (72, 100), "the \ufb01rst \ufb02ow", "helv", 11) > 0
    with pytest.raises(ValueError, match="no glyph"):
        text.put(0, (72, 120), "\u4e2d", "helv", 11)
    text.flush()
    page = pymupdf.open(save_pdf(doc, tmp_path / "lig.pdf"))[0]
    assert "\ufb01rst \ufb02ow" in page.get_text()


def test_writer_scan_is_image_only_and_seeded(tmp_path):
    from tutorforge.pdf.writer import Speckle, append_scan, save_pdf

    src = pymupdf.open(pf.text_pdf(tmp_path / "t.pdf", ["alpha page"]))
    runs = []
    for name in ("a.pdf", "b.pdf"):
        out = pymupdf.open()
        append_scan(out, src, 0, angle=1.0, dpi=100, image_format="jpg", speckle=Speckle(seed=4, count=10))
        runs.append(save_pdf(out, tmp_path / name, close=True).read_bytes())
    assert runs[0] == runs[1]
    page = pymupdf.open(tmp_path / "a.pdf")[0]
    assert page.get_text().strip() == "" and len(page.get_images()) == 1
