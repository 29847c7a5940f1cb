# The worker image: taskkit's push, dead-letter and sweep endpoints with the render stack.
# Built from the repository root:
#   docker build -f deploy/worker.Dockerfile --build-arg VOICES_DIR=checkpoints -t worker .
# CPU-only torch (the CUDA wheels would add gigabytes no CPU instance uses); the GPU tier's image
# passes a CUDA index as TORCH_INDEX_URL (deploy/cloudbuild.yaml). Voices are baked in
# from VOICES_DIR (default: the repository's checkpoints/, which holds manifests and tiny test
# voices only) or mounted at run time from a bucket (terraform var.voices_bucket -> /voices).

# Cloud Run ignores Docker HEALTHCHECK (it probes the port itself), so none is declared:
# checkov:skip=CKV_DOCKER_2: Cloud Run does not run HEALTHCHECK; it uses its own startup probe on $PORT.
FROM python:3.11-slim-bookworm AS deps
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /build
COPY pyproject.toml deploy/requirements_from_pyproject.py ./
RUN python requirements_from_pyproject.py pyproject.toml requirements.txt
# torch first, from the CPU-only index; the requirements' torch==X then matches X+cpu and pip
# never looks for a CUDA build.
RUN grep -E '^torch==' requirements.txt | xargs pip install --index-url "${TORCH_INDEX_URL}" \
 && pip install -r requirements.txt

FROM python:3.11-slim-bookworm
ARG VOICES_DIR=checkpoints
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
COPY --from=deps /venv /venv
WORKDIR /app
# The packages run from source in /app (first on sys.path), so repository-relative data folders
# (phonemes/, checkpoints/) resolve exactly as in a checkout.
COPY pyproject.toml ./
COPY taskkit/ taskkit/
COPY singer_tasks/ singer_tasks/
COPY phonemes/ phonemes/
COPY ${VOICES_DIR}/ checkpoints/
RUN /venv/bin/python -m compileall -q /app
ENV PATH=/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SINGER_PHONEMES_DIR=/app/phonemes \
    SINGER_VOICE_CACHE_DIR=/app/var/voices \
    WORKER_APP=singer_tasks.render.tasks:kit
# The voices' int8 vocoder networks (CPU-independent), built once here instead of at every cold start;
# the cache stays writable for voices fetched from the bucket at run time.
RUN python -m singer_tasks voices prepare && chown -R 10001:10001 /app/var
USER 10001:10001
EXPOSE 8080
# Cloud Run gives PORT; SIGTERM reaches python directly (exec), so taskkit can release its lease.
CMD ["sh", "-c", "exec python -m taskkit worker --app \"$WORKER_APP\" --host 0.0.0.0 --port \"${PORT:-8080}\""]
