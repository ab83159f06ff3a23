# Casparian Flow: one image for the Sentinel, workers and the CLI.
#   docker build -t casparian-flow .
#   docker run --rm casparian-flow help
# Multi-stage: the build stage compiles (better-sqlite3 builds from source);
# the runtime stage has Node 20, python3 with venv (workers build plugin envs;
# the Sentinel builds its Parquet helper env), the bridge, and runs as a
# non-root user.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# npm ci runs `prepare` (tsc) too.
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 casparian
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bridge_py ./bridge_py
COPY --from=build /app/services/gen/descriptor-set.binpb ./services/gen/descriptor-set.binpb
COPY --from=build /app/services/sentinel/py ./services/sentinel/py
USER 10001
ENV CASPARIAN_HOME=/home/casparian/.casparian_flow \
    CASPARIAN_LOG_FORMAT=json
EXPOSE 50051
ENTRYPOINT ["tini", "--", "node", "/app/dist/tools/casparian.js"]
CMD ["help"]
