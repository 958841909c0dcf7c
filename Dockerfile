# agent-gateway as a container: the HTTP front on 0.0.0.0:8765, non-root, logs and
# audit as JSON lines on stdout. Config and policies come from mounted files
# (deploy/kubernetes/: a ConfigMap each), secrets from the environment (a Secret).
#
#   docker build -t agent-gateway .
#   docker build -t agent-gateway --build-arg EXTRA_PACKAGES="mcp-server-fetch" .
#
# The stdio servers of your .mcp.json run inside this container: install their
# commands here (Python packages through EXTRA_PACKAGES; for npx servers, build
# FROM this image and add Node).
FROM python:3.11-slim

ARG EXTRA_PACKAGES="mcp-server-time"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --gid 10001 gateway \
    && useradd --uid 10001 --gid gateway --create-home --home-dir /home/gateway gateway

WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent_gateway ./agent_gateway
RUN pip install . ${EXTRA_PACKAGES} && rm -rf /src

USER 10001:10001
WORKDIR /home/gateway
# Where the Deployment mounts its ConfigMaps; --config/--policies override.
ENV AGENT_GATEWAY_CONFIG=/etc/agent-gateway/config/.mcp.json \
    AGENT_GATEWAY_POLICIES=/etc/agent-gateway/policies \
    AGENT_GATEWAY_CACHE=/home/gateway/.cache/agent-gateway
EXPOSE 8765

# Liveness only; Kubernetes uses its own probes (GET /healthz, GET /healthz?ready).
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/healthz', timeout=2)"]

ENTRYPOINT ["agent-gateway"]
CMD ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8765", \
     "--log-format", "json", "--log-output", "stdout", "--audit-log", "-"]
