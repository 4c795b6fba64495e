"""The review loop (issue 25) on a real report through the API, with the real store and model.

Tenant A reviews MAX Automation's analysis: a decision, a rejected passage, an attached search hit, a
goal's rung. The scores are recomputed at once, the machine's stay beside them; the reviews survive a
restart, a re-upload and a re-analysis of the same PDF, can be undone, export as labelled data, and
tenant B (with a valid key) gets 404 for all of it.
"""

from __future__ import annotations

import json
from contextlib import ExitStack

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from classifiers.labelled import reviewed_texts
from classifiers.linear import TUNED_DIR
from classifiers.parts import part_files
from classifiers.training.part_training import REVIEW_WEIGHT
from service import cli
from service.app import create_app
from service.encoding.models import TUNED_INT8
from service.pipeline import analyze_document
from service.records import Document, GapReport, Page
from service.serving.auth import create_api_key
from service.settings import Settings
from service.store import Store
from tests.conftest import MAX_AUTOMATION
from tests.test_api import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    # generous PDF and job time limits: three uploads of the same PDF on a busy 2-core machine
    folder = tmp_path_factory.mktemp("reviews") / "data"
    return Settings(
        data_dir=folder, database_url=None, auth="keys", pdf_parse_seconds=600, max_job_seconds=1800
    )


@pytest.fixture(scope="module")
def keys(settings):
    store = Store.open(settings)
    return {"a": create_api_key(store, "Tenant A"), "b": create_api_key(store, "Tenant B")}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def upload(client: TestClient, key: str) -> dict:
    response = client.post(
        "/v1/reports",
        headers=bearer(key),
        files={"file": ("max.pdf", MAX_AUTOMATION.read_bytes(), "application/pdf")},
        data={"company": "MAX Automation", "sector": "Industrial", "year": "2023"},
    )
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], timeout=600, headers=bearer(key))
    assert job["status"] == "done", job["error"]
    return job


@pytest.fixture(scope="module")
def server(settings, keys):
    """The first server; the restart test stops it before it starts another on the same store."""
    with ExitStack() as stack:
        yield stack, stack.enter_context(TestClient(create_app(settings)))


@pytest.fixture(scope="module")
def client(server):
    return server[1]


@pytest.fixture(scope="module")
def report(client, keys) -> int:
    return upload(client, keys["a"])["report_id"]


def review(client, key, report_id, **body):
    return client.post(f"/v1/reports/{report_id}/reviews", headers=bearer(key), json=body)


