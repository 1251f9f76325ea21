# zeikan: the CLI and pipeline workers. Build: docker build -t zeikan .
# Run: docker run --rm zeikan --help   (docker-compose.yml runs topic-init and the workers)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY zeikan/ zeikan/
COPY schemas/ schemas/
COPY streams/ streams/
COPY features/ features/
COPY models/ models/
COPY images/ images/
COPY sim/ sim/
COPY bench/ bench/
COPY ops/ ops/
COPY ui/ ui/
COPY cli/ cli/
RUN pip install . \
    && useradd --create-home --uid 10001 zeikan \
    && mkdir -p /app/var \
    && chown zeikan /app/var

USER zeikan
# Faust web ports of worker 1 and 2 (/metrics, /healthz, /readyz)
EXPOSE 6066 6067
ENTRYPOINT ["zeikan"]
CMD ["--help"]
