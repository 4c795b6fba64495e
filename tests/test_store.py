import pytest

from service.errors import NotFound
from service.judging.substance import evidence_type, load_substance_rules
from service.pipeline import analyze_document
from service.reading.ingest import document_from_pdf
from service.records import EVIDENCE_TYPES
from service.settings import Settings
from service.store import ALL_TENANTS, LOCAL_TENANT_ID, Store
from tests.conftest import MAX_AUTOMATION
from tests.store_fixture import drop_everything


@pytest.fixture(scope="module")
def analysis():
    doc = document_from_pdf(MAX_AUTOMATION.read_bytes(), MAX_AUTOMATION.name)
    return analyze_document(doc, Settings())


def open_store(url: str, tmp_path) -> Store:
    """The store at ``url``, opened as the service opens its own (Store.open: migrated)."""
    return Store.open(Settings(data_dir=tmp_path / "data", database_url=url))


def types_of(analysis) -> list[str]:
    rules = load_substance_rules(Settings().corpora_dir)
    return [evidence_type(p.text, rules) for p in analysis.passages]


def save(store: Store, report, analysis) -> None:
    """Store ``analysis`` as ``report``'s, as its tenant's job would."""
    store.for_tenant(report.tenant_id).save_analysis(
        report.id, analysis, "all-MiniLM-L6-v2", types_of(analysis)
    )


def roundtrip(store: Store, analysis) -> None:
    local = store.for_tenant(LOCAL_TENANT_ID)
    report, created = local.get_or_create_report(
        analysis.document.sha256, filename="max.pdf", sector="industrial"
    )
    again, created_again = local.get_or_create_report(analysis.document.sha256)
    assert created and not created_again and again.id == report.id
    ids = local.save_analysis(report.id, analysis, "all-MiniLM-L6-v2", types_of(analysis))
    assert len(ids) == len(analysis.passages)
    stored = local.get_report(report.id)
    assert stored.status == "done" and stored.result["profile"] == analysis.report.profile
    assert len(stored.result["sdg"]) == 17 and len(stored.result["due_diligence"]) == 6
    # the evidence type is stored with each passage, as decided at save time
    rows = local.passages(report.id, 0, None)
    assert [r.evidence_type for r in rows] == types_of(analysis) and {r.evidence_type for r in rows} <= set(
        EVIDENCE_TYPES
    )
    # Re-saving replaces, never duplicates.
    local.save_analysis(report.id, analysis, "all-MiniLM-L6-v2", types_of(analysis))
    assert len(local.passage_ids(report_id=report.id)) == len(analysis.passages)
    assert len(local.passage_ids(sector="INDUSTRIAL")) == len(analysis.passages)
    with pytest.raises(NotFound):
        local.get_report(report.id + 1000)
    tenants_and_queue(store, report.id)


def tenants_and_queue(store: Store, local_report: int) -> None:
    """Tenant scoping, shareable reports and the job queue's claims, on whichever database."""
    other_id = store.tenant_id("other", create=True)
    assert store.tenant_id("other", create=True) == other_id and other_id != 1
    other, local, every = store.for_tenant(other_id), store.for_tenant(1), store.for_tenant(ALL_TENANTS)
    with pytest.raises(NotFound):
        other.get_report(local_report)
    with pytest.raises(NotFound):  # nor can another tenant change it
        other.set_shareable(local_report, True)
    assert other.list_reports() == [] and other.passage_ids() == []
    assert other.passages(local_report) == [] and other.last_passage_id() == 0
    assert other.all_passage_vectors("all-MiniLM-L6-v2")[0] == []
    assert every.done_reports(sector="industrial", shareable_only=True) == []
    local.set_shareable(local_report, True)
    assert [r.id for r in every.done_reports(sector="industrial", shareable_only=True)] == [local_report]
    assert every.sectors(shareable_only=True) == {"industrial": 1} and other.sectors() == {}
    local.set_shareable(local_report, False)
    jobs = [other.create_job(f"{i}.pdf") for i in range(3)]
    with pytest.raises(TypeError):  # a new job belongs to one tenant, never to "all"
        every.create_job("x.pdf")
    assert local.claim_next_job() is None  # a tenant's view claims only that tenant's jobs
    first, second = every.claim_next_job(), every.claim_next_job()
    assert first and second and (first.id, second.id) == (jobs[0].id, jobs[1].id)
    assert first.status == "running" and first.attempts == 1
    assert len(other.unfinished_jobs()) == 3 and local.unfinished_jobs() == []
    # a live owner's leased jobs stay running; a dead owner's go back to the queue
    assert every.requeue_abandoned_jobs(lambda owner: True) == 0
    assert every.requeue_abandoned_jobs(lambda owner: False) == 2
    assert every.claim_next_job().id == jobs[0].id  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        local.get_job(jobs[0].id)
    with pytest.raises(NotFound):
        local.update_job(jobs[0].id, status="done")


def test_sqlite_roundtrip(tmp_path, analysis):
    roundtrip(open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path), analysis)


