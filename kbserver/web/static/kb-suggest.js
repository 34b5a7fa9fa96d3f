/* kb: the suggest panel without a reload, rendered from `/api/v1/suggest` like the server
 * renders `POST /suggest`. The only HTML inserted as-is is article HTML the indexer already
 * sanitised with nh3 (the same HTML the server renders with |safe).
 */

import { authHeaders, refused, signInPrompt, whenSignedIn } from "./kb-auth.js";
import { enhance } from "./kb-controls.js";
import { notifyParent } from "./kb-embed.js";
import {
  FEEDBACK_OUTCOMES,
  SECTION_NAMES,
  SUGGEST_LIMIT,
  articleHref,
  confidenceBadge,
  el,
  errorMessage,
  languageNotice,
  markdownBlock,
  plainText,
  typeBadge,
  urls,
  withLang,
} from "./kb-dom.js";

function stepsList(steps, lang) {
  return el("ol", withLang({ className: "steps" }, lang), steps.map(function (step) {
    return el("li", {}, [
      plainText(step.text),
      step.details.length
        ? el("ul", {}, step.details.map(function (d) { return el("li", { text: plainText(d) }); }))
        : null,
    ]);
  }));
}

function stepsAsText(steps) {
  var lines = [];
  steps.forEach(function (step) {
    lines.push(step.n + ". " + plainText(step.text));
    step.details.forEach(function (d) { lines.push("   - " + plainText(d)); });
  });
  return lines.join("\n");
}

function copyButton(text, label, kind, article, ariaLabel) {
  var attrs = { type: "button", className: "button button-small copy-button", "data-copy": text, "data-copy-kind": kind || "steps", text: label || "Copy steps" };
  if (article) attrs["data-article-id"] = article;
  if (ariaLabel) attrs["aria-label"] = ariaLabel;
  return [el("button", attrs), el("span", { className: "copy-status", role: "status" })];
}

// "Copy link" and, when something public applies, "Copy for reply" (the API's customer_reply).
function shareActions(s) {
  var title = s.article.title;
  var nodes = copyButton(new URL(s.article.url, location.href).href, "Copy link", "link", s.article.id, "Copy link to " + title);
  if (s.customer_reply) nodes = nodes.concat(copyButton(s.customer_reply, "Copy for reply", "reply", s.article.id, "Copy for reply: " + title));
  return el("div", { className: "share-actions", role: "group", "aria-label": "Share " + title }, nodes);
}

var checklistCount = 0;
function checklist(items, lang) {
  checklistCount += 1;
  var prefix = "js-follow-up-" + checklistCount;
  return [
    el("ul", withLang({ className: "checklist", "data-checklist": true }, lang), items.map(function (item, i) {
      var id = prefix + "-" + (i + 1);
      return el("li", {}, [el("input", { type: "checkbox", id: id }), el("label", { for: id, text: plainText(item) })]);
    })),
    el("p", { className: "checklist-progress", role: "status", hidden: true }),
  ];
}

function feedbackBox(articleId, requestId, prefix) {
  if (!urls.feedback) return null;
  return el("div", { className: "feedback", "data-feedback": true, "data-article-id": articleId, "data-request-id": requestId || "" }, [
    el("p", { className: "feedback-label", id: prefix + "-label", text: "Did this help?" }),
    el("div", { className: "feedback-buttons", role: "group", "aria-labelledby": prefix + "-label" }, FEEDBACK_OUTCOMES.map(function (b) {
      return el("button", { type: "button", className: "button button-small", "data-outcome": b[0], text: b[1] });
    })),
    el("p", { className: "feedback-status", role: "status" }),
  ]);
}

function runnerUp(s, requestId) {
  return el("li", { className: "runner-up" }, [
    el("a", withLang({ href: articleHref(s.article.url, "", requestId), text: s.article.title }, s.article.lang)),
    el("p", { className: "result-meta" }, [typeBadge(s.article.type), " ", confidenceBadge(s.confidence)]),
    el("p", { className: "why", text: s.why }),
  ]);
}

function linkedSection(id, title, items) {
  return el("section", { className: "linked", "aria-labelledby": id }, [
    el("h3", { id: id, text: title }),
    el("ul", { className: "link-list" }, items),
  ]);
}

function renderNoMatch(data) {
  var nodes = [
    el("div", { className: "notice notice-warn no-match", "data-no-match": true }, [
      el("h2", { text: "No confident match" }),
      el("p", { text: "kb found no article that clearly answers this message. Don't guess:" }),
      el("ul", {}, [
        el("li", {}, [el("a", { href: urls.home, text: "Search manually" }), " with the customer's key words: the product, what went wrong, what they want."]),
        el("li", { text: "If you use one of the closest articles below, check it fits first." }),
        el("li", { text: "If nothing fits, ask your team leader, and report a content gap to the knowledge-base owners with the customer's message." }),
      ]),
    ]),
  ];
  if (data.suggestions.length) {
    nodes.push(el("h2", { className: "runner-ups-title", text: "Closest articles (low confidence)" }));
    nodes.push(el("ol", { className: "runner-ups" }, data.suggestions.map(function (s) { return runnerUp(s, data.request_id); })));
  }
  return nodes;
}

