/* kb: search as you type on the home page, with arrow-key navigation of the results. */

import { authHeaders } from "./kb-auth.js";
import { DEBOUNCE_MS, SEARCH_LIMIT, articleHref, el, errorMessage, snippetNode, textAttrs, typeBadge, urls, withLang } from "./kb-dom.js";

export function initSearch(form) {
  var input = form.querySelector("input[name=q]");
  var typeSelect = form.querySelector("select[name=type]");
  var tagSelect = form.querySelector("select[name=tag]");
  var region = document.querySelector("[data-results]");
  var status = document.getElementById("result-status");
  var results = region.querySelector("[data-results-body]");
  var emptyState = results.querySelector("[data-empty-state]");
  var emptyTemplate = emptyState ? emptyState.cloneNode(true) : null;
  var timer = null;
  var controller = null;
  var lastKey = null;

  if (document.activeElement === input) {
    input.setSelectionRange(input.value.length, input.value.length);
  }

  function filters() {
    var params = new URLSearchParams();
    if (input.value.trim()) params.set("q", input.value);
    if (typeSelect.value) params.set("type", typeSelect.value);
    if (tagSelect.value) params.set("tag", tagSelect.value);
    return params;
  }

  function schedule(delayMs) {
    window.clearTimeout(timer);
    timer = window.setTimeout(run, delayMs);
  }

  function showEmpty() {
    status.textContent = "";
    results.replaceChildren();
    if (emptyTemplate) {
      var empty = emptyTemplate.cloneNode(true);
      empty.hidden = false;
      results.appendChild(empty);
    }
  }

  function showError(message) {
    lastKey = null; // let the same query be tried again
    status.textContent = "";
    results.replaceChildren(el("p", { className: "notice notice-error", role: "alert", text: message }));
  }

  function render(data, q) {
    var items = data.results.map(function (r) {
      var meta = el("p", { className: "result-meta" }, [
        typeBadge(r.article.type),
        " ",
        el("span", { className: "owner", text: r.article.owner }),
        r.section ? el("span", { className: "matched", text: " · matched in " + r.section }) : null,
      ]);
      return el("li", { className: "result" }, [
        el("a", { className: "result-link", href: articleHref(r.article.url, q, data.request_id) }, [
          el("span", withLang({ className: "result-title", text: r.article.title }, r.article.lang)),
        ]),
        meta,
        snippetNode(r.snippet, textAttrs(r.article.lang)),
      ]);
    });
    var count = data.results.length;
    // The query in a <bdi>: a Persian query must not reorder the English words around it.
    status.replaceChildren(count + " result" + (count === 1 ? "" : "s") + " for \u201c", el("bdi", { dir: "auto", text: data.query }), "\u201d");
    var children = [];
    if (data.did_you_mean) {
      var params = filters();
      params.set("q", data.did_you_mean);
      children.push(el("p", { className: "did-you-mean" }, [
        "Did you mean ",
        el("a", { href: urls.searchPage + "?" + params.toString(), "data-dym": true, dir: "auto", text: data.did_you_mean }),
        "?",
      ]));
    }
    if (count) {
      children.push(el("ol", { className: "results" }, items));
    } else {
      children.push(el("div", { className: "notice" }, [
        el("p", {}, [
          "Nothing matched. Try fewer or different words, remove a filter, or ",
          el("a", { href: urls.suggestPage, text: "paste the customer's message into Suggest" }),
          ".",
        ]),
      ]));
    }
    results.replaceChildren.apply(results, children);
  }

  function run() {
    var params = filters();
    var key = params.toString();
    if (key === lastKey) return;
    lastKey = key;
    var q = params.get("q");
    // Keep the address in step, so reload, back and a shared link show the same results.
    window.history.replaceState(null, "", q ? urls.searchPage + "?" + key : window.location.pathname);
    if (controller) controller.abort();
    if (!q) {
      controller = null;
      showEmpty();
      return;
    }
    controller = new AbortController();
    var signal = controller.signal;
    params.set("limit", String(SEARCH_LIMIT));
    // Keystroke searches are not logged: half-typed words would pollute the content-gap report.
    params.set("as_you_type", "1");
    region.setAttribute("aria-busy", "true");
    fetch(urls.search + "?" + params.toString(), { signal: signal, headers: authHeaders({ Accept: "application/json" }) })
      .then(function (response) {
        return response.json().then(function (data) {
          if (signal.aborted) return;
          if (!response.ok) showError(errorMessage(data, response.status));
          else render(data, q);
        });
      })
      .catch(function (error) {
        if (error.name !== "AbortError") showError("Search is not reachable right now. Press Enter to try again.");
      })
      .finally(function () {
        if (!signal.aborted) region.removeAttribute("aria-busy");
      });
  }

  function resultLinks() {
    return Array.prototype.slice.call(results.querySelectorAll("a.result-link"));
  }

  input.addEventListener("input", function () { schedule(DEBOUNCE_MS); });
  typeSelect.addEventListener("change", function () { schedule(0); });
  tagSelect.addEventListener("change", function () { schedule(0); });

  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") {
      var first = resultLinks()[0];
      if (first) {
        event.preventDefault();
        first.focus();
      }
    } else if (event.key === "Escape") {
      event.preventDefault();
      input.value = "";
      schedule(0);
    }
  });

  results.addEventListener("keydown", function (event) {
    var links = resultLinks();
    var index = links.indexOf(document.activeElement);
    if (index < 0) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (index + 1 < links.length) links[index + 1].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (index === 0) input.focus();
      else links[index - 1].focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      input.focus();
    }
    // Enter on a focused link opens it natively.
  });

  // What the server rendered counts as the current state, so focusing does not refetch.
  lastKey = filters().toString();
}
