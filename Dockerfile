# One image for every Gerbang role: API (`gerbang serve`), worker, migrations, simulators.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY identity ./identity
COPY connectors ./connectors
COPY mappings ./mappings
RUN pip install . && useradd --system --uid 10001 gerbang && mkdir /data && chown gerbang /data
USER gerbang
ENV GERBANG_DATA_DIR=/data
EXPOSE 8000
CMD ["gerbang", "serve", "--host", "0.0.0.0", "--port", "8000"]