def reviewed(client, key, report_id) -> dict:
    response = client.get(f"/v1/reports/{report_id}/analysis/reviewed", headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def machine(client, key, report_id) -> dict:
    return client.get(f"/v1/reports/{report_id}/analysis", headers=bearer(key)).json()


def test_a_decision_recomputes_the_scores_beside_the_machines(client, keys, report):
    analysis = machine(client, keys["a"], report)
    target = next(i for i in analysis["indicators"] if i["decision"] == "not_met")
    answer = review(
        client,
        keys["a"],
        report,
        kind="indicator_decision",
        target=target["id"],
        decision="met",
        note="policy on p. 12 covers it",
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["review"]["before"]["decision"] == "not_met" and body["review"]["after"]["decision"] == "met"
    assert body["review"]["reviewer"].startswith("Tenant A") and body["review"]["created_at"]
    step = target["step"]
    assert body["machine"]["steps"][step] == next(
        c["score"] for c in analysis["due_diligence"] if c["label"] == step
    )
    assert body["reviewed"]["steps"][step] > body["machine"]["steps"][step]
    assert body["reviewed"]["due_diligence_score"] >= body["machine"]["due_diligence_score"]
    assert body["machine"]["due_diligence_score"] == analysis["due_diligence_score"]
    block = reviewed(client, keys["a"], report)
    indicator = next(i for i in block["analysis"]["indicators"] if i["id"] == target["id"])
    assert indicator["decision"] == "met" and indicator["points"] == 1.0 and not indicator["advice"]
    assert [d["target"] for d in block["decisions"]] == [target["id"]]
    assert block["decisions"][0]["note"] == "policy on p. 12 covers it"
    assert (
        GapReport.from_dict(block["analysis"]).due_diligence_score == body["reviewed"]["due_diligence_score"]
    )
    # the stored machine analysis is untouched
    assert machine(client, keys["a"], report) == analysis


def test_rejected_evidence_leaves_the_indicator_and_an_attached_hit_becomes_evidence(client, keys, report):
    analysis = machine(client, keys["a"], report)
    few = [i for i in analysis["indicators"] if 0 < len(i["evidence"]) < 3]
    assert few, "MAX Automation has an indicator with one or two passages"
    target = few[0]
    for evidence in target["evidence"]:
        answer = review(
            client,
            keys["a"],
            report,
            kind="evidence_reject",
            target=evidence["passage_id"],
            on=target["id"],
            note="a plan, not a process",
        )
        assert answer.status_code == 201, answer.text
    indicator = next(
        i for i in reviewed(client, keys["a"], report)["analysis"]["indicators"] if i["id"] == target["id"]
    )
    assert indicator["decision"] == "not_met" and indicator["evidence"] == []
    # attach a search hit to an indicator not met (and not decided by a review)
    decided = {d["target"] for d in reviewed(client, keys["a"], report)["decisions"]}
    open_ = next(
        i
        for i in analysis["indicators"]
        if i["decision"] == "not_met" and i["id"] != target["id"] and i["id"] not in decided
    )
    query = {"q": "grievance mechanism complaints", "report_id": report, "k": 1}
    hits = client.get("/v1/search", headers=bearer(keys["a"]), params=query).json()
    answer = review(
        client,
        keys["a"],
        report,
        kind="evidence_attach",
        target=open_["id"],
        passage_id=str(hits[0]["passage"]["id"]),
    )
    assert answer.status_code == 201, answer.text
    attached = next(
        i for i in reviewed(client, keys["a"], report)["analysis"]["indicators"] if i["id"] == open_["id"]
    )
    assert attached["decision"] == "partly" and attached["evidence"][-1]["text"] == hits[0]["passage"]["text"]


def test_a_goals_rung_sets_its_score_and_bad_reviews_are_refused(client, keys, report):
    answer = review(client, keys["a"], report, kind="goal_rung", target="sdg-13", level=5)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["review"]["target"] == "13" and body["reviewed"]["goals"]["13"] == 100
    assert body["machine"]["goals"]["13"] == body["review"]["before"]["score"]
    bad = [
        {"kind": "goal_rung", "target": "13", "level": 6},
        {"kind": "goal_rung", "target": "13"},
        {"kind": "indicator_decision", "target": "dd1.policy", "decision": "excellent"},
        {"kind": "nonsense", "target": "13"},
        {"kind": "evidence_confirm", "target": "../../etc"},
    ]
    for body in bad:
        refused = review(client, keys["a"], report, **body)
        assert refused.status_code == 422 and refused.json()["error"], body
    for body in (
        {"kind": "indicator_decision", "target": "dd9.none", "decision": "met"},
        {"kind": "evidence_confirm", "target": "0123456789abcdef01234567"},
    ):
        assert review(client, keys["a"], report, **body).status_code == 404


def test_undo_restores_the_scores_and_keeps_the_log(client, keys, report):
    before = reviewed(client, keys["a"], report)
    analysis = machine(client, keys["a"], report)
    target = next(i for i in analysis["indicators"] if i["decision"] == "met")
    made = review(
        client, keys["a"], report, kind="indicator_decision", target=target["id"], decision="not_met"
    )
    assert made.json()["reviewed"]["due_diligence_score"] <= before["reviewed"]["due_diligence_score"]
    rid = made.json()["review"]["id"]
    undone = client.post(f"/v1/reports/{report}/reviews/{rid}/undo", headers=bearer(keys["a"]))
    assert undone.status_code == 200, undone.text
    assert undone.json()["reviewed"] == before["reviewed"] and undone.json()["review"]["undone_at"]
    log = client.get(f"/v1/reports/{report}/reviews", headers=bearer(keys["a"])).json()
    assert any(r["id"] == rid and r["undone_at"] for r in log)
    assert rid not in [d["id"] for d in reviewed(client, keys["a"], report)["decisions"]]


def test_another_tenant_gets_404_and_exports_nothing(client, keys, report):
    b = bearer(keys["b"])
    rid = client.get(f"/v1/reports/{report}/reviews", headers=bearer(keys["a"])).json()[0]["id"]
    for method, url, body in (
        ("GET", f"/v1/reports/{report}/reviews", None),
        ("POST", f"/v1/reports/{report}/reviews", {"kind": "goal_rung", "target": "13", "level": 1}),
        ("POST", f"/v1/reports/{report}/reviews/{rid}/undo", None),
        ("GET", f"/v1/reports/{report}/analysis/reviewed", None),
    ):
        answer = client.request(method, url, headers=b, json=body)
        assert answer.status_code == 404 and answer.json()["error"] == "NotFound", (method, url)
    assert client.get("/v1/reviews/export", headers=b).text == ""
    log = client.get(f"/v1/reports/{report}/reviews", headers=bearer(keys["a"])).json()
    assert not any(r["reviewer"].startswith("Tenant B") for r in log)
    assert next(r for r in log if r["id"] == rid)["undone_at"] is None


def test_reviews_export_as_labelled_data(client, keys, report):
    response = client.get("/v1/reviews/export", headers=bearer(keys["a"]))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    passages = [line for line in lines if line["type"] == "passage"]
    assert passages and all(
        line["id"] and line["text"] and isinstance(line["sdgs"], list) for line in passages
    )
    assert all(
        isinstance(line["dd_steps"], list) and line["reviewer"].startswith("Tenant A") for line in passages
    )
    # the attached hit is labelled with its indicator's step; the rejected passages say what they are not
    assert any(line["dd_steps"] for line in passages) and any(line["rejected_dd_steps"] for line in passages)
    # ... and names the indicators themselves: the step alone loses which indicator the analyst judged
    indicator_ids = {i["id"] for i in machine(client, keys["a"], report)["indicators"]}
    attached = [line for line in passages if line["indicators"]]
    rejected_for = [line for line in passages if line["rejected_indicators"]]
    assert attached and rejected_for
    assert all(set(line["indicators"] + line["rejected_indicators"]) <= indicator_ids for line in passages)
    rows = {
        (line["type"], line.get("indicator") or line.get("goal"))
        for line in lines
        if line["type"] != "passage"
    }
    assert ("goal_rung", "13") in rows and any(kind == "indicator" for kind, _ in rows)
    # `gaplens train tuned --reviews` folds the passage lines in as training texts
    texts = reviewed_texts(lines)
    assert len(texts) == len(passages) and {(t.split, t.source) for t in texts} == {("train", "review")}
    rejected = [
        t
        for t, line in zip(texts, passages, strict=True)
        if line["rejected_dd_steps"] and not line["dd_steps"]
    ]
    assert rejected and all(t.steps == () for t in rejected)
    indicator = next(line for line in lines if line["type"] == "indicator")
    assert indicator["machine_decision"] != indicator["decision"] and indicator["note"]


def test_the_operator_exports_a_tenants_reviews_for_training(settings, keys, report, client, monkeypatch):
    monkeypatch.setattr(cli.reviews, "get_settings", lambda: settings)
    monkeypatch.setattr(cli.common, "get_settings", lambda: settings)
    runner = CliRunner()
    exported = runner.invoke(cli.app, ["reviews", "export", "--tenant", "Tenant A"])
    assert exported.exit_code == 0, exported.output
    api = client.get("/v1/reviews/export", headers=bearer(keys["a"])).text
    assert exported.stdout == api and api
    assert runner.invoke(cli.app, ["reviews", "export", "--tenant", "Nobody"]).exit_code == 2


def test_the_result_page_reviews_an_indicator_with_its_session(settings, keys, report, client):
    with TestClient(create_app(settings)) as browser:
        assert browser.post("/login", data={"key": keys["a"], "next": "/"}).status_code == 200
        page = browser.get(f"/reports/{report}")
        assert page.status_code == 200 and 'id="review"' in page.text and 'id="review-scores"' in page.text
        analysis = machine(client, keys["a"], report)
        target = next(i for i in analysis["indicators"] if i["decision"] == "partly")
        form = {
            "kind": "indicator_decision",
            "target": target["id"],
            "decision": "met",
            "note": "seen <b>on site</b>",
        }
        answer = browser.post(f"/reports/{report}/reviews", data=form, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/reports/{report}#review"
        page = browser.get(f"/reports/{report}").text
        item = page.split(f'class="review-indicator" data-indicator="{target["id"]}"')[1].split("</li>")[0]
        assert 'data-decision="met"' in item and "Reviewed by Tenant A" in item
        assert "seen &lt;b&gt;on site&lt;/b&gt;" in item  # the note is text, never markup
        block = reviewed(client, keys["a"], report)
        rid = next(d["id"] for d in block["decisions"] if d["target"] == target["id"])
        # a goal's rung, set from its row of the goal table
        goal = next(g for g in analysis["sdg_ladder"] if g["goal"] == "7")
        level = 1 if goal["level"] != 1 else 2
        form = {"kind": "goal_rung", "target": "7", "level": str(level)}
        assert (
            browser.post(f"/reports/{report}/reviews", data=form, follow_redirects=False).status_code == 303
        )
        page = browser.get(f"/reports/{report}").text
        row = page.split('<tr data-goal="7" data-level="')[1].split("</tr>")[0]
        assert row.startswith(f'{level}"') and "Reviewed by Tenant A" in row
        block = reviewed(client, keys["a"], report)
        assert block["reviewed"]["goals"]["7"] == 20 * level
        assert "Beoordeeld door" in browser.get(f"/reports/{report}?lang=nl").text
        undo = browser.post(f"/reports/{report}/reviews/{rid}/undo", follow_redirects=False)
        assert undo.status_code == 303
        assert rid not in [d["id"] for d in reviewed(client, keys["a"], report)["decisions"]]
        block = reviewed(client, keys["a"], report)
        # a bad form answers with the error page and keeps nothing
        bad = browser.post(
            f"/reports/{report}/reviews", data={"kind": "goal_rung", "target": "13", "level": "9"}
        )
        assert bad.status_code == 422
        assert len(client.get(f"/v1/reports/{report}/reviews", headers=bearer(keys["a"])).json()) == len(
            block["reviews"]
        )


def test_reviews_survive_a_restart_a_reupload_and_a_reanalysis(settings, keys, report, server, client):
    expected = reviewed(client, keys["a"], report)
    server[0].close()  # the first server stops
    with TestClient(create_app(settings)) as again:
        assert reviewed(again, keys["a"], report) == expected
        assert upload(again, keys["a"])["report_id"] == report
        assert reviewed(again, keys["a"], report)["reviewed"] == expected["reviewed"]
        # analyse the same PDF again: its passages and analysis are written anew, the reviews stay
        store = Store.open(settings)
        own = store.for_tenant(store.tenant_id("Tenant A"))
        previous = own.latest_job_for_report(report)
        assert previous is not None
        own.set_report_status(report, "failed", "analyse again")
        job = upload(again, keys["a"])  # a new job, which reads the PDF again
        assert job["report_id"] == report and job["id"] > previous.id
        assert own.get_report(report).status == "done" and own.passages(report, 0, 1)
        after = reviewed(again, keys["a"], report)
        assert after["reviewed"] == expected["reviewed"] and after["decisions"] == expected["decisions"]


def test_reviews_refit_the_sub_element_readers_into_a_release_the_service_serves(
    client, keys, report, tmp_path
):
    """`gaplens train parts --reviews` folds an export into another folder, and the pipeline reads it."""
    analysis = machine(client, keys["a"], report)
    target = next(i for i in analysis["indicators"] if len(i["evidence"]) >= 2)
    for evidence, kind in zip(target["evidence"], ("evidence_confirm", "evidence_reject"), strict=False):
        answer = review(client, keys["a"], report, kind=kind, target=evidence["passage_id"], on=target["id"])
        assert answer.status_code == 201, answer.text
    export = tmp_path / "reviews.jsonl"
    export.write_text(client.get("/v1/reviews/export", headers=bearer(keys["a"])).text, encoding="utf-8")
    lines = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    judged = [line for line in lines if line["type"] == "passage" and target["id"] in line["indicators"]]
    assert judged and any(
        target["id"] in line["rejected_indicators"] for line in lines if line["type"] == "passage"
    )
    release = tmp_path / "release"
    command = ["train", "parts", "--reviews", str(export), "--models-dir", str(release), "--no-multilingual"]
    trained = CliRunner().invoke(cli.app, command)
    assert trained.exit_code == 0, trained.output
    arrays, meta = part_files(TUNED_INT8, release)
    shipped, _ = part_files(TUNED_INT8, TUNED_DIR)
    written = json.loads(meta.read_text(encoding="utf-8"))
    assert written["examples_by_source"]["review"] >= 2 and written["review_weight"] == REVIEW_WEIGHT
    assert not np.allclose(np.load(arrays)["weights"], np.load(shipped)["weights"])
    # the folder is a whole release (the shipped heads beside the refit readers): the service reads it
    page = Page(number=1, text="\n".join(line["text"] for line in judged))
    document = Document("reviewed", (page,), "en", "reviewed.json", "sections", 1)
    refit = analyze_document(document, Settings(tuned_dir=release))
    before = analyze_document(document, Settings())
    assert refit.dd and [r.part_scores for r in refit.dd] != [r.part_scores for r in before.dd]
