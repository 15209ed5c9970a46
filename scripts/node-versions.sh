#!/usr/bin/env bash
# Runs the end-to-end reload tests on the other Node.js majors that Fastify 5 supports (the
# main `npm test` runs on whatever `node` is). Each binary comes from the `node` package on
# the npm registry (`npx node@22`), so no version manager is needed. Coverage is off: the
# 100% gate is the main run's. Exits non-zero if a version could not be installed or a test
# failed; tap prints its `# { total: N, pass: N, fail: N }` line per version.
set -uo pipefail
cd "$(dirname "$0")/.."
versions=${NODE_VERSIONS:-22 24}
files=(test/unit/node-internals.test.ts test/e2e/reload.test.ts test/e2e/reload-load.test.ts test/e2e/supervisor.test.ts test/e2e/express.test.ts)
status=0
for version in $versions; do
  if ! bin=$(npx -y "node@$version" -p process.execPath); then
    echo "node-versions: could not install node@$version from the npm registry"
    status=1
    continue
  fi
  echo "node-versions: $("$bin" --version) ($bin)"
  # one file at a time, with room: after the suite, on a loaded machine, 10 reloads under load
  # took 136 s on Node 22 at a load average of 17 (tap's default limit is 120 s per file)
  "$bin" node_modules/tap/dist/esm/run.mjs --disable-coverage --jobs 1 --timeout 300 "${files[@]}" || status=1
done
exit "$status"
