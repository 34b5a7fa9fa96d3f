/* kb: the pop-up a side panel opened to sign in. It hands the panel (its opener, a kb page on
 * this same origin) a session of its own, then closes. The message is posted to this origin
 * only, so no other window can receive the session (docs/auth.md). */
var box = document.querySelector("[data-panel-session]");
if (box && window.opener) {
  window.opener.postMessage(
    { type: "kb:session", token: box.dataset.panelSession, expires: box.dataset.panelExpires, name: box.dataset.panelName },
    location.origin,
  );
  window.close();
}
