# syntax=docker/dockerfile:1
# The ticket-key-operator image: `ticket-key-operator controller` (the default command) and
# `ticket-key-operator sidecar`. Build from the repository root:
#
#   docker build -t ticket-key-operator:dev .
#
# test/unit/dockerfile.test.ts checks that every file copied here exists and that the image
# stays non-root on pinned Node 24 base images.

# Compile and bundle (needs the dev dependencies): dist/bin/ holds the command and every
# dependency as a few minified modules, ticket-key-operator.mjs and its chunks (scripts/bundle.ts).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.ts scripts/
COPY src/ src/
RUN npm run build
# The package's bin: without src/ beside it, it runs the bundle.
COPY bin/ bin/

# The bundle alone: no node_modules, no npm run at runtime.
FROM node:24-slim
LABEL org.opencontainers.image.title="ticket-key-operator" \
      org.opencontainers.image.description="Shares and rotates TLS session ticket keys across the replicas of a TLS service" \
      org.opencontainers.image.source="https://github.com/ticket-key-operator/ticket-key-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
# A small heap for a small process (bench/README.md, scale): the controller of 1000 policies
# stays under 200 MB resident. Override NODE_OPTIONS to change it.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=2"
WORKDIR /app
COPY --from=build /app/bin/ ./bin/
COPY --from=build /app/dist/bin/ ./dist/bin/
RUN ln -s /app/bin/ticket-key-operator.mjs /usr/local/bin/ticket-key-operator
# A numeric non-root user (Kubernetes can verify runAsNonRoot only for numeric ids).
USER 65532:65532
# /metrics and /healthz, /readyz
EXPOSE 8080 8081
ENTRYPOINT ["ticket-key-operator"]
CMD ["controller"]
