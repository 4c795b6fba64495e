"""Hardening, second round (issue 26): CSV formulas, sign-in throttles, download names, sessions, names.

One app in key mode on a real report (MAX Automation) whose company and sector an attacker chose: a
fullwidth "＝" that NFKC turns into a formula, a sector outside Latin-1 that starts with "=". Every
CSV the service writes must hand a spreadsheet inert text; failed sign-ins are counted per address,
per key and across all sources but never hold back a valid key; names with control characters are
refused at the boundary with a clear 422.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, insert, select
from typer.testing import CliRunner

from service.app import create_app
from service.cli import app as cli_app
from service.errors import BadManifest
from service.records import NegativeEvidence
from service.serving.auth import create_api_key, key_hash
from service.serving.csv_cells import FORMULA_STARTS, csv_text
from service.serving.export import write_results
from service.serving.manifest import BatchItem, read_manifest
from service.serving.report_table import analysis_csv
from service.settings import Settings, get_settings
from service.store import Store
from service.store.schema import SessionRow
from tests.conftest import MAX_AUTOMATION
from tests.test_api import wait_for

pytestmark = pytest.mark.slow

COMPANY = "＝ＭＡＸ Automation"  # fullwidth: NFKC makes it "=MAX Automation", a formula
SECTOR = "=能源 Przemysł"  # a formula, and neither name fits Latin-1
HOSTILE_SENTENCE = "-2+3+cmd|' /C notepad'!A0 We did not report on human rights."


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hardening2") / "data"
    return Settings(data_dir=folder, database_url=None, auth="keys", failed_sign_in_rate="1000/minute")


@pytest.fixture(scope="module")
def keys(settings):
    store = Store.open(settings)
    return {
        "a": create_api_key(store, "Tenant A"),
        "b": create_api_key(store, "Tenant B"),
        "admin": create_api_key(store, "Operator", admin=True),
    }


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def client(settings, keys):
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def a_report(client, keys):
    response = client.post(
        "/v1/reports",
        headers=bearer(keys["a"]),
        files={"file": ("max.pdf", MAX_AUTOMATION.read_bytes(), "application/pdf")},
        data={"company": COMPANY, "sector": SECTOR, "year": "2023"},
    )
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], timeout=600, headers=bearer(keys["a"]))
    assert job["status"] == "done", job["error"]
    return client.get(f"/v1/reports/{job['report_id']}", headers=bearer(keys["a"])).json()


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_inert(text: str) -> None:
    """No cell a spreadsheet would read as a formula: each that starts like one is a plain number."""
    for cell in cells(text):
        risky = cell[:1] in FORMULA_STARTS or cell.lstrip(" ")[:1] in FORMULA_STARTS
        assert not risky or is_number(cell), cell


# --- 1. formula injection in CSV exports ---------------------------------------------------------
def test_the_csv_helper_quotes_formulas_and_keeps_numbers():
    rows = [{"text": t, "number": -1.5, "numeric_text": "-2"} for t in ("=1+1", "@SUM(A1)", "\tx", "\r=x")]
    written = list(csv.DictReader(io.StringIO(csv_text(["text", "number", "numeric_text"], rows))))
    assert [r["text"] for r in written] == ["'=1+1", "'@SUM(A1)", "'\tx", "'\r=x"]
    assert {r["number"] for r in written} == {"-1.5"} and {r["numeric_text"] for r in written} == {"-2"}
    assert cells(csv_text(["a"], [{"a": "+＝cmd"}, {"a": " -cmd"}])) == ["a", "'+＝cmd", "' -cmd"]


def test_analysis_csv_neutralises_report_text(client, keys, a_report):
    report_id = a_report["id"]
    served = client.get(f"/v1/reports/{report_id}/analysis?format=csv", headers=bearer(keys["a"]))
    assert served.status_code == 200
    assert_inert(served.text)
    # a sentence of the PDF that starts like a formula, as the probe found it, in the real analysis
    service = client.app.state.service
    analysis = service.analysis(report_id, service.tenant_for_key(keys["a"]))
    hostile = NegativeEvidence(passage_id="p1", page=3, kind="not_reported", text=HOSTILE_SENTENCE)
    text = analysis_csv(replace(analysis, negative_evidence=(hostile,)))
    assert_inert(text)
    assert "'" + HOSTILE_SENTENCE in cells(text)


def test_sector_csv_neutralises_the_sector_name(client, keys, a_report):
    assert a_report["company"] == "=MAX Automation" and a_report["sector"] == SECTOR
    served = client.get(f"/v1/sectors/{quote(SECTOR)}/benchmark?format=csv", headers=bearer(keys["a"]))
    assert served.status_code == 200, served.text
    assert_inert(served.text)
    assert "'" + SECTOR.lower() in cells(served.text)  # benchmarks name sectors in lower case


def test_batch_outputs_neutralise_names_and_parquet_keeps_them(settings, a_report, tmp_path):
    store = Store.open(settings).for_tenant(a_report_tenant(settings))
    listed = [(a_report["sha256"], BatchItem(path=MAX_AUTOMATION, company=a_report["company"]))]
    missing = [BatchItem(path=tmp_path / "gone.pdf", company="@SUM(1+1)*cmd|' /C calc'!A0")]
    outputs = write_results(store, listed, missing, tmp_path / "out")
    for name in ("reports_csv", "failures"):
        assert_inert(outputs[name].read_text(encoding="utf-8"))
    assert "'=MAX Automation" in cells(outputs["reports_csv"].read_text(encoding="utf-8"))
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in cells(outputs["failures"].read_text(encoding="utf-8"))
    assert pq.read_table(outputs["reports"]).column("company").to_pylist() == ["=MAX Automation"]


def a_report_tenant(settings) -> int:
    return Store.open(settings).tenant_id("Tenant A")


# --- 3. download names outside Latin-1 -----------------------------------------------------------
def test_downloads_name_any_sector_per_rfc_6266(client, keys, a_report):
    served = client.get(f"/v1/sectors/{quote(SECTOR)}/benchmark?format=csv", headers=bearer(keys["a"]))
    assert served.status_code == 200, served.text
    disposition = served.headers["content-disposition"]
    disposition.encode("ascii")  # a header any client can read
    assert disposition.startswith('attachment; filename="benchmark-')
    assert "filename*=UTF-8''benchmark-" + quote("-能源-przemysł.csv") in disposition


# --- 2. failed sign-ins ---------------------------------------------------------------------------
def test_bad_keys_from_an_address_never_lock_out_a_good_key(settings, keys):
    with TestClient(create_app(settings.model_copy(update={"failed_sign_in_rate": "3/minute"}))) as c:
        answers = [c.get("/v1/me", headers=bearer(f"glk_wrong{n}")).status_code for n in range(5)]
        assert answers == [401, 401, 401, 429, 429]
        assert c.get("/v1/me", headers=bearer(keys["a"])).status_code == 200
        assert c.post("/login", data={"key": keys["b"]}, follow_redirects=False).status_code == 303


def test_one_bad_key_is_throttled_from_every_address(settings):
    app = create_app(settings.model_copy(update={"failed_sign_in_rate": "3/minute"}))
    with TestClient(app):
        answers = [
            TestClient(app, client=(f"192.0.2.{n}", 4000)).get("/v1/me", headers=bearer("glk_samebadkey"))
            for n in range(1, 6)
        ]
        assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]


def test_forwarded_for_counts_only_from_a_trusted_proxy(settings, keys):
    limited = settings.model_copy(update={"failed_sign_in_rate": "3/minute"})
    # by default no proxy is trusted: rotating X-Forwarded-For from loopback is one address
    app = create_app(limited)
    with TestClient(app):
        local = TestClient(app, client=("127.0.0.1", 4000))
        answers = [
            local.get("/v1/me", headers={**bearer(f"glk_bad{n}"), "X-Forwarded-For": f"203.0.113.{n}"})
            for n in range(5)
        ]
        assert [a.status_code for a in answers][3:] == [429, 429]
    # a trusted proxy names the client: each client is counted alone, a spoofing peer is not
    app = create_app(limited.model_copy(update={"trusted_proxies": "10.9.9.9"}))
    with TestClient(app):
        proxy = TestClient(app, client=("10.9.9.9", 4000))
        first = [
            proxy.get("/v1/me", headers={**bearer(f"glk_bad{n}"), "X-Forwarded-For": "203.0.113.7"})
            for n in range(4)
        ]
        assert [a.status_code for a in first] == [401, 401, 401, 429]
        other = proxy.get("/v1/me", headers={**bearer("glk_badx"), "X-Forwarded-For": "203.0.113.8"})
        assert other.status_code == 401
        assert proxy.get("/v1/me", headers=bearer(keys["a"])).status_code == 200


def test_a_global_cap_slows_failures_but_never_a_good_key(settings, keys):
    capped = {"failed_sign_in_rate": "100/minute", "failed_sign_in_global_rate": "4/minute"}
    app = create_app(settings.model_copy(update=capped))
    with TestClient(app):
        answers = [
            TestClient(app, client=(f"198.51.100.{n}", 4000)).get("/v1/me", headers=bearer(f"glk_x{n}"))
            for n in range(1, 7)
        ]
        assert [a.status_code for a in answers] == [401, 401, 401, 401, 429, 429]
        assert "Retry-After" in answers[-1].headers
        fresh = TestClient(app, client=("198.51.100.99", 4000))
        assert fresh.get("/v1/me", headers=bearer(keys["b"])).status_code == 200


# --- 6. successful sign-ins ----------------------------------------------------------------------
def sign_in(app, key: str) -> tuple[int, str]:
    browser = TestClient(app)
    answer = browser.post("/login", data={"key": key}, follow_redirects=False)
    return answer.status_code, browser.cookies.get("gaplens_session", "")


def test_sign_ins_are_rate_limited_per_key(settings, keys):
    app = create_app(settings.model_copy(update={"sign_in_rate": "3/minute"}))
    with TestClient(app):
        assert [sign_in(app, keys["a"])[0] for _ in range(4)] == [303, 303, 303, 429]
        assert sign_in(app, keys["b"])[0] == 303


def test_live_sessions_per_key_are_capped_oldest_first(settings, keys):
    app = create_app(settings.model_copy(update={"max_sessions_per_key": 2}))
    with TestClient(app):
        tokens = [sign_in(app, keys["admin"])[1] for _ in range(3)]
        alive = []
        for token in tokens:
            browser = TestClient(app)
            browser.cookies.set("gaplens_session", token)
            alive.append(browser.get("/v1/me").status_code)
        assert alive == [401, 200, 200]


def count_expired_sessions(settings) -> int:
    engine = create_engine(settings.resolved_database_url())
    with engine.connect() as connection:
        query = select(func.count()).select_from(SessionRow).where(SessionRow.expires_at < datetime.now(UTC))
        return int(connection.execute(query).scalar_one())


def test_expired_sessions_are_swept_without_a_sign_in(settings, keys, client):
    key_id = Store.open(settings).key_owner(key_hash(keys["b"]))[0].id
    expired = datetime.now(UTC) - timedelta(hours=1)
    row = {"key_id": key_id, "token_hash": key_hash("an old browser"), "expires_at": expired}
    with create_engine(settings.resolved_database_url()).begin() as connection:
        connection.execute(insert(SessionRow).values(**row))
    assert count_expired_sessions(settings) == 1
    deadline = time.monotonic() + 180  # the service's heartbeat sweeps them
    while count_expired_sessions(settings) and time.monotonic() < deadline:
        time.sleep(1)
    assert count_expired_sessions(settings) == 0


# --- 8. names -------------------------------------------------------------------------------------
UNSAFE = {
    "line break": "Acme\nCorp",
    "carriage return": "Acme\rCorp",
    "tab": "Acme\tCorp",
    "zero-width space": "Acme\u200bCorp",
    "bidi override": "Acme\u202eproC",
    "terminal escape": "Acme\x1b[31mCorp",
    "line separator": "Acme\u2028Corp",
}


@pytest.mark.parametrize("field", ["company", "sector"])
def test_names_with_control_characters_are_refused_naming_the_field(client, keys, field):
    for rule, value in UNSAFE.items():
        answer = client.post(
            "/v1/reports",
            headers=bearer(keys["b"]),
            files={"file": ("x.pdf", b"%PDF-1.7 never read", "application/pdf")},
            data={field: value},
        )
        assert answer.status_code == 422, rule
        body = answer.json()
        assert body["error"] == "RequestValidationError"
        assert body["detail"][0]["loc"][-1] == field and "control" in body["detail"][0]["msg"], rule
        assert value not in answer.text and "Acme" not in answer.text, rule
    page = client.post(
        "/upload",
        headers=bearer(keys["b"]),
        files={"file": ("x.pdf", b"%PDF-1.7 never read", "application/pdf")},
        data={field: UNSAFE["line break"]},
    )
    assert page.status_code == 422 and field in page.text and "Acme" not in page.text


def test_a_batch_manifest_takes_names_by_the_same_rule(tmp_path):
    manifest = tmp_path / "manifest.csv"
    rows = [["path", "company", "sector", "year"], ["a.pdf", "ＡＣＭＥ", "Energy", "2023"]]
    manifest.write_text("".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
    assert [(item.company, item.sector) for item in read_manifest(manifest)] == [("ACME", "energy")]
    rows.append(["b.pdf", "Acme\u202eCorp", "Energy", "2023"])
    manifest.write_text("".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
    with pytest.raises(BadManifest, match="company must not hold control") as refused:
        read_manifest(manifest)
    assert "Acme" not in str(refused.value)


def test_names_are_normalised_where_they_are_stored_and_looked_up(client, keys, a_report):
    for spelled in ("=MAX Automation", COMPANY):
        history = client.get(f"/v1/companies/{quote(spelled)}/history", headers=bearer(keys["a"]))
        assert history.status_code == 200 and history.json()["reports"] == 1, spelled
    hidden = quote("=MAX\u200bAutomation")  # a zero-width space: refused, not a near miss
    broken = client.get(f"/v1/companies/{hidden}/history", headers=bearer(keys["a"]))
    assert broken.status_code == 422 and "control" in broken.json()["detail"][0]["msg"]


def test_tenant_names_are_a_safe_ascii_set(client, keys):
    admin = bearer(keys["admin"])
    for name in ("Tenаnt", "Tenant\u200b", "Tenant\x1b[2J", "Tenant\u202e", "Ténant", "-tenant"):
        answer = client.post("/v1/keys", headers=admin, json={"tenant": name})
        assert answer.status_code == 422, ascii(name)
        assert answer.json()["detail"][0]["loc"][-1] == "tenant" and name not in answer.text
        assert "ASCII letters" in answer.json()["detail"][0]["msg"]
    made = client.post("/v1/keys", headers=admin, json={"tenant": "Acme-2 B.V._x"})
    assert made.status_code == 201 and made.json()["tenant"] == "Acme-2 B.V._x"


def test_the_cli_refuses_unsafe_tenants_and_lists_names_escaped(tmp_path, monkeypatch):
    monkeypatch.setenv("GAPLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "300")  # one line per row
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        refused = runner.invoke(cli_app, ["keys", "create", "--tenant", "Tenаnt"])
        assert refused.exit_code == 2 and "ASCII letters" in refused.output
        # a name stored before names were checked is printed escaped, never raw
        store = Store.open(get_settings())
        tenant = store.tenant_id("old\x1b]0;pwned\x07\u202eName[red]", create=True)
        store.add_api_key(tenant, key_hash("glk_legacy"), "glk_legacy", False)
        listed = runner.invoke(cli_app, ["keys", "list"])
        assert listed.exit_code == 0, listed.output
        assert "\x1b" not in listed.output and "\u202e" not in listed.output and "\x07" not in listed.output
        assert "\\x1b]0;pwned\\x07\\u202eName[red]" in listed.output.replace("\n", "").replace("│", "")
    finally:
        get_settings.cache_clear()
