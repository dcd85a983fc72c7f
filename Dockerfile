# modelport gateway image: Python 3.11 slim + a Java 17 runtime (PMML needs Java 11+), non-root.
# Build: docker build -t modelport .
# Run:   docker run -p 8000:8000 -p 8001:8001 -v modelport-models:/models \
#            -e MODELPORT_ADMIN_TOKEN=... modelport
# 8000: REST (V2 and TF Serving's); 8001: gRPC (KServe V2's and TF Serving's services).
# A bind mount (-v $PWD/models:/models) keeps the host directory's owner: make it writable by
# uid 10001 (the image's user), or run with --user "$(id -u):$(id -g)".
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=3 \
    MODELPORT_REPO=/models

# en_US.UTF-8: onnxruntime's StringNormalizer builds that locale (its default) to change case,
# and the slim image has only C, C.UTF-8 and POSIX; with it, such ONNX models are stored as
# uploaded instead of being pointed at C.UTF-8 (converters/onnx_locale.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless locales libgomp1 \
    && sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen \
    && locale-gen \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 modelport && useradd --create-home --uid 10001 --gid 10001 modelport
WORKDIR /app

# Dependencies first, from the same exact pins as CI, so code changes reuse this layer.
# torch comes from PyTorch's CPU index: the PyPI wheel of the same version pulls CUDA.
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir model_repo converters gateway \
    && touch model_repo/__init__.py converters/__init__.py gateway/__init__.py \
    && pip install "pip==26.3" \
    && pip install --extra-index-url https://download.pytorch.org/whl/cpu \
        -c constraints.txt ".[all]" \
    && pip uninstall -y modelport
# TF Serving's gRPC protos, in a step of their own: --no-deps because tensorflow-serving-api
# declares the full `tensorflow`, which pip would install beside tensorflow-cpu; what it
# imports (grpcio, protobuf, TensorFlow's protos) is installed above.
RUN pip install --no-deps -c constraints.txt tensorflow-serving-api

COPY model_repo ./model_repo
COPY converters ./converters
COPY gateway ./gateway
RUN pip install --no-deps . && rm -rf /app/build

# The repository root belongs to the user that serves it: a named volume mounted here starts
# as a copy of this directory, owner included, so uploads and aliases can be written.
RUN mkdir -p /models && chown modelport:modelport /models

# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd
# (deploy/kubernetes, deploy/kserve run it as 10001 too).
USER 10001:10001
VOLUME ["/models"]
# 8000: `modelport serve`'s REST port here, 8001 its gRPC port; 8080: the port deploy/ (KServe,
# Kubernetes) serves on.
EXPOSE 8000 8001 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/v2/health/ready').status != 200)"
# Inside a container the port must be reachable from outside it, hence 0.0.0.0;
# the admin token comes from MODELPORT_ADMIN_TOKEN.
CMD ["modelport", "serve", "--repo", "/models", "--host", "0.0.0.0", "--port", "8000", \
     "--grpc-port", "8001"]
