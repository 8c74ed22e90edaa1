# syntax=docker/dockerfile:1
# The kind suite's app image: the operator image plus examples/node-server (the library's
# example server) and the resumption client. Built by run.ts from the repository root:
#   docker build -f test/e2e/kind/app.Dockerfile --build-arg OPERATOR_IMAGE=ticket-key-operator:e2e .
# (BuildKit reads app.Dockerfile.dockerignore next to this file instead of the root .dockerignore.)
ARG OPERATOR_IMAGE=ticket-key-operator:e2e
FROM ${OPERATOR_IMAGE}
# TypeScript sources run by Node 24's type stripping: the example may import the package
# ("ticket-key-operator/consumer", resolved to /app/dist by self-reference) or src/ directly.
COPY src/ /app/src/
COPY examples/node-server/ /app/examples/node-server/
COPY test/e2e/kind/client.ts /app/e2e/client.ts
ENTRYPOINT []
CMD ["node", "/app/examples/node-server/server.ts"]