// The whole procedure of one suggestion (ids prefixed with `prefix`): steps and sections, then
// the callouts, policies, related articles and feedback beside them.
function renderBody(top, requestId, prefix) {
  var lang = top.article.lang;
  var main = [];
  var side = [];
  if (top.steps.length) {
    main.push(el("section", { className: "article-section section-steps", "aria-labelledby": prefix + "-steps" }, [
      el("div", { className: "section-head" }, [el("h3", { id: prefix + "-steps", text: "Steps" })].concat(copyButton(stepsAsText(top.steps)))),
      stepsList(top.steps, lang),
    ]));
  }
  (top.sections || []).forEach(function (s) {
    if (SECTION_NAMES[s.key]) return;
    var prose = el("div", withLang({ className: "prose" }, lang));
    prose.innerHTML = s.html; // sanitised by the indexer (nh3), exactly what the server renders
    main.push(el("section", { className: "article-section", "aria-labelledby": prefix + "-" + s.key }, [el("h3", { id: prefix + "-" + s.key, text: s.name }), prose]));
  });
  var callouts = ["exceptions", "what_you_can_offer", "escalation"].filter(function (k) { return top[k]; }).map(function (k) {
    return el("section", { className: "callout callout-" + k, "aria-labelledby": prefix + "-" + k }, [
      el("h3", { id: prefix + "-" + k, text: SECTION_NAMES[k] }),
      el("div", withLang({ className: "prose" }, lang), [markdownBlock(top[k])]),
    ]);
  });
  if (top.follow_up.length) {
    callouts.push(el("section", { className: "callout callout-follow_up", "aria-labelledby": prefix + "-follow_up" },
      [el("h3", { id: prefix + "-follow_up", text: SECTION_NAMES.follow_up })].concat(checklist(top.follow_up, lang))));
  }
  side.push(shareActions(top));
  side.push(el("div", { className: "callouts" }, callouts));
  if (top.policies.length) {
    side.push(linkedSection(prefix + "-policies", "Policies", top.policies.map(function (p) {
      var details = null;
      if (p.exceptions || p.what_you_can_offer) {
        details = el("details", { className: "policy-details" }, [
          el("summary", { text: "Exceptions and what you can offer" }),
          p.exceptions ? el("h4", { text: "Exceptions" }) : null,
          p.exceptions ? el("div", withLang({ className: "prose" }, p.lang), [markdownBlock(p.exceptions)]) : null,
          p.what_you_can_offer ? el("h4", { text: "What you can offer" }) : null,
          p.what_you_can_offer ? el("div", withLang({ className: "prose" }, p.lang), [markdownBlock(p.what_you_can_offer)]) : null,
        ]);
      }
      return el("li", {}, [el("a", withLang({ href: p.url, text: p.title }, p.lang)), el("span", withLang({ text: p.summary }, p.lang)), details]);
    })));
  }
  if (top.related.length) {
    side.push(linkedSection(prefix + "-related", "Related", top.related.map(function (r) {
      return el("li", {}, [el("a", { href: r.url, dir: "auto", text: r.title })]);
    })));
  }
  side.push(feedbackBox(top.article.id, requestId, prefix + "-fb"));
  return el("div", { className: "suggestion-layout" }, [
    el("div", { className: "suggestion-main" }, main),
    el("div", { className: "suggestion-side" }, side),
  ]);
}

function renderTop(top, requestId) {
  return el("article", { className: "suggestion-top", "data-top-suggestion": true, "data-article-id": top.article.id }, [
    el("p", { className: "kicker" }, [
      el("span", { className: "kicker-label", text: "Top suggestion" }), " ", typeBadge(top.article.type), " ", confidenceBadge(top.confidence),
    ]),
    el("h2", { className: "suggestion-title" }, [el("a", withLang({ href: articleHref(top.article.url, "", requestId), text: top.article.title }, top.article.lang))]),
    el("p", withLang({ className: "lead", text: top.article.summary }, top.article.lang)),
    el("p", { className: "why" }, [el("span", { className: "why-label", text: "Why:" }), " " + top.why]),
    renderBody(top, requestId, "top"),
  ]);
}

