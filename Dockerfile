# syntax=docker/dockerfile:1
# Multi-stage build; see README "Container". better-sqlite3 (feedback store) is a native module:
# it is installed where a compiler is available, and only its result reaches the runtime image.

# Toolchain for native modules (used by the deps and build stages only).
FROM node:20-bookworm-slim AS toolchain
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
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY cql/elm ./cql/elm
COPY cql/trials ./cql/trials
COPY cql/valuesets.json ./cql/valuesets.json
COPY hooks ./hooks
COPY demo ./demo
# The feedback database lives in data/ (FEEDBACK_DB_PATH); mount a volume there to keep it.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
