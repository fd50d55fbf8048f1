# Activity Privacy Gateway — production image (Node 24 LTS).
#   docker build -t activity-privacy-gateway .
#   docker run -p 8080:8080 -v "$PWD/config:/app/config:ro" -v apg-data:/app/data activity-privacy-gateway
# The configuration (gateway.yaml, the IdP's jwks.json) is mounted at /app/config;
# the file governance log and state live in the /app/data volume.

# ---- build: dev dependencies and the TypeScript compiler, never shipped ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the "prepare" build would run before the sources are here
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json vite.config.ts ./
COPY ui ./ui
COPY assembly ./assembly
COPY src ./src
# also compiles the WebAssembly engine (assembly/ → dist/engine/scan.wasm) with asc from node_modules
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
# created before USER so a fresh named volume inherits the non-root owner
RUN mkdir -p /app/data && chown node:node /app/data
USER node
ENV APG_CONFIG=/app/config/gateway.yaml
VOLUME /app/data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/_gateway/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/cli.js", "serve"]
