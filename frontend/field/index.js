// The field app's shell: home, the report flow and the offline queue. The
// service worker keeps the pages and this script for when there is no signal.
import "./field.css";
import { startHome } from "./home.js";
import { startReport } from "./report.js";
import { startOutbox } from "./outbox.js";

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" }).catch(() => {});
}
const outbox = startOutbox(document.getElementById("outbox"));
const home = document.getElementById("home-map");
if (home) startHome(home);
const form = document.getElementById("report-form");
if (form) startReport(form, outbox);
