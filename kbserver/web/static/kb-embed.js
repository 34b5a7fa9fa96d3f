/* kb: the side panel inside a helpdesk (docs/helpdesk.md has the protocol).
 *
 * A parent frame whose origin is in CORS_ORIGINS (the page's data-embed-origins) may send
 *   { type: "kb:ticket", text: "<the customer's message>", ticket_id: "ZD-48213" }
 * and the panel fills the message box, remembers the ticket and runs the suggestion. Messages
 * from any other origin or window, or of any other shape, are ignored. The panel answers only
 * to the allowed origin of its parent: "kb:ready" once loaded, "kb:suggested" when a suggestion
 * is shown, "kb:copied" when the agent copies a link or a reply, "kb:feedback" when they rate.
 */

var body = document.body;
var allowed = (body.dataset.embedOrigins || "").split(" ").filter(Boolean);
var maxChars = parseInt(body.dataset.maxTextChars || "8000", 10);
var TICKET_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:#/-]{0,63}$/;
var inFrame = window.parent !== window;
var parentOrigin = null; // the allowed origin the ticket came from (or the parent's, once known)

// The parent's origin as the browser reports it: Chromium's ancestorOrigins, else the referrer.
function reportedParentOrigin() {
  if (location.ancestorOrigins && location.ancestorOrigins.length) return location.ancestorOrigins[0];
  try {
    return document.referrer ? new URL(document.referrer).origin : null;
  } catch (error) {
    return null; // an unparsable referrer: the parent stays unknown until it sends a ticket
  }
}

export function ticketId() {
  var input = document.querySelector("[data-ticket-id]");
  return input && input.value ? input.value : null;
}

// Post to the parent only when its origin is allowed; the browser delivers it to that origin only.
export function notifyParent(type, payload) {
  if (!inFrame || !parentOrigin || allowed.indexOf(parentOrigin) < 0) return;
  var message = Object.assign({ type: type, ticket_id: ticketId() }, payload || {});
  window.parent.postMessage(message, parentOrigin);
}

// A ticket message, checked: a plain object with a non-blank text within the limit and, if
// given, a ticket id shaped like the API's. Anything else is null (ignored).
export function readTicket(data) {
  if (!data || typeof data !== "object" || Array.isArray(data) || data.type !== "kb:ticket") return null;
  if (typeof data.text !== "string" || !data.text.trim() || data.text.length > maxChars * 4) return null;
  var id = data.ticket_id;
  if (id !== undefined && id !== null && !(typeof id === "string" && TICKET_ID_RE.test(id))) return null;
  return { text: data.text, ticketId: id || "" };
}

export function initEmbed(form) {
  if (!inFrame || !allowed.length) return;
  var reported = reportedParentOrigin();
  if (reported && allowed.indexOf(reported) >= 0) parentOrigin = reported;
  var textarea = form.querySelector("textarea[name=text]");
  var ticketInput = form.querySelector("[data-ticket-id]");
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || allowed.indexOf(event.origin) < 0) return;
    var ticket = readTicket(event.data);
    if (!ticket) return;
    parentOrigin = event.origin;
    textarea.value = ticket.text;
    if (ticketInput) ticketInput.value = ticket.ticketId;
    form.requestSubmit();
  });
  notifyParent("kb:ready", { version: 1 });
}
