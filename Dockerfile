# Jiuliu Relay. Build: docker build -t jiuliu-relay .
# Run with MongoDB:   docker run -p 3000:3000 -e MONGO_URL=mongodb://db:27017/ jiuliu-relay
# Without MONGO_URL the embedded database keeps its file in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JIULIU_HOST=0.0.0.0 \
    JIULIU_PORT=3000 \
    JIULIU_DATA_DIR=/data \
    JIULIU_SHUTDOWN_GRACE=7
# Docker stops with SIGTERM and kills 10 s later unless told otherwise: a 7 s drain leaves time
# for the final usage flush and the embedded database's stop. For longer drains raise both:
#   docker run --stop-timeout 40 -e JIULIU_SHUTDOWN_GRACE=30 …   (compose: stop_grace_period)

WORKDIR /app
COPY setup.cfg pyproject.toml README.md LICENSE ./
COPY server ./server
COPY admin_api ./admin_api
COPY emulator ./emulator
COPY config ./config
COPY static_spa ./static_spa
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app jiuliu \
    && mkdir -p /data && chown jiuliu /data

USER jiuliu
VOLUME ["/data"]
EXPOSE 3000
# Shell form so the check follows JIULIU_PORT when the port is changed at run time.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os,urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('JIULIU_PORT', '3000'), timeout=4).status == 200 else 1)"
CMD ["jiuliu", "serve"]
