"""Fuzzing with a bounded budget for CI (eval/fuzz.py runs the same code deeper).

Schemathesis generates at least 1,000 requests from the OpenAPI schema, valid and invalid, against a
store holding a real report: none may answer 5xx. Hypothesis mutates a real PDF: ingest must end in
a Document or a clear BadInput within the time bound, never crash or hang.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from eval.fuzz import fuzz_api, fuzz_pdfs, fuzz_target, seed_report
from service.app import create_app

pytestmark = pytest.mark.slow


def test_mutated_pdfs_end_in_a_result_or_a_clean_error():
    outcomes = fuzz_pdfs(examples=60, derandomize=True)
    assert sum(outcomes.values()) >= 50
    # the mutations are not all harmless, and not all fatal
    assert len(outcomes) >= 2, outcomes


def test_schemathesis_finds_no_server_error(tmp_path):
    config, headers = fuzz_target(tmp_path)
    with TestClient(create_app(config)) as client:
        real_ids = seed_report(client, headers)
        result = fuzz_api(client, headers, real_ids, examples=45, derandomize=True)
    assert result.cases >= 1000, result.cases
    assert not result.server_errors, result.server_errors[:10]
    # the cases reached real data as well as the error paths
    assert result.statuses[200] > 100 and result.statuses[404] > 50 and result.statuses[422] > 100
