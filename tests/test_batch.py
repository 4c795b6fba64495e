"""Batch scoring and sector benchmarks: real reports, real worker processes, a real Ray cluster.

The batch runs go through the installed ``gaplens`` command in a subprocess, as a researcher runs it,
so worker processes, exit codes and a kill mid-run are the real thing.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from service.app import create_app
from service.errors import BadManifest
from service.records import GapReport
from service.serving.benchmark import label_stats, percentile_rank
from service.serving.manifest import BatchItem, read_manifest
from service.settings import Settings
from service.store import ALL_TENANTS, Store
from tests.conftest import TEXTS

GAPLENS = str(Path(sys.executable).parent / "gaplens")
RAY = str(Path(sys.executable).parent / "ray")


def write_manifest(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "company", "sector", "year"))
        writer.writerows(rows)
    return path


def gaplens(data_dir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GAPLENS_DATA_DIR": str(data_dir)}
    return subprocess.run([GAPLENS, *args], env=env, capture_output=True, text=True, timeout=timeout)


def store_of(data_dir: Path) -> Store:
    return Store(Settings(data_dir=data_dir).resolved_database_url())  # read only: the batch migrates it


# --- the manifest ------------------------------------------------------------------------------
def test_manifest_errors_are_clear(tmp_path):
    no_sector = tmp_path / "a.csv"
    no_sector.write_text("path,company,year\nx.pdf,X,2022\n")
    with pytest.raises(BadManifest, match="missing column.*sector"):
        read_manifest(no_sector)
    bad_year = write_manifest(tmp_path / "b.csv", [("x.pdf", "X", "energy", "twenty")])
    with pytest.raises(BadManifest, match=r"b.csv:2: year 'twenty'"):
        read_manifest(bad_year)
    empty = write_manifest(tmp_path / "c.csv", [])
    with pytest.raises(BadManifest, match="lists no reports"):
        read_manifest(empty)
    with pytest.raises(BadManifest, match="no such manifest"):
        read_manifest(tmp_path / "nope.csv")


def test_folder_with_columns_file(tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    for name in ("ctreit-esg-2022.json", "meta-sustainability-2023.json"):
        shutil.copy(TEXTS / name, folder / name)
    (folder / "notes.txt").write_text("not a report")
    columns = tmp_path / "columns.csv"
    columns.write_text("file,sector,year,company\nmeta-sustainability-2023.json,Technology,2023,Meta\n")
    items = read_manifest(folder, columns)
    assert [i.path.name for i in items] == ["ctreit-esg-2022.json", "meta-sustainability-2023.json"]
    assert items[0] == BatchItem(path=(folder / "ctreit-esg-2022.json").resolve(), company="ctreit-esg-2022")
    assert (items[1].company, items[1].sector, items[1].year) == ("Meta", "technology", 2023)


# --- statistics on a known set -----------------------------------------------------------------
def test_label_stats_and_percentiles_on_known_values():
    stats = label_stats("sdg_13", [40.0, 10.0, 30.0, 20.0])
    # linear interpolation (type 7): positions 0.75, 1.5 and 2.25 of the sorted values
    assert (stats.minimum, stats.q1, stats.median, stats.q3, stats.maximum) == (10, 17.5, 25, 32.5, 40)
    assert stats.mean == 25 and stats.reports == 4
    assert percentile_rank(30, [10, 20, 30, 40]) == 62.5  # two below, one tie counted half
    assert percentile_rank(5, [10, 20]) == 0 and percentile_rank(50, [10, 20]) == 100
    assert percentile_rank(10, []) is None


# --- a real batch: two worker processes, a corrupt PDF, a missing file --------------------------
@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage, no xref")
    manifest = write_manifest(
        root / "manifest.csv",
        [
            (str(TEXTS / "ctreit-esg-2022.json"), "Example Co", "real estate", "2021"),
            (str(TEXTS / "meta-sustainability-2023.json"), "Example Co", "Real Estate", "2023"),
            (str(TEXTS / "paypal-global-2023.json"), "PayPal", "finance", "2023"),
            (str(TEXTS / "jpmorgan-climate-2022.json"), "JPMorgan Chase", "finance", "2022"),
            ("broken.pdf", "Broken", "finance", "2023"),
            ("missing.pdf", "Ghost", "finance", "2023"),
        ],
    )
    data_dir, out = root / "data", root / "out"
    run = gaplens(data_dir, "batch", str(manifest), "--out", str(out), "--workers", "2")
    return {"root": root, "manifest": manifest, "data": data_dir, "out": out, "run": run}


def report_rows(out: Path) -> list[dict]:
    return pq.read_table(out / "reports.parquet").to_pylist()


def test_batch_scores_reports_and_isolates_failures(scored):
    run, out = scored["run"], scored["out"]
    assert run.returncode == 1, run.stderr  # some reports failed: see failures.csv
    assert "4 scored, 0 already done, 2 failed" in run.stderr
    rows = report_rows(out)
    assert sorted(r["company"] for r in rows) == ["Example Co", "Example Co", "JPMorgan Chase", "PayPal"]
    assert len({r["sha256"] for r in rows}) == 4
    for row in rows:
        assert row["language"] == "en" and row["pages"] > 0 and row["passages"] > 50
        assert row["profile"] in ("integrated", "due-diligence-only", "sdg-only", "neither")
        coverage = [row[f"sdg_{g}"] for g in range(1, 18)] + [row[f"dd_{s}"] for s in range(1, 7)]
        assert all(0 <= c <= 100 for c in coverage)
        assert row["seconds_total"] > 0
    assert {r["sector"] for r in rows} == {"real estate", "finance"}  # lower-cased
    with (out / "reports.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 4
    failures = {f["company"]: f for f in csv.DictReader((out / "failures.csv").open())}
    assert set(failures) == {"Broken", "Ghost"}
    assert failures["Broken"]["status"] == "rejected" and "CorruptPdf" in failures["Broken"]["error"]
    assert failures["Ghost"]["status"] == "missing"


def test_passage_table_matches_the_reports(scored):
    rows = report_rows(scored["out"])
    passages = pq.read_table(scored["out"] / "passages.parquet").to_pylist()
    per_report = {r["sha256"]: r["passages"] for r in rows}
    assert len(passages) == sum(per_report.values())
    assert {p["sha256"] for p in passages} == set(per_report)
    labelled = [p for p in passages if p["sdgs"]]
    assert labelled and all(1 <= g <= 17 for p in labelled for g in p["sdgs"])
    assert all(p["page"] >= 1 and p["text"] for p in passages)
    assert {p["evidence_type"] for p in passages} <= {"result", "action", "commitment", "mention"}


def test_decision_tables_have_a_row_per_evidence_item(scored):
    out = scored["out"]
    reports = {
        r.sha256: (r, GapReport.from_dict(r.result))
        for r in store_of(scored["data"]).for_tenant(ALL_TENANTS).done_reports()
    }
    indicators = pq.read_table(out / "indicators.parquet").to_pylist()
    with (out / "indicators.csv").open(newline="", encoding="utf-8") as handle:
        indicators_csv = list(csv.DictReader(handle))
    assert len(indicators_csv) == len(indicators)
    assert len(indicators) == sum(max(1, len(i.evidence)) for _, g in reports.values() for i in g.indicators)
    without_evidence = 0
    for sha, (row, report) in reports.items():
        for indicator in report.indicators:
            rows = [r for r in indicators if r["sha256"] == sha and r["indicator"] == indicator.id]
            assert {(r["company"], r["sector"], r["year"]) for r in rows} == {
                (row.company, row.sector, row.year)
            }
            assert {(r["decision"], r["points"], r["reason"]) for r in rows} == {
                (indicator.decision, indicator.points, indicator.reason)
            }
            found = [(r["rank"], r["page"], r["evidence_type"], r["text"]) for r in rows]
            if indicator.evidence:
                assert found == [
                    (k, e.page, e.evidence_type, e.text) for k, e in enumerate(indicator.evidence, start=1)
                ]
            else:
                without_evidence += 1
                assert found == [(None, None, "", "")]
    assert without_evidence  # an indicator not met: one row, its evidence cells empty
    empty = [r for r in indicators_csv if r["decision"] == "not_met"]
    assert empty and all(r["rank"] == r["page"] == r["text"] == "" for r in empty)
    views = pq.read_table(out / "views.parquet").to_pylist()
    expected = 0
    for _, report in reports.values():
        evidence = {i.id: len(i.evidence) for i in report.indicators}
        items = [item for view in report.regulatory_views for item in view.items]
        expected += sum(max(1, evidence[i]) for item in items for i in item.indicators)
    assert len(views) == expected
    assert {v["view"] for v in views} == {"csddd", "esrs_gov4", "agt"}
    with (out / "views.csv").open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == len(views)


def test_rerun_skips_what_is_done(scored):
    before = (scored["out"] / "reports.csv").read_text()
    run = gaplens(scored["data"], "batch", str(scored["manifest"]), "--out", str(scored["out"]))
    assert (
        "0 scored, 4 already done, 2 failed" in run.stderr
    )  # neither the bad nor the missing file is retried
    assert (scored["out"] / "reports.csv").read_text() == before
    store = store_of(scored["data"])
    for report in store.for_tenant(ALL_TENANTS).done_reports():
        assert (
            len(store.for_tenant(ALL_TENANTS).passages(report.id, limit=10_000)) == report.result["passages"]
        )


def test_sector_benchmark_api(scored):
    rows = report_rows(scored["out"])
    finance = [r for r in rows if r["sector"] == "finance"]
    app = create_app(Settings(data_dir=scored["data"], auth="local"), resume_jobs=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/v1/sectors").json() == {
            "sectors": [{"sector": "finance", "reports": 2}, {"sector": "real estate", "reports": 2}]
        }
        body = client.get("/v1/sectors/Finance/benchmark").json()
        assert body["reports"] == 2
        stats = {s["label"]: s for s in body["labels"]}
        assert len(stats) == 2 + 17 + 6
        for label in ("sdg_score", "dd_score", "sdg_13", "dd_1"):
            assert stats[label]["median"] == statistics.median(r[label] for r in finance)
            assert stats[label]["minimum"] == min(r[label] for r in finance)
        exported = client.get("/v1/sectors/finance/benchmark", params={"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        assert len(list(csv.DictReader(exported.text.splitlines()))) == 25

        report_id = next(
            r.id
            for r in store_of(scored["data"]).for_tenant(ALL_TENANTS).done_reports()
            if r.company == "PayPal"
        )
        standing = {s["label"]: s for s in client.get(f"/v1/reports/{report_id}/benchmark").json()["labels"]}
        paypal, jpm = (next(r for r in finance if r["company"] == c) for c in ("PayPal", "JPMorgan Chase"))
        for label in ("sdg_score", "dd_3"):
            expected = 100.0 if paypal[label] > jpm[label] else 0.0 if paypal[label] < jpm[label] else 50.0
            assert standing[label]["percentile"] == expected
            assert standing[label]["sector_median"] == jpm[label]

        history = client.get("/v1/companies/example co/history").json()
        assert [y["year"] for y in history["years"]] == [2021, 2023]
        first, second = (
            next(r for r in rows if r["year"] == y and r["company"] == "Example Co") for y in (2021, 2023)
        )
        assert history["years"][1]["change"]["sdg_score"] == second["sdg_score"] - first["sdg_score"]

        missing = client.get("/v1/sectors/apparel/benchmark")
        assert missing.status_code == 404 and "finance" in missing.json()["detail"]


def test_benchmark_cli_prints_and_exports(scored, tmp_path):
    target = tmp_path / "finance.csv"
    run = gaplens(scored["data"], "benchmark", "--sector", "finance", "--csv", str(target))
    assert run.returncode == 0, run.stderr
    assert "sector finance: 2 reports" in run.stdout and "sdg_13" in run.stdout
    assert len(list(csv.DictReader(target.open()))) == 25
    unknown = gaplens(scored["data"], "benchmark", "--sector", "apparel")
    assert unknown.returncode == 2 and "no analysed reports in sector 'apparel'" in unknown.stderr


# --- kill mid-run, run again --------------------------------------------------------------------
def test_resume_after_kill(tmp_path):
    names = ["ctreit-esg-2022.json", "meta-sustainability-2023.json", "aeo-esg-2022.json"]
    manifest = write_manifest(tmp_path / "m.csv", [(str(TEXTS / n), n, "test", "2022") for n in names])
    data_dir, out = tmp_path / "data", tmp_path / "out"
    env = {**os.environ, "GAPLENS_DATA_DIR": str(data_dir)}
    args = [GAPLENS, "batch", str(manifest), "--out", str(out), "--workers", "1", "--reports-per-task", "1"]
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    store = store_of(data_dir)
    deadline = time.monotonic() + 900  # one report of seconds, on a machine that may be busy
    done: list = []
    while not done and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        try:
            done = store.for_tenant(ALL_TENANTS).done_reports()
        except OperationalError:  # the batch has not created its tables yet
            continue
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL, "the batch ended before it could be killed"
    assert 1 <= len(store.for_tenant(ALL_TENANTS).done_reports()) < len(names)
    assert not out.exists() or not (out / "reports.parquet").exists()

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{len(names) - len(done)} scored, {len(done)} already done, 0 failed" in again.stderr
    rows = report_rows(out)
    assert sorted(r["company"] for r in rows) == sorted(names)
    for report in store.for_tenant(ALL_TENANTS).done_reports():
        assert (
            len(store.for_tenant(ALL_TENANTS).passages(report.id, limit=10_000)) == report.result["passages"]
        )


# --- the same batch on a real Ray cluster on loopback -------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ray_cluster(tmp_path):
    port = free_port()
    temp = Path(f"/tmp/gaplens-ray-{os.getpid()}")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    start = [RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2"]
    start += ["--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"]
    subprocess.run(start, env=env, check=True, capture_output=True, timeout=180)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_batch_on_a_local_ray_cluster(tmp_path, ray_cluster):
    names = ["ctreit-esg-2022.json", "paypal-global-2023.json"]
    manifest = write_manifest(tmp_path / "m.csv", [(str(TEXTS / n), n, "finance", "2023") for n in names])
    (tmp_path / "broken.pdf").write_bytes(b"not a pdf at all")
    with manifest.open("a") as handle:
        handle.write("broken.pdf,Broken,finance,2023\n")
    data_dir, out = tmp_path / "data", tmp_path / "out"
    run = gaplens(data_dir, "batch", str(manifest), "--out", str(out), "--ray", ray_cluster, "--workers", "1")
    assert run.returncode == 1, run.stderr
    assert "2 scored, 0 already done, 1 failed" in run.stderr
    rows = report_rows(out)
    assert sorted(r["company"] for r in rows) == sorted(names)
    failures = list(csv.DictReader((out / "failures.csv").open()))
    assert [f["company"] for f in failures] == ["Broken"] and "NotAPdf" in failures[0]["error"]
    assert len(pq.read_table(out / "passages.parquet")) == sum(r["passages"] for r in rows)
