import pytest

from service.errors import NotFound
from service.ingest import document_from_pdf
from service.pipeline import analyze_document
from service.store import Store
from tests.conftest import MAX_AUTOMATION


@pytest.fixture(scope="module")
def analysis():
    from service.settings import Settings

    doc = document_from_pdf(MAX_AUTOMATION.read_bytes(), MAX_AUTOMATION.name)
    return analyze_document(doc, Settings())


def roundtrip(store: Store, analysis) -> None:
    store.create_schema()
    report, created = store.get_or_create_report(
        analysis.document.sha256, filename="max.pdf", sector="industrial"
    )
    again, created_again = store.get_or_create_report(analysis.document.sha256)
    assert created and not created_again and again.id == report.id
    ids = store.save_analysis(report.id, analysis, "all-MiniLM-L6-v2")
    assert len(ids) == len(analysis.passages)
    stored = store.get_report(report.id)
    assert stored.status == "done" and stored.result["profile"] == analysis.report.profile
    assert len(stored.result["sdg"]) == 17 and len(stored.result["due_diligence"]) == 6
    # Re-saving replaces, never duplicates.
    store.save_analysis(report.id, analysis, "all-MiniLM-L6-v2")
    assert len(store.passage_ids(report_id=report.id)) == len(analysis.passages)
    assert len(store.passage_ids(sector="INDUSTRIAL")) == len(analysis.passages)
    with pytest.raises(NotFound):
        store.get_report(report.id + 1000)
    tenants_and_queue(store, report.id)


def tenants_and_queue(store: Store, local_report: int) -> None:
    """Tenant scoping, shareable reports and the job queue's claims, on whichever database."""
    other = store.tenant_id("other", create=True)
    assert store.tenant_id("other", create=True) == other and other != 1
    with pytest.raises(NotFound):
        store.get_report(local_report, tenant_id=other)
    assert store.list_reports(other) == [] and store.passage_ids(tenant_id=other) == []
    assert store.done_reports(sector="industrial", tenant_id=other, shared=True) == []
    store.set_shareable(local_report, 1, True)
    assert [r.id for r in store.done_reports(sector="industrial", tenant_id=other, shared=True)] == [
        local_report
    ]
    assert store.sectors(other, shared=True) == {"industrial": 1} and store.sectors(other) == {}
    store.set_shareable(local_report, 1, False)
    jobs = [store.create_job(f"{i}.pdf", tenant_id=other) for i in range(3)]
    first, second = store.claim_next_job(), store.claim_next_job()
    assert first and second and (first.id, second.id) == (jobs[0].id, jobs[1].id)
    assert first.status == "running" and first.attempts == 1
    assert len(store.unfinished_jobs(other)) == 3 and store.unfinished_jobs(1) == []
    # a live owner's leased jobs stay running; a dead owner's go back to the queue
    assert store.requeue_abandoned_jobs(lambda owner: True) == 0
    assert store.requeue_abandoned_jobs(lambda owner: False) == 2
    assert store.claim_next_job().id == jobs[0].id  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        store.get_job(jobs[0].id, tenant_id=1)


def test_sqlite_roundtrip(tmp_path, analysis):
    roundtrip(Store(f"sqlite:///{tmp_path / 'db.sqlite3'}"), analysis)


@pytest.mark.postgres
def test_postgres_roundtrip(postgres_url, analysis):
    store = Store(postgres_url)
    from service.store import Base

    Base.metadata.drop_all(store.engine)
    roundtrip(store, analysis)
    vectors = {"k" * 64: analysis.vectors[0]}
    store.put_vectors("all-MiniLM-L6-v2", vectors)
    assert (store.get_vectors(list(vectors))["k" * 64] == analysis.vectors[0]).all()