@pytest.mark.postgres
def test_postgres_roundtrip(postgres_url, analysis, tmp_path):
    drop_everything(postgres_url)
    store = open_store(postgres_url, tmp_path)
    roundtrip(store, analysis)
    vectors = {"k" * 64: analysis.vectors[0]}
    store.put_vectors("all-MiniLM-L6-v2", vectors)
    assert (store.get_vectors(list(vectors))["k" * 64] == analysis.vectors[0]).all()


def test_other_tenants_shared_reports_count_from_three_on_and_only_in_aggregates(tmp_path, analysis):
    from service.serving.benchmark import (
        benchmark_reports,
        benchmark_sectors,
        report_percentiles,
        sector_benchmark,
    )

    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    viewer = store.tenant_id("viewer", create=True)
    own, _ = store.for_tenant(viewer).get_or_create_report("f" * 64, sector="energy", company="Viewer")
    save(store, own, analysis)

    def share(number: int, shareable: bool = True) -> int:
        tenant = store.tenant_id(f"tenant {number}", create=True)
        report, _ = store.for_tenant(tenant).get_or_create_report(
            f"{number:064d}", sector="Energy", shareable=shareable
        )
        save(store, report, analysis)
        return report.id

    share(1), share(2), share(99, shareable=False)
    assert [r.id for r in benchmark_reports(store, "energy", viewer)] == [own.id]
    assert benchmark_sectors(store, viewer) == {"energy": 1}
    assert report_percentiles(store, own.id, viewer)["peers"] == 0
    share(3)
    assert len(benchmark_reports(store, "energy", viewer)) == 4
    assert (
        benchmark_sectors(store, viewer) == {"energy": 4}
        and sector_benchmark(store, "energy", viewer).reports == 4
    )
    assert report_percentiles(store, own.id, viewer)["peers"] == 3
    # a tenant with no report of its own sees the sector once three others share
    assert benchmark_sectors(store, store.tenant_id("newcomer", create=True)) == {"energy": 3}
    # the operator's view (ALL_TENANTS, named) counts every report, shareable or not
    assert sector_benchmark(store, "energy", ALL_TENANTS).reports == 5


