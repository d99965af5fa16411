// The field app's service worker (served from /field/sw.js, scope /field/).
// Pages: network first, the cached copy when there is no signal (each page
// carries the worker's grid boundaries and the categories). Scripts, styles
// and the icons: from the cache, refreshed behind. The API is never cached,
// and report posts are never replayed here: the page's queue (queue.js)
// sends them with their Idempotency-Key.
import { clientsClaim } from "workbox-core";
import { registerRoute } from "workbox-routing";
import { NetworkFirst, StaleWhileRevalidate } from "workbox-strategies";
import { warmStrategyCache } from "workbox-recipes";

const shell = self.FIELD_SHELL || { pages: [], assets: [] };
// Pages vary by cookie and language; on this phone there is one worker, and a
// navigation's headers differ from the warm-up's: matched without Vary.
// Only a page's own answer is kept: not an error, nor a page it ended at
// elsewhere (the sign-in page, once the session is over).
const pages = new NetworkFirst({
  cacheName: "field-pages",
  networkTimeoutSeconds: 5,
  matchOptions: { ignoreVary: true },
  plugins: [{ cacheWillUpdate: async ({ response }) => (response.ok && !response.redirected ? response : null) }],
});
const assets = new StaleWhileRevalidate({ cacheName: "field-assets" });

self.skipWaiting();
clientsClaim();

registerRoute(
  ({ request, url }) => request.mode === "navigate" && url.pathname.startsWith("/field/"),
  pages,
);
registerRoute(
  ({ url }) =>
    shell.assets.includes(url.pathname) ||
    url.pathname.startsWith("/static/build/") ||
    url.pathname.startsWith("/field/icons/") ||
    url.pathname === "/field/manifest.webmanifest",
  assets,
);
warmStrategyCache({ urls: shell.pages, strategy: pages });
warmStrategyCache({ urls: shell.assets, strategy: assets });
