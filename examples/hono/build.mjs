import * as esbuild from "esbuild"
await esbuild.build({
  entryPoints: ["src/main.ts"],
  outfile: "dist/main.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  conditions: ["@tracklog/source"],
  external: ["@electric-sql/pglite", "@electric-sql/pglite/*", "@electric-sql/pglite-socket", "pg-native"],
  banner: {
    js:
      "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  },
  logLevel: "warning"
})
