"""Tenants, keys and isolation over every route; secure headers; request ids and JSON logs.

One app in key mode on a real report: tenant A uploads MAX Automation; tenant B, with a valid key of
its own, must get 404 (not the data) for every route that names A's report, job, sector or company.
The table of routes below must name every route the app has, so a new endpoint cannot skip the check.
"""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.app import create_app
from service.serving.auth import create_api_key
from service.settings import Settings
from service.store import ALL_TENANTS, Store
from tests.conftest import MAX_AUTOMATION
from tests.test_api import wait_for

pytestmark = pytest.mark.slow

PUBLIC = {
    "/health",
    "/docs",
    "/docs/oauth2-redirect",
    "/docs/assets",
    "/openapi.json",
    "/static",
    "/login",
    "/logout",
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    # failed_sign_in_rate: the 401 tests below send many bad keys; the throttle has its own test
    folder = tmp_path_factory.mktemp("security") / "data"
    return Settings(data_dir=folder, database_url=None, auth="keys", failed_sign_in_rate="1000/minute")


@pytest.fixture(scope="module")
def keys(settings):
    store = Store.open(settings)
    made = {
        "a": create_api_key(store, "Tenant A"),
        "b": create_api_key(store, "Tenant B"),
        "admin": create_api_key(store, "Operator", admin=True),
        "revoked": create_api_key(store, "Tenant A"),
    }
    assert store.revoke_api_key(made["revoked"][:12]) == 1
    return made


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
        data={"company": "MAX Automation", "sector": "Industrial", "year": "2023"},
    )
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], headers=bearer(keys["a"]))
    assert job["status"] == "done", job["error"]
    passages = client.get(f"/v1/reports/{job['report_id']}/passages", headers=bearer(keys["a"])).json()
    return {
        "job": job["id"],
        "report": job["report_id"],
        "passage": passages[0]["id"],
        "page": passages[0]["page"],
    }


def routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, routers included (FastAPI >= 0.165 nests them)."""

    def walk(items, prefix: str = "") -> set[tuple[str, str]]:
        found = set()
        for route in items:
            if hasattr(route, "original_router"):
                found |= walk(route.original_router.routes, prefix + route.include_context.prefix)
                continue
            for method in getattr(route, "methods", None) or {"GET"}:
                if method != "HEAD":
                    found.add((method, prefix + route.path))
        return found

    return walk(app.routes)


def isolation_cases(ids: dict[str, int]) -> dict[tuple[str, str], dict]:
    """How tenant B asks for tenant A's things on each route, and what it must get."""
    r, j, p, page = ids["report"], ids["job"], ids["passage"], ids["page"]
    return {
        ("GET", "/v1/jobs/{job_id}"): {"url": f"/v1/jobs/{j}"},
        ("GET", "/v1/reports/{report_id}"): {"url": f"/v1/reports/{r}"},
        ("PATCH", "/v1/reports/{report_id}"): {"url": f"/v1/reports/{r}", "json": {"shareable": True}},
        ("GET", "/v1/reports/{report_id}/analysis"): {"url": f"/v1/reports/{r}/analysis"},
        ("GET", "/v1/reports/{report_id}/evidence"): {
            "url": f"/v1/reports/{r}/evidence?framework=sdg&label=8"
        },
        ("GET", "/v1/reports/{report_id}/pages/{page}/image"): {
            "url": f"/v1/reports/{r}/pages/{page}/image?passage={p}"
        },
        ("GET", "/v1/reports/{report_id}/passages"): {"url": f"/v1/reports/{r}/passages"},
        ("GET", "/v1/reports/{report_id}/benchmark"): {"url": f"/v1/reports/{r}/benchmark"},
        ("GET", "/v1/sectors/{sector:path}/benchmark"): {"url": "/v1/sectors/industrial/benchmark"},
        ("GET", "/v1/companies/{company:path}/history"): {"url": "/v1/companies/MAX Automation/history"},
        ("GET", "/jobs/{job_id}"): {"url": f"/jobs/{j}"},
        ("GET", "/reports/{report_id}"): {"url": f"/reports/{r}"},
        ("GET", "/reports/{report_id}/evidence"): {"url": f"/reports/{r}/evidence?label=sdg-8"},
        ("GET", "/compare"): {"url": f"/compare?a={r}&b=sector"},
        ("GET", "/sectors/{sector:path}"): {"url": "/sectors/industrial"},
        # lists and searches answer 200, without A's things (checked by `absent`)
        ("GET", "/v1/reports"): {"url": "/v1/reports", "status": 200, "absent": "max.pdf"},
        ("GET", "/v1/search"): {
            "url": f"/v1/search?q=emissions&report_id={r}",
            "status": 200,
            "absent": "text",
        },
        ("GET", "/v1/sectors"): {"url": "/v1/sectors", "status": 200, "absent": "industrial"},
        ("GET", "/"): {"url": "/", "status": 200, "absent": "max.pdf"},
        ("GET", "/sectors"): {"url": "/sectors", "status": 200, "absent": "industrial"},
        # no data of anyone's: B gets its own answer
        ("GET", "/v1/me"): {"url": "/v1/me", "status": 200, "absent": "Tenant A"},
        ("POST", "/v1/classify"): {
            "url": "/v1/classify",
            "json": {"items": [{"id": "1", "text": "We cut our emissions."}]},
            "status": 200,
        },
        # reviews (issue 25): A's report's reviews, and the export of B's own (none)
        ("GET", "/v1/reports/{report_id}/reviews"): {"url": f"/v1/reports/{r}/reviews"},
        ("POST", "/v1/reports/{report_id}/reviews"): {
            "url": f"/v1/reports/{r}/reviews",
            "json": {"kind": "goal_rung", "target": "13", "level": 1},
        },
        ("POST", "/v1/reports/{report_id}/reviews/{review_id}/undo"): {
            "url": f"/v1/reports/{r}/reviews/1/undo"
        },
        ("GET", "/v1/reports/{report_id}/analysis/reviewed"): {"url": f"/v1/reports/{r}/analysis/reviewed"},
        ("GET", "/v1/reviews/export"): {"url": "/v1/reviews/export", "status": 200, "absent": "text"},
        ("POST", "/reports/{report_id}/reviews"): {
            "url": f"/reports/{r}/reviews",
            "data": {"kind": "goal_rung", "target": "13", "level": "1"},
        },
        ("POST", "/reports/{report_id}/reviews/{review_id}/undo"): {"url": f"/reports/{r}/reviews/1/undo"},
        # admin only
        ("POST", "/v1/keys"): {"url": "/v1/keys", "json": {"tenant": "Tenant A"}, "status": 403},
        ("GET", "/v1/admin/queue"): {"url": "/v1/admin/queue", "status": 403},
        # uploads make B's own report (checked in test_the_same_bytes_are_two_tenants_own_reports)
        ("POST", "/v1/reports"): None,
        ("POST", "/upload"): None,
    }


def test_every_route_is_covered_by_the_isolation_table(client, a_report):
    table = isolation_cases(a_report)
    uncovered = {
        (method, path)
        for method, path in routes(client.app)
        if path not in PUBLIC and (method, path) not in table
    }
    assert not uncovered, f"routes without an isolation case: {sorted(uncovered)}"


def test_another_tenant_gets_404_not_the_data(client, keys, a_report):
    for (method, path), case in isolation_cases(a_report).items():
        if case is None:
            continue
        response = client.request(
            method,
            case["url"],
            headers=bearer(keys["b"]),
            json=case.get("json"),
            data=case.get("data"),
            follow_redirects=False,
        )
        assert response.status_code == case.get("status", 404), (method, path, response.text[:300])
        if "absent" in case:
            assert case["absent"] not in response.text, (method, path)
    # and A still sees its own report through the same routes
    assert client.get(f"/v1/reports/{a_report['report']}", headers=bearer(keys["a"])).status_code == 200
    own = client.get(
        f"/v1/search?q=emissions&report_id={a_report['report']}", headers=bearer(keys["a"])
    ).json()
    assert own and all(hit["passage"]["report_id"] == a_report["report"] for hit in own)


