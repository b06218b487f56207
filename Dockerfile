# glue-eni-exporter image. Build: docker build -t glue-eni-exporter .
# Runs the embedded demo by default; `serve --config <file>` samples real AWS.

# --- build: all dependencies, compile TypeScript -------------------------------------------------------
FROM node:22.20.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off: `prepare` compiles, and the sources are not copied yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts/write-revision.mjs ./scripts/
# No .git in the build context: the commit comes in as a build argument (docker build --build-arg GLUE_ENI_REVISION=$(git rev-parse HEAD)).
ARG GLUE_ENI_REVISION=
RUN npm run build

# --- runtime: production dependencies and the compiled output only -------------------------------------
FROM node:22.20.0-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY scenarios ./scenarios
# The file store writes observations under ./data: owned by the unprivileged user.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 9858
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9858/-/healthy').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["demo", "--listen", "0.0.0.0:9858"]
