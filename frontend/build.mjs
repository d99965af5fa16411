// Bundles each page's script and style into static/build/ (git-ignored):
// one entry per page, ES modules, minified. The names stay fixed
// (static/build/report.js); in production Django's manifest storage
// (collectstatic) gives them content-hashed names that {% static %} uses.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = join(root, "static", "build");

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: {
    // The citizen's pages: the form with its map, and the plain pages.
    report: "frontend/report/index.js",
    citizen: "frontend/citizen.css",
    // The grid worker's phone app (/field/): shell and reporting, then
    // the case and task pages.
    field: "frontend/field/index.js",
    "field-tasks": "frontend/field/tasks/index.js",
    // Its service worker, served from /field/sw.js (field/app.py).
    "field-sw": "frontend/field/sw.js",
  },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020", "chrome90", "safari14"],
  outdir,
  // Leaflet's stylesheet names a few images: copied beside it, hashed.
  loader: { ".png": "file", ".svg": "file" },
  assetNames: "[name]-[hash]",
  legalComments: "none",
  logLevel: "warning",
});
