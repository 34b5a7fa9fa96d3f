/* kb: the copy button, the follow-up checklist count and the feedback controls (with a
 * comment box on "Not helpful"). */

import { authHeaders } from "./kb-auth.js";
import { el, errorMessage, urls } from "./kb-dom.js";
import { notifyParent, ticketId } from "./kb-embed.js";

var COPIED = { steps: "Steps copied.", link: "Link copied.", reply: "Reply text copied." };

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text).then(function () { return true; }, function () { return copyWithSelection(text); });
  }
  return Promise.resolve(copyWithSelection(text));
}

// For pages served over plain http on a LAN, where the async clipboard API is missing.
function copyWithSelection(text) {
  var area = el("textarea", { readonly: true, "aria-hidden": "true", className: "visually-hidden" });
  area.value = text;
  document.body.appendChild(area);
  area.select();
  var ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (error) {
    ok = false; // the browser refused; the message below tells the agent to copy by hand
  }
  area.remove();
  return ok;
}

function updateProgress(list) {
  var progress = list.nextElementSibling;
  if (!progress || !progress.classList.contains("checklist-progress")) return;
  var boxes = list.querySelectorAll("input[type=checkbox]");
  var done = list.querySelectorAll("input[type=checkbox]:checked").length;
  progress.hidden = false;
  progress.textContent = done === boxes.length ? "All " + boxes.length + " done." : done + " of " + boxes.length + " done";
}

export function enhance(root) {
  root.querySelectorAll(".copy-button").forEach(function (button) { button.hidden = false; });
  root.querySelectorAll("[data-checklist]").forEach(updateProgress);
  if (urls.feedback) root.querySelectorAll("[data-feedback], [data-not-this-one-box]").forEach(function (box) { box.hidden = false; });
}

// POST one feedback event (with the helpdesk's ticket id, if the panel has one) and tell the
// parent frame. Resolves to null once recorded, else to the message to show.
function postFeedback(payload, failed) {
  if (ticketId()) payload.ticket_id = ticketId();
  return fetch(urls.feedback, {
    method: "POST",
    headers: authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
    body: JSON.stringify(payload),
  })
    .then(function (response) {
      if (response.ok) {
        notifyParent("kb:feedback", { article_id: payload.article_id, outcome: payload.outcome });
        return null;
      }
      return response.json().catch(function () { return null; }).then(function (data) {
        return failed + errorMessage(data, response.status);
      });
    })
    .catch(function () { return "Couldn't reach kb to record it; try again."; });
}

// "Not this one" on a candidate of a choice: recorded as not helpful for that article, the
// candidate folds away, and focus moves to the next candidate still open to choose.
function dismissChoice(button) {
  var item = button.closest("[data-choice-item]");
  var status = item.querySelector(".feedback-status");
  var payload = { article_id: button.dataset.articleId, outcome: "not_helpful" };
  if (button.dataset.requestId) payload.request_id = button.dataset.requestId;
  // aria-disabled, not disabled: a disabled button would drop keyboard focus to <body>.
  if (button.getAttribute("aria-disabled") === "true") return;
  button.setAttribute("aria-disabled", "true");
  status.textContent = "Sending\u2026";
  postFeedback(payload, "Couldn't record it: ").then(function (problem) {
    if (problem) {
      status.textContent = problem;
      button.removeAttribute("aria-disabled");
      return;
    }
    item.classList.add("choice-dismissed");
    item.querySelector("details").open = false;
    status.textContent = "Marked not this one.";
    var next = item.parentElement.querySelector("[data-choice-item]:not(.choice-dismissed) summary");
    (next || status).focus();
  });
}

// "Not helpful" first opens an optional comment box (what was wrong or missing): the owner team
// reads it on /reports. Send posts it with the feedback; Cancel or Escape closes it, and focus
// goes back to the button that opened it.
var commentCount = 0;

