# wahub: multi-stage image, non-root at run time. Not built in CI (no Docker engine on the CI
# machine); kept buildable in principle. Runs `wahub serve`; pass --role api|worker|all.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The `prepare` script builds the web inbox (web/ → web/dist) during npm ci.
COPY bin/build-web.js ./bin/build-web.js
COPY web ./web
# Production dependencies only; install scripts are approved in package.json (allowScripts).
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/web/dist ./web/dist
COPY package.json ./
COPY bin ./bin
COPY src ./src
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=2s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/wahub.js"]
CMD ["serve", "--role", "all"]
