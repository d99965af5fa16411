// Reports kept on the phone (IndexedDB, through idb) until the server has
// them: each with its fields, its photos and its Idempotency-Key, so that
// sending it again, however often, files one case. It survives closing the
// browser. A report the server refuses stays, with the reason, to be fixed.
import { openDB } from "idb";

const database = openDB("field-outbox", 1, {
  upgrade(db) {
    db.createObjectStore("reports", { keyPath: "key" });
  },
});

export async function put(report) {
  await (await database).put("reports", report);
}

export async function get(key) {
  return (await database).get("reports", key);
}

export async function all() {
  const reports = await (await database).getAll("reports");
  return reports.sort((a, b) => a.queuedAt - b.queuedAt);
}

export async function remove(key) {
  await (await database).delete("reports", key);
}

// The CSRF token of the page that sends: signing in again gives a new one,
// and the one kept with an older report would be refused.
function csrfToken(report) {
  const current = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (current) return current.value;
  const kept = report.fields.find(([name]) => name === "csrfmiddlewaretoken");
  return kept ? kept[1] : "";
}

// Sends one report; says what became of it: "sent" (with the server's
// answer), "refused" (with its error), or "waiting" (no answer, or not
// signed in: try later), "signedOut" set when the worker must sign in.
export async function send(report) {
  const body = new FormData();
  for (const [name, value] of report.fields) {
    if (name !== "csrfmiddlewaretoken") body.append(name, value);
  }
  for (const photo of report.photos) body.append("photos", photo.blob, photo.name);
  let response;
  try {
    response = await fetch(report.url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Idempotency-Key": report.key,
        "X-CSRFToken": csrfToken(report),
      },
    });
  } catch {
    return { state: "waiting" };
  }
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    /* not our JSON: a gateway's page, or Django's CSRF refusal */
  }
  if (response.ok) return { state: "sent", answer };
  // 401: signed out; a 403 without our error: the session and its CSRF
  // token are gone. The report waits for the worker to sign in again.
  if (response.status === 401 || (response.status === 403 && !answer.error)) {
    return { state: "waiting", signedOut: true };
  }
  const retry = response.status >= 500 || [408, 429].includes(response.status);
  if (retry || !answer.error) return { state: "waiting" };
  return { state: "refused", error: answer.error };
}
