// The reports waiting on this phone, shown on the app's pages, and sent when
// the signal returns (the browser's online event, each page load, and every
// half minute while a page is open).
import * as queue from "./queue.js";

const RETRY_MS = 30000;

export function startOutbox(section) {
  let sending = null;
  const said = section ? section.dataset : {};
  const list = section && section.querySelector("ul");

  async function render() {
    if (!section) return;
    const reports = await queue.all();
    section.classList.toggle("c-hidden", reports.length === 0);
    if (!reports.some((report) => report.state === "waiting")) notice("");
    list.replaceChildren(...reports.map(item));
  }

  function item(report) {
    const li = document.createElement("li");
    li.className = report.state;
    li.dataset.key = report.key;
    const state = document.createElement("span");
    state.className = "f-state";
    state.textContent =
      report.state === "refused" ? `${said.refused} ${report.error.message}` : said.waiting;
    const what = document.createElement("span");
    what.textContent = `${report.summary} · ${said.photos}: ${report.photos.length}`;
    li.append(state, what);
    if (report.state === "refused") {
      const fix = document.createElement("button");
      fix.type = "button";
      fix.textContent = said.fix;
      fix.addEventListener("click", () => {
        window.location.assign(`${report.url}?fix=${encodeURIComponent(report.key)}`);
      });
      const discard = document.createElement("button");
      discard.type = "button";
      discard.textContent = said.discard;
      discard.addEventListener("click", async () => {
        await queue.remove(report.key);
        render();
      });
      li.append(fix, discard);
    }
    return li;
  }

  // Sends every waiting report, one at a time; answers what became of each.
  async function sendAll() {
    if (sending) return sending;
    sending = (async () => {
      const outcomes = new Map();
      for (const report of await queue.all()) {
        if (report.state !== "waiting") continue;
        const outcome = await queue.send(report);
        outcomes.set(report.key, outcome);
        if (outcome.state === "sent") await queue.remove(report.key);
        else if (outcome.state === "refused") await queue.put({ ...report, ...outcome });
        else {
          if (outcome.signedOut) notice(said.signedOut, true);
          break; // no signal, or signed out: the rest waits too
        }
      }
      await render();
      return outcomes;
    })();
    try {
      return await sending;
    } finally {
      sending = null;
    }
  }

  window.addEventListener("online", sendAll);
  setInterval(sendAll, RETRY_MS);
  render().then(sendAll);

  // A line over the list: why a report just made is waiting there.
  function notice(text, signIn = false) {
    if (!section) return;
    const line = section.querySelector("#queued-notice");
    line.textContent = text;
    line.classList.toggle("c-hidden", !text);
    section.querySelector("#sign-in-again").classList.toggle("c-hidden", !signIn);
  }

  return {
    render,
    notice,
    sendAll,
    async add(report) {
      await queue.put({ ...report, state: "waiting", queuedAt: Date.now() });
      await render();
    },
  };
}
