# syntax=docker/dockerfile:1
# Multi-stage build; see README "Deploy". better-sqlite3 (feedback store) is a native module:
# it is installed where a compiler is available, and only its result reaches the runtime image.
# Node 22 LTS (maintained until April 2027); the code also runs on Node 20.12+ and 24.

# Toolchain for native modules (used by the deps and build stages only).
FROM node:22-bookworm-slim AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

# Production dependencies only.
FROM toolchain AS deps
RUN npm ci --omit=dev && npm cache clean --force

# Build: compile TypeScript with the dev dependencies.
FROM toolchain AS build
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime: no compiler, no dev dependencies, non-root.
FROM node:22-bookworm-slim AS runtime
# Production defaults: the embedded demo FHIR server is off (DEMO_FHIR=true switches it on for a
# trial run); every other variable is documented in README "Configure" and .env.example.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DEMO_FHIR=false
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY cql/elm ./cql/elm
COPY cql/trials ./cql/trials
COPY cql/valuesets.json cql/trial.schema.json ./cql/
COPY hooks ./hooks
COPY demo ./demo
# The SQLite feedback database lives in data/ (FEEDBACK_DB_PATH); mount a volume there to keep it,
# or set DATABASE_URL (PostgreSQL) and keep nothing on the container's disk.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
VOLUME ["/app/data"]
# Liveness. Readiness for a load balancer or orchestrator: GET /readyz (503 until ready).
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The CLIs run from the same image with plain node (compiled, no TypeScript runner), e.g.
#   docker run --rm -v "$PWD/records:/records:ro" IMAGE node dist/cli/screen.js --format table /records
CMD ["node", "dist/main.js"]
