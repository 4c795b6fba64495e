"""The CLI contracts: classify JSONL in/out, analyze a PDF, clear errors on bad input."""

import json
import os
import subprocess

import httpx
import pytest
from typer.testing import CliRunner

from eval.server import GAPLENS, GapLensServer, make_key
from service.cli import app
from service.settings import get_settings
from tests.conftest import MAX_AUTOMATION

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GAPLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GAPLENS_SERVER_URL", "none")  # never a server someone runs on this machine
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_classify_contract(tmp_path):
    items = [
        {"id": "x1", "text": "We reduced scope 1 and 2 greenhouse gas emissions by 30%."},
        {"id": 7, "text": "Workers can file complaints through our grievance mechanism."},
        {"id": "x3", "text": "Our board approved a human rights policy."},
    ]
    infile, outfile = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    infile.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    result = runner.invoke(app, ["classify", str(infile), "--out", str(outfile)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in outfile.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["x1", 7, "x3"]
    for row in rows:
        assert set(row) == {"id", "sdgs", "sdg_scores", "targets", "dd_steps", "dd_scores"}
        assert set(row["sdg_scores"]) == {str(i) for i in range(1, 18)}
        assert set(row["dd_scores"]) == {str(i) for i in range(1, 7)}
        assert all(isinstance(g, int) for g in row["sdgs"] + row["dd_steps"])
    assert 13 in rows[0]["sdgs"]
    assert 6 in rows[1]["dd_steps"]


def test_classify_rejects_malformed_lines(tmp_path):
    infile = tmp_path / "bad.jsonl"
    infile.write_text('{"id": "a", "text": "ok"}\nnot json\n')
    result = runner.invoke(app, ["classify", str(infile), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output


@pytest.mark.slow
def test_analyze_writes_the_gap_analysis(tmp_path):
    out = tmp_path / "result.json"
    result = runner.invoke(app, ["analyze", str(MAX_AUTOMATION), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert len(report["sdg"]) == 17 and len(report["due_diligence"]) == 6
    assert report["pages"] == 35 and report["profile"] and report["timings"]["total"] > 0


def test_analyze_bad_input_exits_nonzero_with_message(tmp_path):
    bad = tmp_path / "notes.pdf"
    bad.write_text("this is not a pdf")
    result = runner.invoke(app, ["analyze", str(bad), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 2
    assert "not a PDF" in result.output
    assert not (tmp_path / "r.json").exists()


def test_keys_create_list_revoke():
    made = runner.invoke(app, ["keys", "create", "--tenant", "Acme BV", "--admin"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("glk_") and len(key) > 40
    listed = runner.invoke(app, ["keys", "list"])
    assert "Acme BV" in listed.stdout and key[:12] in listed.stdout and key[12:] not in listed.stdout
    from service.errors import Unauthorized
    from service.serving.auth import tenant_for_key
    from service.store import Store

    store = Store.open(get_settings())
    assert tenant_for_key(store, key).admin
    assert runner.invoke(app, ["keys", "revoke", key[:12]]).exit_code == 0
    with pytest.raises(Unauthorized):
        tenant_for_key(store, key)
    assert runner.invoke(app, ["keys", "revoke", key[:12]]).exit_code == 2
    assert runner.invoke(app, ["keys", "create", "--tenant", "  "]).exit_code == 2


def test_local_mode_serves_loopback_only(monkeypatch):
    monkeypatch.setenv("GAPLENS_AUTH", "local")
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "loopback only" in result.output


@pytest.mark.slow
def test_analyze_hands_the_pdf_to_a_running_server_and_reads_it_itself_without_a_key(tmp_path):
    """A running server has its models loaded: the CLI uploads to it; refused (no key), it reads the PDF."""
    env = {**os.environ, "GAPLENS_DATA_DIR": str(tmp_path / "server"), "GAPLENS_AUTH": "keys"}
    env.pop("DATABASE_URL", None)
    key = make_key(env, "cli")
    server = GapLensServer(env, tmp_path / "server.log")
    try:
        cli_env = {**env, "GAPLENS_DATA_DIR": str(tmp_path / "cli"), "GAPLENS_SERVER_URL": server.url}
        runs = {}
        for name, extra in (("served", {"GAPLENS_API_KEY": key}), ("here", {})):
            out = tmp_path / f"{name}.json"
            done = subprocess.run(
                [GAPLENS, "analyze", str(MAX_AUTOMATION), "--out", str(out)],
                env={**cli_env, **extra},
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            runs[name] = (json.loads(out.read_text()), done.stderr)
        headers = {"Authorization": f"Bearer {key}"}
        stored = httpx.get(f"{server.url}/v1/reports", headers=headers, timeout=120).json()
    finally:
        server.stop()
    served, here = runs["served"][0], runs["here"][0]
    assert "read by the server" in runs["served"][1] and "refused the upload" in runs["here"][1]
    assert [r["filename"] for r in stored] == [MAX_AUTOMATION.name]  # the upload is the server's report
    assert (tmp_path / "cli" / "gaplens.sqlite3").exists()
    for side in ("sdg", "due_diligence"):
        assert [c["score"] for c in served[side]] == [c["score"] for c in here[side]]
    assert served["profile"] == here["profile"] and served["pages"] == here["pages"] == 35


def test_train_tuned_takes_the_frozen_layers_and_threads_it_is_given(tmp_path):
    # the options change only what they name; the rest is the shipped configuration
    from classifiers.training.finetune import TuneConfig
    from service.cli.train import _tune_config

    assert _tune_config(None, None) == TuneConfig()
    config = _tune_config(0, 1)
    assert (config.frozen_layers, config.threads) == (0, 1)
    assert config.epochs == TuneConfig().epochs
    # MiniLM has six layers: a seventh is refused before any training starts, and nothing is written
    out = tmp_path / "release"
    result = runner.invoke(app, ["train", "tuned", "--models-dir", str(out), "--frozen-layers", "7"])
    assert result.exit_code == 2
    assert "frozen-layers" in result.output
    assert not out.exists()
