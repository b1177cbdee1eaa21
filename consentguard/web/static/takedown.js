// The admin's takedown list: every string from the server is written with textContent, never as HTML.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const list = document.getElementById("findings");
const status = document.getElementById("takedown-status");
const showDone = document.getElementById("show-done");

function postedLine(p) {
  return `Posted on ${p.channel || "?"}${p.on ? ` on ${p.on}` : ""}${p.where ? ` at ${p.where}` : ""}${p.by ? ` (marked by ${p.by})` : ""}`;
}

function takenDownForm(finding) {
  const id = finding.check_id;
  const note = el("input", { id: `note-${id}`, type: "text", size: "50", required: "required", minlength: "5",
    placeholder: "e.g. removed from the website gallery; copy kept in the records folder" });
  const who = el("input", { id: `who-${id}`, type: "text", required: "required", autocomplete: "name" });
  const account = document.body.dataset.account || "";
  who.value = account || localStorage.getItem("consentguard-name") || "";
  if (account) who.readOnly = true;  // the server records the signed-in account anyway
  const said = el("p", { role: "status", "aria-live": "polite" });
  const form = el("form", { class: "override" },
    el("label", { for: `note-${id}`, text: "What was taken down, and where: " }), note, el("br"),
    el("label", { for: `who-${id}`, text: "Your name: " }), who, el("br"),
    el("button", { type: "submit", text: "Taken down" }), said);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (who.value) localStorage.setItem("consentguard-name", who.value);
    const response = await fetch(`/api/takedown/${id}`, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ note: note.value, user: who.value }),
    });
    const body = await response.json();
    if (!response.ok) { said.textContent = `Not recorded: ${body.error}`; return; }
    said.textContent = `Recorded as taken down (#${body.taken_down_id}).`;
    load();
  });
  return form;
}

function render(finding) {
  const done = finding.taken_down;
  const card = el("li", { class: `result ${done ? "pass" : finding.verdict}`, "data-check": String(finding.check_id) });
  card.appendChild(el("h3", { class: "verdict", text: `${done ? "Taken down" : finding.status === "affected" ? "Take down" : "Look at it"} — ${finding.file_name}` }));
  if (finding.students.length) card.appendChild(el("p", { text: `Now restricted: ${finding.students.join(", ")}` }));
  const posts = el("ul");
  (finding.posted.length ? finding.posted.map(postedLine) : ["Not marked as posted (it was let out by a check)"])
    .forEach((line) => posts.appendChild(el("li", { text: line })));
  card.appendChild(posts);
  const why = el("ul", { class: "reasons" });
  finding.reasons.forEach((r) => why.appendChild(el("li", { text: r })));
  card.appendChild(why);
  card.appendChild(el("p", { class: "hint", text: `Found by the re-check of ${finding.found_at.slice(0, 16).replace("T", " ")} UTC (earlier check #${finding.check_id}).` }));
  if (done) card.appendChild(el("p", { text: `Taken down by ${done.by} at ${done.at.slice(0, 16).replace("T", " ")} UTC: ${done.note}` }));
  else card.appendChild(takenDownForm(finding));
  return card;
}

async function load() {
  try {
    const response = await fetch("/api/takedown");
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    const shown = body.findings.filter((f) => showDone.checked || !f.taken_down);
    list.replaceChildren(...shown.map(render));
    const done = body.findings.length - body.open;
    status.textContent = body.open
      ? `${body.open} post${body.open === 1 ? "" : "s"} to take down or look at${done ? ` (${done} taken down already)` : ""}.`
      : `Nothing to take down${done ? ` (${done} taken down already)` : ""}.`;
  } catch (err) {
    status.textContent = `Could not load the takedown list: ${err.message || err}`;
  }
}

showDone.addEventListener("change", load);
load();