def test_other_tenants_shared_reports_count_from_three_on_and_only_in_aggregates(tmp_path, analysis):
    from service.benchmark import benchmark_reports, benchmark_sectors, report_percentiles, sector_benchmark

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.create_schema()
    viewer = store.tenant_id("viewer", create=True)
    own, _ = store.get_or_create_report("f" * 64, viewer, sector="energy", company="Viewer")
    store.save_analysis(own.id, analysis, "all-MiniLM-L6-v2")

    def share(number: int, shareable: bool = True) -> int:
        tenant = store.tenant_id(f"tenant {number}", create=True)
        report, _ = store.get_or_create_report(f"{number:064d}", tenant, sector="Energy", shareable=shareable)
        store.save_analysis(report.id, analysis, "all-MiniLM-L6-v2")
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
    # the operator's view (no tenant) counts every report, shareable or not
    assert sector_benchmark(store, "energy").reports == 5


def test_concurrent_uploads_of_the_same_bytes_share_one_report(tmp_path):
    import threading

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.create_schema()
    barrier = threading.Barrier(6)
    results = []

    def upload() -> None:
        barrier.wait()
        results.append(store.get_or_create_report("a" * 64, filename="same.pdf"))

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    assert len({report.id for report, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(store.list_reports()) == 1


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
    store = Store(f"sqlite:///{path}")
    store.create_schema()
    store.create_schema()  # idempotent
    report = store.report_by_sha("abc")
    assert report is not None and (report.company, report.country, report.error) == ("Old Co", "", "")
    # old rows belong to the local tenant; another tenant may now hold the same bytes as its own report
    assert (report.tenant_id, report.shareable) == (1, False)
    other, created = store.get_or_create_report("abc", store.tenant_id("other", create=True))
    assert created and other.id != report.id


def _give_scores(store: Store, report_id: int, rng) -> dict[str, float]:
    """Overwrite a stored result's 25 scores with random ones (sector statistics need them to differ).

    Scores are whole points, as the pipeline makes them (GapReport's fields are ints).
    """
    from service.records import GapReport
    from service.report_table import coverage_columns
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

    from service.benchmark import report_percentiles, sector_benchmark

    rng = np.random.default_rng(17)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.create_schema()
    viewer = store.tenant_id("viewer", create=True)

    def report(tenant: str, number: int) -> tuple[int, dict[str, float]]:
        owner = store.tenant_id(tenant, create=True)
        row, _ = store.get_or_create_report(f"{number:064d}", owner, sector="energy", shareable=True)
        store.save_analysis(row.id, analysis, "all-MiniLM-L6-v2")
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
    from service.auth import create_api_key
    from service.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", auth="keys")
    settings.data_dir.mkdir(parents=True)
    store = Store(settings.resolved_database_url())
    store.create_schema()
    key = create_api_key(store, "viewer")
    rng = np.random.default_rng(3)
    peers = []
    for number, tenant in enumerate(["viewer", "one", "two", "three"]):
        owner = store.tenant_id(tenant, create=True)
        row, _ = store.get_or_create_report(f"{number:064d}", owner, sector="energy", shareable=True)
        store.save_analysis(row.id, analysis, "all-MiniLM-L6-v2")
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
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.create_schema()
    busy, small = store.tenant_id("busy", create=True), store.tenant_id("small", create=True)
    queue = [store.create_job(f"scan-{n}.pdf", tenant_id=busy) for n in range(3)]
    late = store.create_job("two-pages.pdf", tenant_id=small)
    first = store.claim_next_job("w")
    assert first is not None and first.id == queue[0].id
    store.update_job(first.id, status="done")
    # the busy tenant was just served: the small job goes next, not the rest of the busy queue
    assert store.claim_next_job("w").id == late.id  # type: ignore[union-attr]
    # with one job per tenant at most, the busy tenant waits for its running job
    store.create_job("another.pdf", tenant_id=small)
    running = store.claim_next_job("w", max_running_per_tenant=1)
    assert running is not None and running.id == queue[1].id
    assert store.claim_next_job("w", max_running_per_tenant=1) is None
