# syntax=docker/dockerfile:1
# The ticket-key-operator image: `ticket-key-operator controller` (the default command) and
# `ticket-key-operator sidecar`. Build from the repository root:
#
#   docker build -t ticket-key-operator:dev .
#
# test/unit/dockerfile.test.ts checks that every file copied here exists and that the image
# stays non-root on pinned Node 24 base images.

# Compile TypeScript to dist/ (needs the dev dependencies).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build && chmod 0755 dist/cli.js

# Production dependencies only, without install scripts.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
LABEL org.opencontainers.image.title="ticket-key-operator" \
      org.opencontainers.image.description="Shares and rotates TLS session ticket keys across the replicas of a TLS service" \
      org.opencontainers.image.source="https://github.com/ticket-key-operator/ticket-key-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# package.json makes dist/ an ES module package (and names the bin).
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY crds/ ./crds/
RUN ln -s /app/dist/cli.js /usr/local/bin/ticket-key-operator
# A numeric non-root user (Kubernetes can verify runAsNonRoot only for numeric ids).
USER 65532:65532
# /metrics and /healthz, /readyz
EXPOSE 8080 8081
ENTRYPOINT ["ticket-key-operator"]
CMD ["controller"]
