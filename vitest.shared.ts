import { defineConfig } from "vitest/config"

// Resolve workspace packages to their TypeScript sources, so tests never need a build first.
export default defineConfig({
  resolve: { conditions: ["@tracklog/source"] },
  ssr: { resolve: { conditions: ["@tracklog/source"], externalConditions: ["@tracklog/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    // In-process servers stay quiet; tests that read the request log start their own process.
    env: { TRACKLOG_LOG: "off" },
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
