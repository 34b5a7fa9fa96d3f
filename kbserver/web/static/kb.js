/* kb: progressive enhancement for the agents' page (an ES module, loaded deferred).
 *
 * Every page works without it: forms post to the server. This adds search as you type,
 * keyboard navigation, the suggest panel without a reload, the copy buttons, the follow-up
 * count, the feedback controls and the helpdesk side panel's postMessage protocol, under `Content-Security-Policy: default-src 'self'`.
 */

import { initAuth } from "./kb-auth.js";
import { enhance, installControls } from "./kb-controls.js";
import { isEditable } from "./kb-dom.js";
import { initEmbed } from "./kb-embed.js";
import { initReports } from "./kb-reports.js";
import { initSearch } from "./kb-search.js";
import { initSuggest } from "./kb-suggest.js";

// "/" focuses the search box on any page.
document.addEventListener("keydown", function (event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || isEditable(event.target)) return;
  var box = document.getElementById("q") || document.getElementById("header-q");
  if (!box) return;
  event.preventDefault();
  box.focus();
  box.select();
});

const searchForm = document.querySelector("[data-search-form]");
if (searchForm) initSearch(searchForm);
const suggestForm = document.querySelector("[data-suggest-form]");
if (suggestForm) {
  initSuggest(suggestForm);
  initEmbed(suggestForm);
}
initAuth(suggestForm);
const reportsPage = document.querySelector("[data-reports]");
if (reportsPage) initReports(reportsPage);
installControls();
enhance(document);
