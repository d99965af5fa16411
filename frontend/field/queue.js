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

// Sends one report; says what became of it: "sent" (with the server's
// answer), "refused" (with its error), or "waiting" (no answer: try later).
export async function send(report) {
  const body = new FormData();
  for (const [name, value] of report.fields) body.append(name, value);
  for (const photo of report.photos) body.append("photos", photo.blob, photo.name);
  const csrf = report.fields.find(([name]) => name === "csrfmiddlewaretoken");
  let response;
  try {
    response = await fetch(report.url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Idempotency-Key": report.key,
        ...(csrf ? { "X-CSRFToken": csrf[1] } : {}),
      },
    });
  } catch {
    return { state: "waiting" };
  }
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    /* not our JSON: a gateway's page */
  }
  if (response.ok) return { state: "sent", answer };
  const retry = response.status >= 500 || [401, 408, 429].includes(response.status);
  if (retry || !answer.error) return { state: "waiting" };
  return { state: "refused", error: answer.error };
}
