# One image for every Gerbang role: API (`gerbang serve`), worker, migrations, simulators.
# Installed as a user would install it: the wheel, with no extras (.ci/smoke_wheel.sh checks that install runs the demo).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY identity ./identity
COPY connectors ./connectors
COPY mappings ./mappings
RUN pip wheel --no-deps -w /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install /wheels/gerbang-*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 gerbang && mkdir /data && chown gerbang /data
USER gerbang
WORKDIR /data
ENV GERBANG_DATA_DIR=/data
EXPOSE 8000
CMD ["gerbang", "serve", "--host", "0.0.0.0", "--port", "8000"]
