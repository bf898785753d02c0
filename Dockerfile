# Praktikbot: one image for every role. The default command is `serve` (web page + HTTP API); the
# compose file runs `worker` and `slack` from the same image. Nothing is ingested at start: with a Chroma
# server the worker ingests; embedded (one container, no Chroma server), re-ingest from the admin tab or run
# `praktikbot ingest` in the container, and mount a volume at /data to keep the index.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# the Chroma client must speak the Chroma server's version: keep equal to the chromadb/chroma image's tag
ARG CHROMADB_VERSION=1.5.9
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY ingest ./ingest
RUN pip install . "chromadb==${CHROMADB_VERSION}"
COPY knowledge ./knowledge
# not root: the process owns only what it writes, the data dir and the knowledge dir (the worker's uploads)
RUN useradd --create-home --uid 10001 praktikbot && mkdir -p /data && chown -R praktikbot /data /app/knowledge
USER praktikbot
ENV PRAKTIKBOT_KNOWLEDGE_DIR=/app/knowledge PRAKTIKBOT_DATA_DIR=/data
# serve on 8000, worker on 8002; slack has no port
EXPOSE 8000 8002
# the default command's /healthz (503 while it can't answer); the slim image has no curl
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["praktikbot", "serve", "--host", "0.0.0.0", "--port", "8000"]
