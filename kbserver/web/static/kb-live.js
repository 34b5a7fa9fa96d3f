// kb serve --watch: follow the author's saves. Polls the live-reload channel; reloads the page
// when a new build is live, and shows the lint findings of a save that did not publish.
const POLL_MS = 250;
const body = document.body;
const url = body.dataset.liveUrl;
const renderedFrom = body.dataset.liveBuild;
const isGet = body.dataset.liveMethod === "GET";

function banner() {
  let box = document.getElementById("live-banner");
  if (!box) {
    box = document.createElement("div");
    box.id = "live-banner";
    box.className = "live-banner";
    box.setAttribute("role", "status");
    body.prepend(box);
  }
  return box;
}

function show(problems, changed) {
  const box = banner();
  box.replaceChildren();
  if (problems.length) {
    const head = document.createElement("p");
    head.textContent = "Not published: the last save does not lint. Still showing the last good build.";
    const list = document.createElement("pre");
    list.textContent = problems.join("\n");  // text, never HTML: findings quote the author's words
    box.append(head, list);
  } else if (changed) {
    const head = document.createElement("p");
    head.textContent = "A new build is live: reload to see it.";
    box.append(head);
  }
  box.hidden = !box.childElementCount;
}

async function poll() {
  try {
    const answer = await fetch(url, { cache: "no-store" });
    if (answer.ok) {
      const live = await answer.json();
      const changed = Boolean(live.build) && live.build !== renderedFrom;
      if (changed && isGet) {
        window.location.reload();
        return;
      }
      show(live.problems, changed);
    }
  } catch (error) {
    // The server is restarting or gone; try again on the next tick.
  }
  window.setTimeout(poll, POLL_MS);
}

if (url) window.setTimeout(poll, POLL_MS);
