// Behaviour of every page, kept out of the HTML: the Content-Security-Policy
// allows no inline script.
"use strict";

// The language menu applies a choice at once (its button is for pages without script).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-submit-on-change]")) {
    event.target.form.submit();
  }
});
