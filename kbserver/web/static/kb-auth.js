/* kb: who the page acts as when it calls the API (docs/auth.md).
 *
 * In a browser signed in by single sign-on (or behind the sign-in proxy), the session cookie
 * goes with every same-origin request by itself, so writes add the page's CSRF token. Inside a
 * helpdesk's side panel, third-party cookies may be blocked, so the panel holds a session of
 * its own instead and sends it as `Authorization: Bearer kbs_...`. It gets one either
 *   - from a sign-in pop-up it opens (same single sign-on; the pop-up posts it back to this
 *     origin only), or
 *   - from the helpdesk: the parent frame, if its origin is in CORS_ORIGINS, may post
 *     { type: "kb:session", token: "kbs_..." } that its server got from POST /api/v1/sessions.
 * The session is kept for this tab only (sessionStorage), and dropped when kb refuses it.
 */

var KEY = "kb.panelSession";
var body = document.body;
var allowed = (body.dataset.embedOrigins || "").split(" ").filter(Boolean);
var inFrame = window.parent !== window;
var waiting = [];

function stored() {
  try {
    return sessionStorage.getItem(KEY);
  } catch (error) {
    return null; // storage refused (some third-party frames): the session lives in memory only
  }
}

var panelSession = stored();

function keep(token) {
  panelSession = token;
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch (error) {
    /* memory only */
  }
}

export function hasPanelSession() {
  return Boolean(panelSession);
}

// Headers for a fetch to kb's API: the panel's session, or the CSRF token for a cookie's writes.
export function authHeaders(headers) {
  var out = Object.assign({}, headers || {});
  if (panelSession) {
    out.Authorization = "Bearer " + panelSession;
  } else {
    var meta = document.querySelector("meta[name=csrf-token]");
    if (meta && meta.content) out["X-CSRF-Token"] = meta.content;
  }
  return out;
}

// kb answered 401: the panel's session ended (expired, signed out). Forget it.
export function refused(status) {
  if (status === 401 && panelSession) keep(null);
}

// Run `callback` once a panel session arrives (from the pop-up or the helpdesk).
export function whenSignedIn(callback) {
  waiting.push(callback);
}

function arrived(token) {
  if (typeof token !== "string" || !/^kbs_[A-Za-z0-9_-]{20,100}$/.test(token)) return;
  keep(token);
  var callbacks = waiting.splice(0);
  callbacks.forEach(function (callback) { callback(); });
  document.querySelectorAll("[data-signin-prompt]").forEach(function (prompt) { prompt.remove(); });
}

window.addEventListener("message", function (event) {
  var data = event.data;
  if (!data || typeof data !== "object" || data.type !== "kb:session") return;
  var fromPopup = event.origin === location.origin && event.source && event.source !== window && sameOriginOpener(event.source);
  var fromHelpdesk = inFrame && event.source === window.parent && allowed.indexOf(event.origin) >= 0;
  if (fromPopup || fromHelpdesk) arrived(data.token);
});

function sameOriginOpener(source) {
  try {
    return source.opener === window; // readable only because the pop-up is on kb's own origin
  } catch (error) {
    return false;
  }
}

function openSignIn() {
  var url = (body.dataset.signinUrl || "/signin") + "?popup=1";
  if (!window.open(url, "kb-signin", "popup,width=520,height=680")) location.href = url; // pop-ups blocked
}

// The panel rendered for a browser that is not signed in: the Sign in link opens the pop-up, and
// once a session arrives the message (from the helpdesk or a link) is asked about by itself.
export function initAuth(form) {
  document.querySelectorAll("[data-signin-button]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      openSignIn();
    });
  });
  if (!document.querySelector("[data-needs-sign-in]") || !form) return;
  var textarea = form.querySelector("textarea[name=text]");
  var ask = function () {
    if (textarea && textarea.value.trim()) form.requestSubmit();
  };
  if (panelSession) {
    document.querySelectorAll("[data-signin-prompt]").forEach(function (prompt) { prompt.remove(); });
    ask();
  } else {
    whenSignedIn(ask);
  }
}

// A "Sign in" button that opens the same single sign-on in a pop-up (a provider's page cannot be framed).
export function signInPrompt() {
  var box = document.createElement("div");
  box.className = "notice signin-prompt";
  box.setAttribute("data-signin-prompt", "");
  box.setAttribute("role", "alert");
  var text = document.createElement("p");
  text.textContent = "Sign in to see answers here.";
  var button = document.createElement("button");
  button.type = "button";
  button.className = "button";
  button.setAttribute("data-signin-button", "");
  button.textContent = "Sign in";
  button.addEventListener("click", openSignIn);
  box.append(text, button);
  return box;
}

// In the panel, a page of kb opened from a link would load without the panel's session (a
// navigation carries no Authorization header): open it in a new tab, where the browser's own
// sign-in applies.
document.addEventListener("click", function (event) {
  if (!panelSession || !inFrame) return;
  var link = event.target.closest && event.target.closest("a[href]");
  if (!link || link.hasAttribute("data-signin-button")) return;
  var url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname === location.pathname) return;
  link.target = "_blank";
  link.rel = "noopener";
});
