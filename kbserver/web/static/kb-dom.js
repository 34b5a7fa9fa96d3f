/* kb: page settings and the small DOM helpers every part of kb.js shares.
 *
 * Markup is never built from strings: text goes in with textContent, and snippets keep
 * only <mark> (see snippetNode), so nothing a customer typed can become a tag.
 */

const body = document.body;
export const urls = {
  search: body.dataset.searchUrl,
  suggest: body.dataset.suggestUrl,
  feedback: body.dataset.feedbackUrl || "",
  home: body.dataset.homeUrl || "/",
  searchPage: body.dataset.searchPageUrl || "/search",
  suggestPage: body.dataset.suggestPageUrl || "/suggest",
};
// [outcome, label] pairs, from the server's FEEDBACK_OUTCOMES.
export const FEEDBACK_OUTCOMES = JSON.parse(body.dataset.feedbackOutcomes || "[]");
// Right-to-left languages and article-language names, the server's own (kbserver/web/languages.py).
const LANGUAGES = JSON.parse(body.dataset.languages || '{"rtl": [], "names": {}}');
export const DEBOUNCE_MS = 150;
export const SEARCH_LIMIT = 20;
export const SUGGEST_LIMIT = 3;
export const SECTION_NAMES = {
  exceptions: "Exceptions",
  what_you_can_offer: "What you can offer",
  escalation: "Escalation",
  follow_up: "Follow-up",
};

export function el(tag, props, children) {
  var node = document.createElement(tag);
  Object.keys(props || {}).forEach(function (key) {
    var value = props[key];
    if (value === null || value === undefined || value === false) return;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  });
  (children || []).forEach(function (child) {
    if (child === null || child === undefined) return;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  });
  return node;
}

// Markdown reduced to text, as the server's `plain` filter does.
export function plainText(markdown) {
  return String(markdown || "")
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?/gm, "")
    .replace(/[*_`]{1,3}/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

// A Markdown section (bullets or paragraphs) as DOM, text only.
export function markdownBlock(markdown) {
  var lines = String(markdown || "").split("\n");
  var bullet = /^\s{0,1}(?:[-*+]|\d+[.)])\s+/;
  var isList = lines.some(function (line) { return bullet.test(line); });
  if (!isList) return el("p", { text: plainText(markdown) });
  var list = el("ul");
  var item = null;
  lines.forEach(function (line) {
    if (!line.trim()) return;
    if (bullet.test(line) || item === null) {
      item = el("li", { text: plainText(line) });
      list.appendChild(item);
    } else {
      item.textContent += " " + plainText(line);
    }
  });
  return list;
}

// The snippet HTML from the API, keeping only <mark> highlights; everything else is text.
export function snippetNode(html, attrs) {
  var parsed = new DOMParser().parseFromString("<p>" + (html || "") + "</p>", "text/html");
  var out = el("p", Object.assign({ className: "snippet" }, attrs));
  parsed.body.firstChild.childNodes.forEach(function (node) {
    if (node.nodeType === Node.ELEMENT_NODE && node.tagName === "MARK") {
      out.appendChild(el("mark", { text: node.textContent }));
    } else {
      out.appendChild(document.createTextNode(node.textContent));
    }
  });
  return out;
}

export function articleHref(url, q, requestId) {
  var params = new URLSearchParams();
  if (q) params.set("q", q);
  if (requestId) params.set("rid", requestId);
  var query = params.toString();
  return query ? url + "?" + query : url;
}

export function typeBadge(type) {
  return el("span", { className: "badge badge-" + type, text: type });
}

export function confidenceBadge(confidence) {
  return el("span", { className: "badge badge-confidence-" + confidence, text: confidence + " confidence" });
}

function primarySubtag(lang) {
  return String(lang || "en").split("-")[0].toLowerCase();
}

// `{lang, dir}` for a piece of article text in `lang`, to merge into el()'s props: an article's
// language is declared, so its direction is too (rtl for Persian, Arabic, Hebrew, Urdu...).
export function textAttrs(lang) {
  return { lang: lang || "en", dir: LANGUAGES.rtl.indexOf(primarySubtag(lang)) >= 0 ? "rtl" : "ltr" };
}

function langName(lang) {
  var code = primarySubtag(lang);
  return LANGUAGES.names[code] || code;
}

function messageLabel(language) {
  var name = language.name;
  var script = language.script;
  if (name && name !== "Undetermined" && name !== language.code) return script ? name + " (" + script + " script)" : name;
  return script ? "the " + script + " script" : "a language kb cannot tell";
}

// The line above a suggest answer about languages, as languages.language_notice words it:
// the message's language is not covered by any encoder, or differs from the article's.
export function languageNotice(data) {
  var language = data.language;
  var text = null;
  var kind = null;
  if (language && language.covered === false) {
    kind = "uncovered";
    text = "This message is in " + messageLabel(language) + ", which kb's encoders do not cover: the articles below are keyword matches only.";
  } else if (language && primarySubtag(language.code || "und") !== "und" && data.suggestions.length) {
    var article = data.suggestions[0].article;
    if (primarySubtag(article.lang) !== primarySubtag(language.code)) {
      kind = "differs";
      var what = data.no_confident_match ? "closest articles" : article.type || "article";
      text = "Message in " + (language.name || language.code) + " \u00b7 " + what + " in " + langName(article.lang);
    }
  }
  if (!text) return null;
  return el("p", { className: "lang-notice lang-notice-" + kind, "data-lang-notice": kind, text: text });
}

// Props plus the text attributes of `lang`.
export function withLang(props, lang) {
  return Object.assign({}, props, textAttrs(lang));
}

export function isEditable(target) {
  return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

export function errorMessage(data, status) {
  return data && data.error && data.error.message ? data.error.message : "kb answered with an error (" + status + ").";
}
