from service.reading.segment import is_heading, passages_from_document


def test_passages_point_back_into_their_page(shell_doc):
    passages = passages_from_document(shell_doc)
    assert len(passages) > 300
    for p in passages:
        page = shell_doc.pages[p.page - 1]
        assert " ".join(page.text[p.start : p.end].split()) == p.text


def test_passages_are_short_enough_to_embed_and_have_headings(shell_doc):
    passages = passages_from_document(shell_doc, max_words=90)
    long = [p for p in passages if len(p.text.split()) > 150]
    assert len(long) / len(passages) < 0.05
    assert sum(bool(p.heading) for p in passages) / len(passages) > 0.8


def test_passage_ids_are_deterministic_and_unique(shell_doc):
    first = [p.id for p in passages_from_document(shell_doc)]
    second = [p.id for p in passages_from_document(shell_doc)]
    assert first == second
    assert len(set(first)) == len(first)


def test_known_heading_is_attached_to_its_passages(shell_doc):
    passages = passages_from_document(shell_doc)
    [panel] = [p for p in passages if "opportunity to review two drafts" in p.text]
    assert panel.page == 11
    assert panel.heading == "Report Review Panel recommendations"


def test_section_titles_become_headings_for_text_reports(hm_doc):
    passages = passages_from_document(hm_doc)
    titles = {p.text.split("\n")[0] for p in hm_doc.pages}
    assert sum(p.heading in titles for p in passages) / len(passages) > 0.9


def test_heading_rule():
    assert is_heading("Human rights", "Our policy applies to all sites.", "We assess risks.")
    assert not is_heading("Catherine MacGregor: The integrated report aims to", "", "present, in a")
    assert not is_heading("We assess our suppliers every year.", "", "Next")
