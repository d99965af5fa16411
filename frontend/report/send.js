// A form sent by its page's script, asking for JSON: on success the server
// names the next page; a refusal is shown next to its fields (errors.js).
import { showErrors } from "./errors.js";

export async function sendForm(form, body, headers = {}) {
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body,
      headers: { Accept: "application/json", ...headers },
      credentials: "same-origin",
    });
    const answer = await response.json();
    if (response.ok && answer.next) {
      window.location.assign(answer.next);
      return true;
    }
    showErrors(form, answer.error || { message: form.dataset.failed });
  } catch {
    showErrors(form, { message: form.dataset.failed });
  }
  return false;
}