// Not sure which: every candidate of the choice as a closed <details>, each with "Not this one".
function renderChoice(data) {
  var ids = data.ambiguity.articles;
  var candidates = data.suggestions.filter(function (s) { return ids.indexOf(s.article.id) >= 0; });
  var rest = data.suggestions.filter(function (s) { return ids.indexOf(s.article.id) < 0; });
  var why = data.ambiguity.reason === "fact_page_first"
    ? "The message may ask about the rule or about what to do. Open the one that fits, or mark the other "
    : "These match the message almost equally well. Open the one that fits, or mark the others ";
  var nodes = [
    el("div", { className: "notice notice-choice", "data-choice-notice": true }, [
      el("h2", { text: "Which of these fits?" }),
      el("p", {}, [why, el("em", { text: "Not this one" }), "."]),
    ]),
    el("ol", { className: "choice-list", "data-choice": true }, candidates.map(function (s, i) {
      var prefix = "choice-" + (i + 1);
      return el("li", { className: "choice", "data-choice-item": true, "data-article-id": s.article.id }, [
        el("details", { className: "choice-details" }, [
          el("summary", {}, [
            el("span", withLang({ className: "choice-title", text: s.article.title }, s.article.lang)),
            el("span", { className: "result-meta" }, [typeBadge(s.article.type), " ", confidenceBadge(s.confidence)]),
            el("span", withLang({ className: "choice-summary", text: s.article.summary }, s.article.lang)),
          ]),
          el("div", { className: "choice-body" }, [
            el("p", { className: "why" }, [el("span", { className: "why-label", text: "Why:" }), " " + s.why]),
            el("p", {}, [el("a", { href: articleHref(s.article.url, "", data.request_id), text: "Open the article" })]),
            renderBody(s, data.request_id, prefix),
          ]),
        ]),
        urls.feedback ? el("div", { className: "choice-actions", "data-not-this-one-box": true }, [
          el("button", {
            type: "button", className: "button button-small", "data-not-this-one": true, "data-article-id": s.article.id,
            "data-request-id": data.request_id, "aria-label": "Not this one: " + s.article.title, text: "Not this one",
          }),
          el("span", { className: "feedback-status", role: "status", tabindex: "-1" }),
        ]) : null,
      ]);
    })),
  ];
  if (rest.length) {
    nodes.push(el("h2", { className: "runner-ups-title", text: "Other possible matches" }));
    nodes.push(el("ol", { className: "runner-ups" }, rest.map(function (s) { return runnerUp(s, data.request_id); })));
  }
  return nodes;
}

function renderSuggestion(region, data) {
  var nodes;
  if (data.no_confident_match || !data.suggestions.length) {
    nodes = renderNoMatch(data);
  } else if (data.ambiguous) {
    nodes = renderChoice(data);
  } else {
    nodes = [renderTop(data.suggestions[0], data.request_id)];
    if (data.suggestions.length > 1) {
      nodes.push(el("h2", { className: "runner-ups-title", text: "Other possible matches" }));
      nodes.push(el("ol", { className: "runner-ups" }, data.suggestions.slice(1).map(function (s) { return runnerUp(s, data.request_id); })));
    }
  }
  var notice = languageNotice(data);
  if (notice) nodes.unshift(notice);
  region.replaceChildren.apply(region, nodes);
  enhance(region);
}

export function initSuggest(form) {
  var textarea = form.querySelector("textarea[name=text]");
  var button = form.querySelector("button[type=submit]");
  var status = form.querySelector("[data-suggest-status]");
  var region = document.querySelector("[data-suggestion]");
  var controller = null;

  textarea.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!textarea.value.trim()) {
      textarea.focus();
      return;
    }
    if (controller) controller.abort();
    controller = new AbortController();
    var signal = controller.signal;
    status.textContent = "Finding the best match\u2026";
    region.setAttribute("aria-busy", "true");
    button.disabled = true;
    fetch(urls.suggest, {
      method: "POST",
      signal: signal,
      headers: authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
      body: JSON.stringify({ text: textarea.value, limit: SUGGEST_LIMIT }),
    })
      .then(function (response) {
        return response.json().then(function (data) {
          if (response.status === 401) {
            // Not signed in (or the panel's session ended): sign in, then ask again by itself.
            refused(response.status);
            status.textContent = "";
            region.replaceChildren(signInPrompt());
            whenSignedIn(function () { form.requestSubmit(); });
            return;
          }
          if (!response.ok) {
            status.textContent = "";
            region.replaceChildren(el("p", { className: "notice notice-error", role: "alert", text: errorMessage(data, response.status) }));
            return;
          }
          renderSuggestion(region, data);
          notifyParent("kb:suggested", {
            request_id: data.request_id,
            no_confident_match: data.no_confident_match,
            ambiguous: Boolean(data.ambiguous),
            articles: data.suggestions.map(function (s) { return { id: s.article.id, title: s.article.title, url: new URL(s.article.url, location.href).href }; }),
          });
          status.textContent = data.no_confident_match ? "No confident match."
            : data.ambiguous ? "Not sure which: " + data.ambiguity.articles.length + " candidates below."
              : "Suggestion ready below.";
        });
      })
      .catch(function (error) {
        if (error.name === "AbortError") return;
        status.textContent = "";
        region.replaceChildren(el("p", { className: "notice notice-error", role: "alert", text: "kb is not reachable right now; try again." }));
      })
      .finally(function () {
        if (signal.aborted) return;
        button.disabled = false;
        region.removeAttribute("aria-busy");
      });
  });
}
