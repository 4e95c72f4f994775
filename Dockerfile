# twisted-pypi in a container: see docs/deployment.md.
#
#   docker build -t twisted-pypi .
#   docker run -d --name pypi -p 8080:8080 -v pypi-cache:/var/cache/twisted-pypi twisted-pypi
#
# Options go after the image name (docker run ... twisted-pypi --index URL);
# PYPIPROXY_* variables (docker run -e PYPIPROXY_CACHE_SIZE=20G) and a
# mounted settings file (-e PYPIPROXY_CONFIG=/etc/twisted-pypi/config.toml)
# work too.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user that owns the cache and nothing else.
RUN useradd --system --user-group --uid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin twisted-pypi \
    && mkdir -p /var/cache/twisted-pypi \
    && chown twisted-pypi:twisted-pypi /var/cache/twisted-pypi

COPY . /tmp/twisted-pypi
# Install, then let Twisted write its plugin cache while it still may (the
# service user cannot write to site-packages).
RUN pip install /tmp/twisted-pypi \
    && rm -rf /tmp/twisted-pypi \
    && python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"

USER twisted-pypi
WORKDIR /var/cache/twisted-pypi
ENV PYPIPROXY_LISTEN=tcp:8080 \
    PYPIPROXY_CACHE_DIR=/var/cache/twisted-pypi
VOLUME ["/var/cache/twisted-pypi"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/-/health', timeout=4)"]

ENTRYPOINT ["twistd", "--nodaemon", "--pidfile=", "pypiproxy"]
CMD []
