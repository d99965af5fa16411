// The server's refusal ({"error": {"message", "fields"}}) shown next to each
// field, and in a summary at the top that links to them.
export function showErrors(form, error) {
  for (const field of form.querySelectorAll(".c-field.has-error")) field.classList.remove("has-error");
  for (const text of form.querySelectorAll("[data-error-for]")) text.textContent = "";
  const summary = document.getElementById("error-summary");
  const list = summary.querySelector("ul");
  list.replaceChildren();
  const fields = error.fields || {};
  const names = Object.keys(fields);
  if (!names.length) fields.form = [error.message];
  for (const [name, messages] of Object.entries(fields)) {
    const text = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`)
      || form.querySelector('[data-error-for="form"]');
    text.textContent = messages.join(" ");
    const field = text.closest(".c-field");
    if (field) field.classList.add("has-error");
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `#${field ? field.id : "report-form"}`;
    link.textContent = messages.join(" ");
    item.append(link);
    list.append(item);
  }
  summary.classList.remove("c-hidden");
  summary.focus();
}