def test_concurrent_uploads_of_the_same_bytes_share_one_report(tmp_path):
    import threading

    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    barrier = threading.Barrier(6)
    results = []

    def upload() -> None:
        barrier.wait()
        results.append(store.for_tenant(LOCAL_TENANT_ID).get_or_create_report("a" * 64, filename="same.pdf"))

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    assert len({report.id for report, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(store.for_tenant(ALL_TENANTS).list_reports()) == 1


def test_a_store_from_an_older_version_gains_new_columns_and_keeps_its_rows(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the reports table as the first release created it
        db.execute(
            "CREATE TABLE reports (id INTEGER PRIMARY KEY, sha256 VARCHAR(64), filename VARCHAR(512),"
            " company VARCHAR(256), sector VARCHAR(128), year INTEGER, language VARCHAR(8), pages INTEGER,"
            " status VARCHAR(16), result JSON, created_at DATETIME)"
        )
        # as SQLAlchemy made it for `unique=True, index=True` before reports had tenants
        db.execute("CREATE UNIQUE INDEX ix_reports_sha256 ON reports (sha256)")
        db.execute(
            "INSERT INTO reports (sha256, company, sector, status) VALUES ('abc', 'Old Co', 'energy', 'done')"
        )
    open_store(f"sqlite:///{path}", tmp_path)
    store = open_store(f"sqlite:///{path}", tmp_path)  # idempotent
    report = store.for_tenant(LOCAL_TENANT_ID).report_by_sha("abc")
    assert report is not None and (report.company, report.country, report.error) == ("Old Co", "", "")
    # old rows belong to the local tenant; another tenant may now hold the same bytes as its own report
    assert (report.tenant_id, report.shareable) == (1, False)
    other, created = store.for_tenant(store.tenant_id("other", create=True)).get_or_create_report("abc")
    assert created and other.id != report.id


def _give_scores(store: Store, report_id: int, rng) -> dict[str, float]:
    """Overwrite a stored result's 25 scores with random ones (sector statistics need them to differ).

    Scores are whole points, as the pipeline makes them (GapReport's fields are ints).
    """
    from service.records import GapReport
    from service.serving.report_table import coverage_columns
    from service.store import ReportRow

    with store.session() as s:
        row = s.get(ReportRow, report_id)
        result = dict(row.result)
        result["sdg_score"], result["due_diligence_score"] = (round(float(v)) for v in rng.uniform(0, 100, 2))
        result["sdg"] = [{**c, "score": round(float(rng.uniform(0, 100)))} for c in result["sdg"]]
        result["due_diligence"] = [
            {**c, "score": round(float(rng.uniform(0, 100)))} for c in result["due_diligence"]
        ]
        row.result = result
    return coverage_columns(GapReport.from_dict(result))


def test_sector_statistics_cannot_be_differenced_to_recover_one_shared_report(tmp_path, analysis):
    """The probe: compare a sector before and after one more share, and solve for that report's scores."""
    import numpy as np

    from service.serving.benchmark import report_percentiles, sector_benchmark

    rng = np.random.default_rng(17)
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    viewer = store.tenant_id("viewer", create=True)

    def report(tenant: str, number: int) -> tuple[int, dict[str, float]]:
        owner = store.tenant_id(tenant, create=True)
        row, _ = store.for_tenant(owner).get_or_create_report(
            f"{number:064d}", sector="energy", shareable=True
        )
        save(store, row, analysis)
        return row.id, _give_scores(store, row.id, rng)

    own, _ = report("viewer", 0)
    # one tenant sharing three reports is still one tenant: nothing of it is counted
    for number in (1, 2, 3):
        report("prolific", number)
    alone = sector_benchmark(store, "energy", viewer)
    assert alone.reports == 1 and not alone.coarse  # its own report only: exact, extremes and all
    assert alone.labels[0].minimum is not None
    report("second", 4), report("third", 5)
    before = sector_benchmark(store, "energy", viewer)
    assert before.reports == 6 and before.coarse
    _, target = report("victim", 6)
    after = sector_benchmark(store, "energy", viewer)
    assert after.reports == 7
    exact = 0
    for old, new in zip(before.labels, after.labels, strict=True):
        assert new.minimum is None and new.maximum is None  # an extreme would be one report's score
        assert all(v % 5 == 0 for v in (new.q1, new.median, new.q3, new.mean))
        recovered = new.mean * after.reports - old.mean * before.reports
        exact += abs(recovered - target[new.label]) < 0.5
    assert exact <= 3, f"{exact} of 25 scores recovered by differencing the means"
    # a report's standing among peers is coarsened the same way
    standing = report_percentiles(store, own, viewer)["labels"]
    assert all(item["percentile"] % 10 == 0 and item["sector_median"] % 5 == 0 for item in standing)


def test_the_result_page_never_prints_a_peers_exact_scores(tmp_path, analysis):
    import numpy as np
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.serving.auth import create_api_key
    from service.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", auth="keys")
    store = Store.open(settings)
    key = create_api_key(store, "viewer")
    rng = np.random.default_rng(3)
    peers = []
    for number, tenant in enumerate(["viewer", "one", "two", "three"]):
        owner = store.tenant_id(tenant, create=True)
        row, _ = store.for_tenant(owner).get_or_create_report(
            f"{number:064d}", sector="energy", shareable=True
        )
        save(store, row, analysis)
        scores = _give_scores(store, row.id, rng)
        peers.append((row.id, scores))
    (own, _), others = peers[0], peers[1:]
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {key}"}) as client:
        page = client.get(f"/reports/{own}")
    assert page.status_code == 200 and page.text.count("Another organisation (shared anonymously)") >= 3
    for _, scores in others:
        for label in ("sdg_score", "dd_score"):
            assert (
                f"score {int(scores[label])}," not in page.text
                and f"score {int(scores[label])}<" not in page.text
            )


def test_jobs_are_claimed_fairly_across_tenants(tmp_path):
    """A tenant with a long queue takes turns with the others; with a cap it never holds every worker."""
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    busy, small = (store.for_tenant(store.tenant_id(name, create=True)) for name in ("busy", "small"))
    every = store.for_tenant(ALL_TENANTS)
    queue = [busy.create_job(f"scan-{n}.pdf") for n in range(3)]
    late = small.create_job("two-pages.pdf")
    first = every.claim_next_job("w")
    assert first is not None and first.id == queue[0].id
    every.update_job(first.id, status="done")
    # the busy tenant was just served: the small job goes next, not the rest of the busy queue
    assert every.claim_next_job("w").id == late.id  # type: ignore[union-attr]
    # with one job per tenant at most, the busy tenant waits for its running job
    small.create_job("another.pdf")
    running = every.claim_next_job("w", max_running_per_tenant=1)
    assert running is not None and running.id == queue[1].id
    assert every.claim_next_job("w", max_running_per_tenant=1) is None


def test_readers_take_the_evidence_type_stored_with_the_passage(tmp_path, analysis):
    """Export and the evidence browser read the type saved with each passage; they never decide it again."""
    from service.judging.evidence import label_evidence
    from service.serving.export import _passage_rows

    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    local = store.for_tenant(LOCAL_TENANT_ID)
    report, _ = local.get_or_create_report("e" * 64)
    # a type the rules would not give most of these texts: readers that decide again would disagree
    stored = ["mention"] * len(analysis.passages)
    local.save_analysis(report.id, analysis, "all-MiniLM-L6-v2", stored)
    assert types_of(analysis) != stored
    report = local.get_report(report.id)
    assert [row["evidence_type"] for row in _passage_rows(local, report)] == stored
    rows = local.passages(report.id, 0, None)
    label = next(label for row in rows for label in row.sdg["labels"])
    assert {item.evidence_type for item in label_evidence(rows, "sdg", label, "", 50)} == {"mention"}
    with pytest.raises(ValueError):  # one type per passage, no more and no fewer
        local.save_analysis(report.id, analysis, "all-MiniLM-L6-v2", stored[:-1])
    assert len(local.passages(report.id, 0, None)) == len(stored)  # the failed save changed nothing