def test_missing_invalid_and_revoked_keys_get_401(client, keys, a_report):
    for method, path in sorted(routes(client.app)):
        if not path.startswith("/v1"):
            continue
        url = path.replace(":path", "").format(
            job_id=1, report_id=a_report["report"], page=1, sector="x", company="x", review_id=1
        )
        for headers in (
            {},
            bearer("glk_not-a-key"),
            bearer(keys["revoked"]),
            {"Authorization": "Basic eDp4"},
        ):
            response = client.request(method, url, headers=headers)
            assert response.status_code == 401, (method, url, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["error"] == "Unauthorized"


def test_public_routes_need_no_key(client):
    for url in ("/health", "/openapi.json", "/docs", "/static/style.css", "/login"):
        assert client.get(url).status_code == 200, url
    # a page without a key leads to the sign-in form and back
    response = client.get("/reports/1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Freports%2F1"


def test_the_web_page_signs_in_with_a_session_not_the_key_and_out_again(settings, keys, a_report):
    with TestClient(create_app(settings)) as browser:
        wrong = browser.post("/login", data={"key": "glk_wrong", "next": "/"})
        assert wrong.status_code == 401 and "Sign-in needed" in wrong.text
        signed_in = browser.post("/login", data={"key": keys["a"], "next": "//evil.example/"})
        assert signed_in.status_code == 200 and signed_in.url.path == "/"  # no open redirect
        assert "Tenant A" in signed_in.text and "max.pdf" in signed_in.text
        cookie = next(
            c for c in signed_in.history[0].headers.get_list("set-cookie") if "gaplens_session" in c
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert "Max-Age=28800" in cookie  # a working day, not a month
        token = browser.cookies["gaplens_session"]
        assert keys["a"] not in cookie and keys["a"][4:] not in token
        assert browser.get(f"/reports/{a_report['report']}").status_code == 200
        browser.post("/logout")
        assert browser.get("/", follow_redirects=False).status_code == 303
        # the token is dead on the server too, not only forgotten by this browser
        browser.cookies.set("gaplens_session", token)
        assert browser.get("/v1/me").status_code == 401


def test_the_session_cookie_is_secure_over_https(settings, keys):
    with TestClient(create_app(settings), base_url="https://gaplens.example") as browser:
        signed_in = browser.post("/login", data={"key": keys["b"]}, follow_redirects=False)
        assert signed_in.status_code == 303 and "Secure" in signed_in.headers["set-cookie"]


def test_login_csrf_from_another_site_is_refused(client, keys):
    """A page on evil.example posting the attacker's key to /login must not sign the visitor in."""
    for headers in (
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/trap.html"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ):
        forged = client.post("/login", data={"key": keys["b"]}, headers=headers, follow_redirects=False)
        assert forged.status_code == 403 and forged.json()["error"] == "CrossSiteRequest", headers
        assert "set-cookie" not in forged.headers
    # every other state-changing form and route is guarded alike, the session cookie or not
    assert client.post("/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    upload = client.post(
        "/upload",
        headers={"Origin": "https://evil.example"},
        files={"file": ("x.pdf", b"%PDF-1.7 a small file", "application/pdf")},
    )
    assert upload.status_code == 403
    # this site's own form, and API clients that send no Origin, go through
    same = client.post("/login", data={"key": keys["b"]}, headers={"Origin": "http://testserver"})
    assert same.status_code == 200 and same.url.path == "/"
    client.cookies.clear()


def test_bad_keys_are_throttled_per_address(settings, keys):
    with TestClient(create_app(settings.model_copy(update={"failed_sign_in_rate": "3/minute"}))) as c:
        answers = [c.get("/v1/me", headers=bearer(f"glk_wrong{n}")).status_code for n in range(5)]
        assert answers == [401, 401, 401, 429, 429]
        assert c.post("/login", data={"key": "glk_wrong"}).status_code == 429
        # a good key from the same address is never held back (tests/test_hardening2.py: the rest)
        assert c.get("/v1/me", headers=bearer(keys["a"])).status_code == 200


def test_the_same_bytes_are_two_tenants_own_reports(client, keys, a_report):
    data = MAX_AUTOMATION.read_bytes()
    response = client.post(
        "/v1/reports", headers=bearer(keys["b"]), files={"file": ("b.pdf", data, "application/pdf")}
    )
    assert response.status_code == 202
    job = wait_for(client, response.json()["id"], headers=bearer(keys["b"]))
    assert job["status"] == "done" and job["report_id"] != a_report["report"]
    hits = client.get("/v1/search?q=emissions&k=50", headers=bearer(keys["b"])).json()
    assert hits and {h["passage"]["report_id"] for h in hits} == {job["report_id"]}


def test_classify_is_no_membership_oracle_and_stores_nothing(settings, client, keys, a_report):
    """Tenant B times /v1/classify on a passage of A's report against a text that is nowhere stored."""
    import statistics
    import time

    from service.store import EmbeddingRow, PassageRow

    a, b = bearer(keys["a"]), bearer(keys["b"])
    passages = client.get(f"/v1/reports/{a_report['report']}/passages?limit=200", headers=a).json()
    known = [p["text"] for p in passages if len(p["text"]) > 300][:6]
    unknown = [" ".join(reversed(text.split())) for text in known]
    store = Store(settings.resolved_database_url())

    def stored() -> int:
        with store.session() as s:
            return s.query(EmbeddingRow).count()

    def seconds(texts: list[str]) -> float:
        started = time.perf_counter()
        body = {"items": [{"id": str(n), "text": text} for n, text in enumerate(texts)]}
        assert client.post("/v1/classify", headers=b, json=body).status_code == 200
        return time.perf_counter() - started

    before = stored()
    seconds(unknown)  # warm up
    known_s = statistics.median(seconds(known) for _ in range(5))
    unknown_s = statistics.median(seconds(unknown) for _ in range(5))
    # with a shared cache the known texts came back about 6x faster
    assert known_s > unknown_s / 2, (known_s, unknown_s)
    assert stored() == before  # classify input is not written to the store
    # and reports' vectors are cached per tenant: B's copy of A's report shares no cache entry with it
    with store.session() as s:
        keys_of = {
            report: set(s.scalars(select(PassageRow.embedding_key).where(PassageRow.report_id == report)))
            for report in {r.id for r in store.for_tenant(ALL_TENANTS).done_reports()}
        }
    assert len(keys_of) == 2 and not set.intersection(*keys_of.values())


def test_one_shared_report_is_not_an_aggregate(client, keys, a_report):
    # Other tenants' shared reports count from three on (tests/test_store.py); one would be its own scores.
    a, b = bearer(keys["a"]), bearer(keys["b"])
    report = a_report["report"]
    assert client.patch(f"/v1/reports/{report}", headers=a, json={"shareable": True}).json()["shareable"]
    try:
        assert "industrial" not in client.get("/v1/sectors", headers=b).text
        assert client.get("/v1/sectors/industrial/benchmark", headers=b).status_code == 404
        assert client.get(f"/v1/reports/{report}", headers=b).status_code == 404
        assert client.get("/v1/companies/MAX Automation/history", headers=b).status_code == 404
        # the owner's own benchmark is unchanged by sharing
        assert client.get("/v1/sectors/industrial/benchmark", headers=a).json()["reports"] == 1
    finally:
        client.patch(f"/v1/reports/{report}", headers=a, json={"shareable": False})


def test_admin_keys_make_keys_and_see_the_queue_without_content(client, keys):
    admin = bearer(keys["admin"])
    made = client.post("/v1/keys", headers=admin, json={"tenant": "Tenant C"})
    assert made.status_code == 201 and made.json()["key"].startswith("glk_")
    assert client.get("/v1/me", headers=bearer(made.json()["key"])).json()["tenant"] == "Tenant C"
    queue = client.get("/v1/admin/queue", headers=admin).json()
    assert set(queue) == {"unfinished", "by_status", "by_tenant"}
    assert client.post("/v1/keys", headers=admin, json={"tenant": "   "}).status_code == 422


def test_answers_carry_secure_headers_and_a_request_id(client, keys):
    page = client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert len(page.headers["x-request-id"]) == 32
    echoed = client.get("/health", headers={"X-Request-ID": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"
    forged = client.get("/health", headers={"X-Request-ID": "bad id\r\nx: y"})
    assert forged.headers["x-request-id"] != "bad id\r\nx: y"


def test_logs_are_json_with_request_ids_and_no_secrets(client, keys, a_report, capsys):
    from service.logs import configure_logging

    root = logging.getLogger()
    before = root.handlers[:], root.level
    configure_logging("json")  # logs to the stderr that capsys captures
    try:
        client.get(
            f"/v1/reports/{a_report['report']}", headers={**bearer(keys["a"]), "X-Request-ID": "req-7"}
        )
        client.get("/v1/reports", headers=bearer("glk_secret-but-wrong"))
    finally:
        root.handlers, _ = before
        root.setLevel(before[1])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    access = next(r for r in records if r["logger"] == "gaplens.access")
    assert access["request_id"] == "req-7" and access["status"] == 200 and access["tenant"] == "Tenant A"
    assert access["path"] == f"/v1/reports/{a_report['report']}" and access["level"] == "INFO"
    assert any(r["status"] == 401 for r in records if r["logger"] == "gaplens.access")
    text = "\n".join(lines)
    assert keys["a"] not in text and keys["a"][4:20] not in text and "secret-but-wrong" not in text
