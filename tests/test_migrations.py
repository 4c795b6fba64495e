"""Migrations: a store the previous release made is upgraded in place, losing nothing (SQLite, PostgreSQL)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from service.errors import NotFound
from service.judging.evidence import label_evidence
from service.judging.substance import evidence_type, load_substance_rules
from service.pipeline import analyze_document
from service.reading.ingest import document_from_pdf
from service.serving.benchmark import sector_benchmark
from service.serving.report_table import coverage_columns, stored_report
from service.settings import Settings
from service.store import ALL_TENANTS, LOCAL_TENANT_ID, Base, Store, migrate
from tests.conftest import MAX_AUTOMATION
from tests.store_fixture import drop_everything, make_previous_store

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def analysis():
    doc = document_from_pdf(MAX_AUTOMATION.read_bytes(), MAX_AUTOMATION.name)
    return analyze_document(doc, Settings())


def open_at(url: str, tmp_path) -> Store:
    return Store.open(Settings(data_dir=tmp_path / "data", database_url=url))


def revision_of(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return migrate.current(connection)


def upgraded_keeps_everything(url: str, tmp_path, analysis) -> None:
    """The previous release's store, opened by this one: at the newest revision, every row readable."""
    written = make_previous_store(url, analysis, MODEL)
    store = open_at(url, tmp_path)
    assert revision_of(store) == migrate.head()
    # the tables are now exactly what the row classes declare (the migrations and schema.py agree)
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    every, local, acme = store.for_tenant(ALL_TENANTS), store.for_tenant(LOCAL_TENANT_ID), store.for_tenant(2)
    # reports, with their stored gap reports
    report = local.get_report(written["done"])
    assert (report.company, report.sector, report.year, report.shareable) == ("Max", "industrial", 2023, True)
    assert report.result == written["result"] and coverage_columns(stored_report(report))["sdg_score"] >= 0
    assert [r.status for r in acme.list_reports()] == ["rejected"] and acme.list_reports()[
        0
    ].error == "no text"
    assert sector_benchmark(store, "industrial", ALL_TENANTS).reports == 1
    # passages, each now with the evidence type the rules give its text
    rows = local.passages(report.id, 0, None)
    assert [r.text for r in rows] == written["passages"]
    rules = load_substance_rules(Settings().corpora_dir)
    assert [r.evidence_type for r in rows] == [evidence_type(t, rules) for t in written["passages"]]
    found = label_evidence(rows, "sdg", rows[0].sdg["labels"][0], "", 5) if rows[0].sdg["labels"] else []
    assert all(item.evidence_type for item in found)
    # vectors: the cache and the index's source
    ids, vectors = every.all_passage_vectors(MODEL)
    assert ids == [r.id for r in rows] and vectors.shape == analysis.vectors.shape
    assert np.allclose(vectors, analysis.vectors)
    cached = store.get_vectors(written["keys"])
    assert len(cached) == len(set(written["keys"]))
    # keys and sessions still sign in
    owner = store.key_owner("h" * 64)
    assert owner is not None and owner[1].name == "acme" and owner[0].admin
    assert store.session_owner("t" * 64) is not None
    # jobs in every state, and the queue goes on where it was
    assert [j.status for j in every.unfinished_jobs()] == ["queued", "running"]
    assert every.requeue_abandoned_jobs(lambda owner: False) == 1
    claimed = every.claim_next_job("w")
    assert claimed is not None and claimed.tenant_id == 2
    # opening again changes nothing
    again = open_at(url, tmp_path)
    assert revision_of(again) == migrate.head() and len(
        again.for_tenant(1).passages(report.id, 0, None)
    ) == len(rows)


def test_a_previous_release_sqlite_store_is_upgraded_without_loss(tmp_path, analysis):
    upgraded_keeps_everything(f"sqlite:///{tmp_path / 'previous.sqlite3'}", tmp_path, analysis)


@pytest.mark.postgres
def test_a_previous_release_postgresql_store_is_upgraded_without_loss(postgres_url, tmp_path, analysis):
    drop_everything(postgres_url)
    try:
        upgraded_keeps_everything(postgres_url, tmp_path, analysis)
    finally:
        drop_everything(postgres_url)


def test_a_new_store_is_made_by_the_migrations_and_recorded(tmp_path):
    store = open_at(f"sqlite:///{tmp_path / 'new.sqlite3'}", tmp_path)
    assert revision_of(store) == migrate.head()
    names = {p.name for p in migrate.MIGRATIONS.joinpath("versions").glob("r*.py")}
    assert names >= {
        "r0001_baseline.py",
        "r0002_passage_evidence_type.py",
        "r0003_one_unfinished_job_per_report.py",
        "r0004_reviews.py",
    }
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_duplicate_unfinished_jobs_of_a_report_become_one_on_upgrade(tmp_path, analysis):
    """Stores from before 0003 may hold parallel uploads' duplicate jobs: the oldest one stays queued."""
    url = f"sqlite:///{tmp_path / 'previous.sqlite3'}"
    written = make_previous_store(url, analysis, MODEL)
    with sqlite3.connect(tmp_path / "previous.sqlite3") as db:
        for _ in range(3):
            db.execute(
                "INSERT INTO jobs (tenant_id, report_id, sha256, filename, status, stage, progress, error,"
                " attempts, lease_owner, lease_expires, claimed_at, created_at, updated_at)"
                " VALUES (1, ?, 'd', 'max.pdf', 'queued', 'queued', 0, '', 0, '', 0, 0,"
                " '2026-12-01', '2026-12-01')",
                (written["done"],),
            )
    store = open_at(url, tmp_path)
    jobs = [j for j in store.for_tenant(ALL_TENANTS).unfinished_jobs() if j.report_id == written["done"]]
    assert len(jobs) == 1
    with store.engine.connect() as connection:
        failed = connection.exec_driver_sql(
            "SELECT error FROM jobs WHERE report_id = ? AND status = 'failed'", (written["done"],)
        ).all()
    assert [row[0] for row in failed] == [
        f"a second upload of the same report; job {jobs[0].id} reads it"
    ] * 2


def test_a_database_that_is_no_gaplens_store_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY, title TEXT)")
        db.execute("INSERT INTO reports (title) VALUES ('somebody else''s')")
    with pytest.raises(migrate.UnknownStore, match="not a GapLens store"):
        open_at(f"sqlite:///{path}", tmp_path)
    engine = create_engine(f"sqlite:///{path}")
    assert inspect(engine).get_table_names() == ["reports"]  # the failed upgrade was rolled back
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT title FROM reports").fetchall() == [("somebody else's",)]


def test_a_scoped_view_refuses_none_and_another_tenants_rows(tmp_path):
    store = open_at(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path)
    with pytest.raises(TypeError, match="ALL_TENANTS"):
        store.for_tenant(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.for_tenant(True)
    report, _ = store.for_tenant(1).get_or_create_report("a" * 64)
    other = store.for_tenant(store.tenant_id("other", create=True))
    for call in (
        lambda: other.get_report(report.id),
        lambda: other.set_report_status(report.id, "failed"),
        lambda: other.set_report_meta(report.id, company="X"),
    ):
        with pytest.raises(NotFound):
            call()
    assert store.for_tenant(1).get_report(report.id).status == "queued"
