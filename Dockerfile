# syntax=docker/dockerfile:1
# Duet: one image for every node. Build: docker build -t duet .
# Run (SQLite, one node):  docker run -p 3000:3000 -v duet-data:/data duet
# Many nodes: set DATABASE_URL and REDIS_URL (see docker-compose.yml, docs/deploy.md).

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Production dependencies only. better-sqlite3 compiles from source when no
#    prebuilt binary matches, so the toolchain lives in this stage only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# 2. The browser client (Vite, Monaco: dev dependencies) and the node's
#    bundle (dist/server/main.js: our code in one file, packages left outside).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# 3. Runtime: no compiler, no dev dependencies, not root.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
# The code runner's sandbox and default languages (JavaScript and TypeScript
# run on this image's node; Python 3 and GNU time for the peak-memory figure).
# bubblewrap needs unprivileged user namespaces: see docs/runner.md for the
# seccomp profile Docker needs to allow them.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap python3 time \
    && rm -rf /var/lib/apt/lists/*
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# The sources are for `npm run token` (tsx); the node itself runs the bundle.
COPY --chown=root:root package.json tsconfig.json ./
COPY --chown=root:root server ./server
COPY --chown=root:root shared ./shared
# The SQLite file and the generated JWT secret live here when no database or
# secret is configured; the `node` user (uid 1000) of the base image owns it.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
# Liveness only: readiness (store and Redis reachable) is for load balancers
# (/readyz), and a node must not be restarted because PostgreSQL is down.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# What `npm start` runs, without npm in between: node is PID 1's only child
# process and receives SIGTERM itself (graceful shutdown, docs/deploy.md).
# --single-threaded-gc: docs/deploy.md, "The node's garbage collector".
CMD ["node", "--single-threaded-gc", "dist/server/main.js"]
