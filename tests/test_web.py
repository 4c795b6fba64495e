"""The web pages over HTTP on a real analysed report: upload form, result page, evidence, exports, errors.

The browser itself is exercised in test_browser.py; these tests read the served HTML and files.
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from service.app import create_app
from service.errors import NotFound
from service.judging.evidence import label_evidence
from service.pipeline import STAGES
from service.reading.page_images import passage_char_span
from service.reading.pdf_limits import DEFAULT_LIMITS
from service.reading.sandbox import render_page_image
from service.reading.segment import passages_from_document
from service.records import EVIDENCE_TYPES, Coverage
from service.settings import Settings
from service.web.charts import WHEEL_INNER, WHEEL_OUTER, sdg_wheel
from service.web.i18n import messages
from tests.conftest import ENGIE, MAX_AUTOMATION

TEMPLATES = Path(__file__).resolve().parents[1] / "service" / "web" / "templates"
HOSTILE = '<script>alert("x")</script> & Co'


# --- pieces that need no server ------------------------------------------------------------


def test_every_interface_string_has_a_dutch_translation():
    used = set()
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\(\s*"([^"]+)"', text)) | set(re.findall(r"\bt\(\s*'([^']+)'", text))
        used |= set(re.findall(r'"[A-Za-z]+": "([^"]+)"', text))  # the error page's texts per error kind
    used |= {*STAGES, *EVIDENCE_TYPES, "queued", "running", "done", "failed", "rejected"}
    used |= {"integrated", "due-diligence-only", "sdg-only", "neither"}
    missing = sorted(used - set(messages("nl")))
    assert not missing, f"no Dutch for: {missing}"
    assert len(used) > 100


def test_wheel_has_a_segment_per_goal_growing_with_coverage():
    coverage = [Coverage("sdg", str(i), f"goal {i}", (i - 1) * 6, i > 1, i, (), (), ()) for i in range(1, 18)]
    segments = sdg_wheel(coverage, {}, {"13": "#3F7E44"})
    assert [s.goal for s in segments] == [str(i) for i in range(1, 18)]
    assert segments[0].fill_path == ""  # no coverage, no coloured segment
    assert segments[12].colour == "#3F7E44" and segments[0].colour == "#888888"

    def outer_radius(path: str) -> float:
        return float(re.search(r"A([\d.]+),", path).group(1))

    radii = [outer_radius(s.fill_path) for s in segments[1:]]
    assert radii == sorted(radii) and radii[-1] < WHEEL_OUTER
    assert radii[0] == pytest.approx(WHEEL_INNER + (WHEEL_OUTER - WHEEL_INNER) * 0.06)
    assert all(outer_radius(s.track_path) == WHEEL_OUTER for s in segments)


def test_passages_are_found_on_their_pdf_page(engie_doc):
    data = ENGIE.read_bytes()
    passages = passages_from_document(engie_doc)[::12]
    pdf = pdfium.PdfDocument(data)
    found = sum(
        passage_char_span(pdf[p.page - 1].get_textpage().get_text_range(), p.text) is not None
        for p in passages
    )
    assert found / len(passages) >= 0.9
    assert passage_char_span("Completely different words on this page.", "Our emissions fell by 12%.") is None


def test_page_image_marks_the_passage(engie_doc):
    passage = next(p for p in passages_from_document(engie_doc) if p.page == 31 and len(p.text) > 200)
    marked = render_page_image(ENGIE.read_bytes(), 31, passage.text, DEFAULT_LIMITS)
    plain = render_page_image(ENGIE.read_bytes(), 31, "", DEFAULT_LIMITS)
    assert marked.png.startswith(b"\x89PNG") and marked.width > 700
    assert marked.boxes and not plain.boxes
    assert all(
        0 <= b.left < b.right <= marked.width and 0 <= b.top < b.bottom <= marked.height for b in marked.boxes
    )


# --- the pages on a real analysed report ---------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("web") / "data", database_url=None, auth="local")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture(scope="module")
def report_id(client):
    response = client.post(
        "/upload",
        files={"file": ("max.pdf", MAX_AUTOMATION.read_bytes(), "application/pdf")},
        data={"company": HOSTILE, "sector": "Industrial", "year": "2023"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/jobs/")
    job_page = client.get(response.headers["location"])
    assert job_page.status_code == 200 and 'data-stage="embedding"' in job_page.text
    job_id = response.headers["location"].rsplit("/", 1)[1]
    deadline = time.monotonic() + 600  # a job of seconds, on a machine that may be busy with others
    while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the job did not finish in 600 s"
        time.sleep(0.5)
    assert job["status"] == "done", job["error"]
    return job["report_id"]


@pytest.mark.slow
def test_result_page_shows_wheel_ladder_quadrant_and_escapes_report_text(client, report_id):
    page = client.get(f"/reports/{report_id}")
    assert page.status_code == 200
    html = page.text
    assert html.count('class="wheel-segment"') == 17
    assert html.count('<li class="step ') == 6
    assert html.count('class="own"') == 1
    assert "&lt;script&gt;alert(" in html and '<script>alert("x")' not in html
    analysis = client.get(f"/v1/reports/{report_id}/analysis").json()
    for step in analysis["due_diligence"]:
        state = "addressed" if step["addressed"] else "missing"
        assert f'<li class="step {state}" data-step="{step["label"]}">' in html
    # every rubric indicator with its decision and its reason, the regulatory views, and the negative evidence
    for indicator in analysis["indicators"]:
        assert f'data-indicator="{indicator["id"]}" data-decision="{indicator["decision"]}"' in html
        assert indicator["reason"] and str(escape(indicator["reason"])) in html
    # a score within the margin of a profile threshold is said on the page, and only then
    margin = analysis["profile_margin"]
    said = f"{margin['points_from_boundary']} point(s) from the profile threshold of {margin['threshold']}"
    assert html.count('id="on-the-line"') == (1 if margin["on_the_line"] else 0)
    assert (said in html) == margin["on_the_line"]
    assert html.count('<table class="view"') == 3 and 'data-view="csddd"' in html
    assert "Directive (EU) 2024/1760" in html and "Delegated Regulation (EU) 2023/2772" in html
    for view in analysis["regulatory_views"]:
        for item in view["items"]:
            assert f'data-item="{item["id"]}" data-status="{item["status"]}"' in html
    assert html.count('id="negative-evidence"') == (1 if analysis["negative_evidence"] else 0)
    advice = next(i for i in analysis["indicators"] if i["advice"])
    assert advice["advice"] in html
    dutch = client.get(f"/reports/{report_id}", params={"lang": "nl"}).text
    assert advice["advice_nl"] in dutch and "Wettelijke kaders" in dutch and "Op het randje" in dutch


@pytest.mark.slow
def test_evidence_lists_every_supporting_passage_best_first(client, report_id):
    analysis = client.get(f"/v1/reports/{report_id}/analysis").json()
    goal = max(analysis["sdg"], key=lambda c: c["evidence_count"])
    items = client.get(
        f"/v1/reports/{report_id}/evidence", params={"framework": "sdg", "label": goal["label"], "limit": 200}
    ).json()
    assert len(items) == goal["evidence_count"]  # every passage the coverage counted, not only the top 5
    assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    assert all(1 <= i["page"] <= 35 and i["evidence_type"] in EVIDENCE_TYPES for i in items)
    top_texts = {e["text"] for e in goal["evidence"]}
    assert top_texts <= {i["text"] for i in items}
    if goal["parts_touched"]:
        part = goal["parts_touched"][0]
        narrowed = client.get(
            f"/v1/reports/{report_id}/evidence",
            params={"framework": "sdg", "label": goal["label"], "part": part, "limit": 200},
        ).json()
        assert narrowed and all(part in i["parts"] for i in narrowed) and len(narrowed) <= len(items)
    fragment = client.get(f"/reports/{report_id}/evidence", params={"label": f"sdg-{goal['label']}"})
    assert fragment.status_code == 200 and fragment.text.count('class="passage"') == min(len(items), 20)
    assert (
        client.get(
            f"/v1/reports/{report_id}/evidence", params={"framework": "sdg", "label": "18"}
        ).status_code
        == 400
    )


@pytest.mark.slow
def test_page_image_highlights_a_passage_of_the_report(client, report_id):
    item = client.get(
        f"/v1/reports/{report_id}/evidence", params={"framework": "oecd_dd", "label": "1"}
    ).json()[0]
    url = f"/v1/reports/{report_id}/pages/{item['page']}/image"
    image = client.get(url, params={"passage": item["passage_id"]})
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    other_page = item["page"] % 35 + 1
    wrong = client.get(
        f"/v1/reports/{report_id}/pages/{other_page}/image", params={"passage": item["passage_id"]}
    )
    assert wrong.status_code == 404 and wrong.json()["error"] == "NotFound"
    assert client.get(f"/v1/reports/{report_id}/pages/36/image").status_code == 404


@pytest.mark.slow
def test_csv_export_matches_the_analysis(client, report_id):
    analysis = client.get(f"/v1/reports/{report_id}/analysis").json()
    response = client.get(f"/v1/reports/{report_id}/analysis", params={"format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = [(c["label"], str(c["score"])) for c in analysis["sdg"] + analysis["due_diligence"]]
    assert [(r["label"], r["score"]) for r in rows[:23]] == expected
    counts = analysis["sdg"][12]["evidence_types"]
    assert int(rows[12]["actions"]) == counts.get("action", 0)
    assert rows[12]["decision"] == analysis["sdg_ladder"][12]["rung"]
    indicators = [r for r in rows if r["framework"] == "indicator"]
    assert [(r["label"], r["decision"]) for r in indicators] == [
        (i["id"], i["decision"]) for i in analysis["indicators"]
    ]
    pages = [";".join(str(e["page"]) for e in i["evidence"]) for i in analysis["indicators"]]
    assert [r["pages"] for r in indicators] == pages
    assert [r["reason"] for r in indicators] == [i["reason"] for i in analysis["indicators"]]
    views = {r["framework"] for r in rows if r["framework"].startswith("view:")}
    assert views == {"view:csddd", "view:esrs_gov4", "view:agt"}
    negative = [r for r in rows if r["framework"] == "negative_evidence"]
    assert len(negative) == len(analysis["negative_evidence"])


@pytest.mark.slow
def test_interface_switches_to_dutch_and_remembers_it(client, report_id):
    dutch = client.get(f"/reports/{report_id}", params={"lang": "nl"})
    assert '<html lang="nl">' in dutch.text and "Duurzame Ontwikkelingsdoelen" in dutch.text
    assert "Klimaatactie" in dutch.text  # goal 13's Dutch name from corpora/sdg.yaml
    assert "gaplens_lang=nl" in dutch.headers["set-cookie"]
    assert '<html lang="nl">' in client.get("/").text  # the cookie keeps it
    english = client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in english.text
    fresh = TestClient(client.app, base_url="http://127.0.0.1")
    assert '<html lang="nl">' in fresh.get("/", headers={"Accept-Language": "nl-NL,nl;q=0.9"}).text


@pytest.mark.slow
def test_compare_and_sector_pages(client, report_id):
    sector = client.get("/sectors/industrial")
    assert sector.status_code == 200 and sector.text.count("<tr data-key=") == 25
    compare = client.get("/compare", params={"a": report_id, "b": "sector"})
    assert compare.status_code == 200 and compare.text.count("<tr data-key=") == 25
    assert client.get("/compare", params={"a": report_id, "b": "99"}).status_code == 404
    assert client.get("/sectors/nope").status_code == 404


BAD_UPLOADS = [
    ("empty.pdf", b"", {}, 400, "EmptyFile"),
    ("notes.pdf", b"just some text", {}, 415, "NotAPdf"),
    ("cut.pdf", MAX_AUTOMATION.read_bytes()[:3000], {}, 422, "CorruptPdf"),
    ("max.pdf", MAX_AUTOMATION.read_bytes(), {"year": "20x3"}, 422, "RequestValidationError"),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "data", "form", "status", "kind"), BAD_UPLOADS, ids=[b[4] for b in BAD_UPLOADS]
)
def test_bad_upload_gets_an_error_page_and_keeps_what_is_stored(
    client, report_id, name, data, form, status, kind
):
    before = client.get("/v1/reports").json()
    response = client.post("/upload", files={"file": (name, data, "application/pdf")}, data=form)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f'data-error="{kind}"' in response.text and 'href="/"' in response.text
    assert client.get("/v1/reports").json() == before
    assert client.get(f"/reports/{report_id}").status_code == 200


@pytest.mark.slow
def test_pages_answer_errors_as_pages_and_the_api_as_json(client, report_id):
    page = client.get("/reports/9999")
    assert page.status_code == 404 and 'data-error="NotFound"' in page.text
    assert client.get("/no/such/page").headers["content-type"].startswith("text/html")
    api = client.get("/v1/reports/9999")
    assert api.status_code == 404 and api.json()["error"] == "NotFound"
    bad = client.post("/v1/reports", files={"file": ("e.pdf", b"", "application/pdf")})
    assert bad.status_code == 400 and bad.json()["error"] == "EmptyFile"


def test_label_evidence_orders_and_filters():
    class Row:
        def __init__(self, i: int, page: int, score: float, labels: list[str], parts: list[str]) -> None:
            self.id, self.page, self.heading, self.text = i, page, "", f"We cut emissions by {i}% in 2021."
            self.sdg = {"labels": labels, "parts": parts, "scores": {"13": score, "7": 0.9}}
            self.dd = {"labels": [], "parts": [], "scores": {}}
            # as stored with the passage at save time (the rules would call this text a result)
            self.evidence_type = "action"

    rows = [
        Row(1, 4, 0.5, ["13"], ["13.2"]),
        Row(2, 2, 0.9, ["13", "7"], ["7.2", "13.1"]),
        Row(3, 3, 0.7, ["7"], []),
    ]
    found = label_evidence(rows, "sdg", "13", "", 10)
    assert [e.passage_id for e in found] == [2, 1]
    assert found[0].parts == ("13.1",) and found[0].evidence_type == "action"  # read, not decided again
    assert [e.passage_id for e in label_evidence(rows, "sdg", "13", "13.2", 10)] == [1]
    assert label_evidence(rows, "sdg", "13", "", 1)[0].passage_id == 2


@pytest.mark.slow
def test_page_contexts_are_plain_functions_over_typed_reports(client, report_id):
    """What the result, evidence and compare pages hold, without HTTP: the typed report, not its JSON."""
    from service.records import GapReport
    from service.serving.auth import LOCAL
    from service.web.contexts import EvidenceChoice, compare_context, evidence_context, report_context

    service = client.app.state.service
    context = report_context(service, LOCAL, report_id, "en", EvidenceChoice())
    analysis = context["analysis"]
    assert isinstance(analysis, GapReport) and analysis == service.analysis(report_id, LOCAL)
    assert [s.goal for s in context["wheel"]] == [c.label for c in analysis.sdg]
    assert context["decisions"] == {i.id: i.decision for i in analysis.indicators}
    best = max(analysis.sdg, key=lambda c: (c.score, -int(c.label)))
    assert context["evidence_key"] == f"sdg-{best.label}"
    step = evidence_context(service, LOCAL, report_id, "nl", EvidenceChoice("dd-2"))
    assert step["evidence_parts"] == analysis.due_diligence[1].parts_touched
    same = compare_context(service, LOCAL, "en", report_id, str(report_id))
    assert all(a == b for _, _, a, b in same["rows"]) and len(same["rows"]) == 25
    with pytest.raises(NotFound):
        evidence_context(service, LOCAL, report_id, "en", EvidenceChoice("sdg-18"))
