"""The names corpus (tests/corpus/names, made by scripts/make_names_corpus.py): every mention
of a restricted student found with the right strength; no false alarm on ordinary words,
permitted students or places; a name used in another sense may cost a review, never a block."""

import pytest

from consentguard import Checker, open_db, sync_roster

from helpers import names_corpus as ev


@pytest.fixture(scope="module")
def checker(tmp_path_factory):
    db = open_db(tmp_path_factory.mktemp("names") / "cg.db")
    report = sync_roster(db, ev.CORPUS / "roster.csv")
    assert report.name_restricted == 27
    return Checker(db, record=False)


def test_corpus_size():
    assert len(ev.read_tsv(ev.CORPUS / "captions.tsv")) >= 200
    assert len(ev.read_tsv(ev.CORPUS / "images.tsv")) >= 30


@pytest.mark.parametrize("row", ev.read_tsv(ev.CORPUS / "captions.tsv"), ids=lambda r: r["caption"][:40])
def test_caption(checker, row):
    got = {(h.student_number, h.strength) for h in checker.find_names(row["caption"])}
    if row["kind"] == "other-sense":
        assert all(strength == "review" for _, strength in got)
    else:
        assert got == ev.expected_hits(row["expected"])


@pytest.mark.slow
@pytest.mark.faces
def test_images(checker, tmp_path):
    wrong = []
    for path, row in ev.render_images(tmp_path):
        got = {(h.student_number, h.strength) for h in checker.check_path(path).decision.names}
        if got != ev.expected_hits(row["expected"]):
            wrong.append((row["file"], got, row["expected"]))
    assert wrong == []
