# paylive: multi-stage build; the runtime image holds the virtualenv, the migrations and
# nothing else (no compilers, no pip cache), and runs as an unprivileged user.
FROM docker.io/library/python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/paylive
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN /opt/paylive/bin/pip install .

FROM docker.io/library/python:3.11-slim-bookworm AS runtime
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin paylive
COPY --from=build /opt/paylive /opt/paylive
COPY sql /app/sql
WORKDIR /app
ENV PATH=/opt/paylive/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    MIGRATIONS_DIR=/app/sql
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2).status != 200)"]
CMD ["python", "-m", "service", "serve"]
