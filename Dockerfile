# Praktikbot: web page + HTTP API (+ Slack HTTP endpoint). Knowledge and data are volumes.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY ingest ./ingest
RUN pip install .
COPY knowledge ./knowledge
# not root: the process owns only what it writes, the data dir and the knowledge dir (admin uploads)
RUN useradd --create-home --uid 10001 praktikbot && mkdir -p /data && chown -R praktikbot /data /app/knowledge
USER praktikbot
ENV PRAKTIKBOT_KNOWLEDGE_DIR=/app/knowledge PRAKTIKBOT_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
# ingest exits 1 when some documents failed; the rest is served all the same
CMD ["sh", "-c", "praktikbot ingest; [ $? -le 1 ] && exec praktikbot serve --host 0.0.0.0 --port 8000"]