function openComment(button) {
  var box = button.closest("[data-feedback]");
  var existing = box.querySelector(".feedback-comment");
  if (existing) {
    existing.querySelector("textarea").focus();
    return;
  }
  if (box.getAttribute("aria-busy") === "true" || button.getAttribute("aria-disabled") === "true") return;
  commentCount += 1;
  var id = "feedback-comment-" + commentCount;
  var area = el("textarea", { id: id, rows: "3", maxlength: "2000" });
  var send = el("button", { type: "button", className: "button button-small button-primary", "data-comment-send": true, text: "Send" });
  var cancel = el("button", { type: "button", className: "button button-small", "data-comment-cancel": true, text: "Cancel" });
  var form = el("div", { className: "feedback-comment", role: "group", "aria-label": "Not helpful: comment" }, [
    el("label", { for: id, text: "What was wrong or missing? (optional)" }),
    area,
    el("div", { className: "feedback-comment-actions" }, [send, cancel]),
  ]);
  button.setAttribute("aria-expanded", "true");
  box.querySelector(".feedback-buttons").after(form);
  area.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      closeComment(box);
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      sendFeedback(button, area.value);
    }
  });
  area.focus();
}

function closeComment(box) {
  var form = box.querySelector(".feedback-comment");
  if (form) form.remove();
  var opener = box.querySelector('button[data-outcome="not_helpful"]');
  if (opener) {
    opener.setAttribute("aria-expanded", "false");
    opener.focus();
  }
}

function sendFeedback(button, comment) {
  var box = button.closest("[data-feedback]");
  var buttons = box.querySelectorAll("button[data-outcome]");
  var status = box.querySelector(".feedback-status");
  var payload = { article_id: box.dataset.articleId, outcome: button.dataset.outcome };
  if (box.dataset.requestId) payload.request_id = box.dataset.requestId;
  if (comment && comment.trim()) payload.comment = comment.trim();
  // Locked with aria-disabled, not disabled: a disabled button drops keyboard focus to <body>.
  if (box.getAttribute("aria-busy") === "true" || button.getAttribute("aria-disabled") === "true") return;
  box.setAttribute("aria-busy", "true");
  buttons.forEach(function (b) { b.setAttribute("aria-disabled", "true"); b.setAttribute("aria-pressed", String(b === button)); });
  status.textContent = "Sending\u2026";
  postFeedback(payload, "Couldn't record feedback: ").then(function (problem) {
    box.removeAttribute("aria-busy");
    if (!problem) {
      status.textContent = payload.comment ? "Thanks, your feedback and comment are recorded." : "Thanks, your feedback is recorded.";
      if (box.querySelector(".feedback-comment")) closeComment(box);
      return;
    }
    status.textContent = problem;
    buttons.forEach(function (b) { b.removeAttribute("aria-disabled"); b.removeAttribute("aria-pressed"); });
  });
}

// One listener per event for the whole page, so controls added later (a rendered suggestion) work too.
export function installControls() {
  document.addEventListener("click", function (event) {
    var copy = event.target.closest(".copy-button");
    if (copy) {
      var status = copy.nextElementSibling;
      var kind = copy.dataset.copyKind || "steps";
      copyText(copy.dataset.copy).then(function (ok) {
        status.textContent = ok ? COPIED[kind] || "Copied." : "Couldn't copy: select the text and copy it by hand.";
        if (ok && kind !== "steps") {
          notifyParent("kb:copied", { kind: kind, article_id: copy.dataset.articleId || null, text: copy.dataset.copy });
        }
      });
      return;
    }
    var outcome = event.target.closest("[data-feedback] button[data-outcome]");
    if (outcome && outcome.dataset.outcome === "not_helpful") openComment(outcome);
    else if (outcome) sendFeedback(outcome);
    var commentSend = event.target.closest("[data-feedback] [data-comment-send]");
    if (commentSend) {
      var fbBox = commentSend.closest("[data-feedback]");
      sendFeedback(fbBox.querySelector('button[data-outcome="not_helpful"]'), fbBox.querySelector(".feedback-comment textarea").value);
    }
    var commentCancel = event.target.closest("[data-feedback] [data-comment-cancel]");
    if (commentCancel) closeComment(commentCancel.closest("[data-feedback]"));
    var dismiss = event.target.closest("button[data-not-this-one]");
    if (dismiss) dismissChoice(dismiss);
  });

  document.addEventListener("change", function (event) {
    var list = event.target.closest("[data-checklist]");
    if (list) updateProgress(list);
  });
}
