/* kb: "Mark handled" on the open feedback of /reports.
 *
 * The page lists open feedback without script; this shows each item's note box and button
 * and posts to the handled API (JSON, so another site's form cannot mark anything). A handled
 * item stays in the list, struck through, until the next load, and focus stays on its status.
 */

import { authHeaders } from "./kb-auth.js";
import { errorMessage } from "./kb-dom.js";

function markHandled(button, url) {
  var item = button.closest("[data-open-feedback]");
  var status = item.querySelector(".feedback-status");
  var note = item.querySelector(".handled-note");
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  status.textContent = "Sending\u2026";
  var body = note && note.value.trim() ? { note: note.value.trim() } : {};
  fetch(url.replace(/\/0\/handled$/, "/" + button.dataset.feedbackId + "/handled"), {
    method: "POST",
    headers: authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
    body: JSON.stringify(body),
  })
    .then(function (response) {
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.ok) {
          item.classList.add("is-handled");
          item.querySelector("[data-handle]").hidden = true;
          status.setAttribute("tabindex", "-1");
          status.textContent = "Marked handled by " + data.handled_by + ".";
          status.focus();
          return;
        }
        button.removeAttribute("aria-disabled");
        status.textContent = "Couldn't mark it handled: " + errorMessage(data, response.status);
      });
    })
    .catch(function () {
      button.removeAttribute("aria-disabled");
      status.textContent = "Couldn't reach kb to record it; try again.";
    });
}

export function initReports(root) {
  var url = root.dataset.handledUrl;
  root.querySelectorAll("[data-handle]").forEach(function (box) { box.hidden = false; });
  root.addEventListener("click", function (event) {
    var button = event.target.closest("[data-handle-button]");
    if (button) markHandled(button, url);
  });
  root.addEventListener("keydown", function (event) {
    // Enter in the note box marks the item, as a one-field form would.
    if (event.key === "Enter" && event.target.classList.contains("handled-note")) {
      event.preventDefault();
      markHandled(event.target.closest("[data-open-feedback]").querySelector("[data-handle-button]"), url);
    }
  });
}
