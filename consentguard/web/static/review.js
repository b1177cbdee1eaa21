// The review queue page: every string from the server is written with textContent, never as HTML.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const list = document.getElementById("items");
const status = document.getElementById("queue-status");
const showDecided = document.getElementById("show-decided");


async function post(url, body) {
  const response = await fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function studentText(s) {
  return `${s.name || "?"} #${s.student_number}${s.distance !== null && s.distance !== undefined ? ` (distance ${s.distance.toFixed(2)})` : ""}`;
}

function closeups(item) {
  const row = el("ul", { class: "closeups" });
  item.faces.forEach((face, i) => {
    const where = `${face.path || "photo"}${face.view ? ` (${face.view})` : ""}`;
    const caption = `face ${i + 1}: ${where}${face.distance !== null && face.distance !== undefined ? `, distance ${face.distance.toFixed(2)}` : ""}`;
    const picture = item.closeups && item.closeups[i];
    row.appendChild(el("li", {}, el("figure", {},
      picture ? el("img", { src: picture, alt: `close-up of face ${i + 1} in ${where}` }) : el("p", { text: "(no close-up kept)" }),
      el("figcaption", { text: caption }))));
  });
  return row;
}

function decideForm(item) {
  const id = item.id.replace(/[^A-Za-z0-9_-]/g, "_");
  const form = el("form", { class: "decide" });
  const choices = el("fieldset", {}, el("legend", { text: "Your decision" }));
  const options = item.kind === "photo"
    ? [["cleared", null, "I checked this photo by eye: it may be used"]]
    : item.students.flatMap((s) => [["not", s.student_number, `This is not ${s.name || "#" + s.student_number}`],
      ["is", s.student_number, `This is ${s.name || "#" + s.student_number}`]]);
  options.forEach(([decision, number, label], n) => {
    const radio = el("input", { type: "radio", name: `decision-${id}`, id: `d-${id}-${n}`, value: `${decision}:${number || ""}` });
    choices.appendChild(el("div", {}, radio, el("label", { for: `d-${id}-${n}`, text: ` ${label}` })));
  });
  const who = el("input", { id: `by-${id}`, type: "text", required: "required", autocomplete: "name" });
  const account = document.body.dataset.account || "";
  who.value = account || localStorage.getItem("consentguard-name") || "";
  if (account) who.readOnly = true;  // the server records the signed-in account anyway
  const note = el("textarea", { id: `note-${id}`, rows: "2", cols: "60" });
  const said = el("p", { role: "status", "aria-live": "polite" });
  form.append(choices, el("p", {}, el("label", { for: `by-${id}`, text: "Your name: " }), who),
    el("p", {}, el("label", { for: `note-${id}`, text: "Note (optional): " }), el("br"), note),
    el("p", {}, el("button", { type: "submit", text: "Record decision" })), said);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const picked = form.querySelector(`input[name="decision-${id}"]:checked`);
    if (!picked) { said.textContent = "Choose a decision first."; return; }
    const [decision, number] = picked.value.split(":");
    if (who.value) localStorage.setItem("consentguard-name", who.value);
    try {
      const answer = await post(`/api/review/${encodeURIComponent(item.id)}/decide`,
        { decision, student_number: number || null, by: who.value, note: note.value });
      status.textContent = `Decision recorded for "${item.summary}" (#${answer.decision_ids.join(", #")}).`;
      await load();
    } catch (err) {
      said.textContent = `Not recorded: ${err.message}`;
    }
  });
  return form;
}

function decisions(item) {
  const rows = el("ul", { class: "decisions" });
  item.decisions.forEach((d) => {
    const line = el("li", { text: `decision #${d.id}: ${d.decision} ${d.student_number || ""} by ${d.decided_by} at ${d.decided_at}${d.undone_at ? ` (undone by ${d.undone_by})` : ""} ` });
    if (!d.undone_at) {
      const button = el("button", { type: "button", text: `Undo #${d.id}` });
      button.addEventListener("click", async () => {
        const by = document.body.dataset.account || localStorage.getItem("consentguard-name") || window.prompt("Your name (admin):") || "";
        try {
          await post(`/api/review/decisions/${d.id}/undo`, { by });
          status.textContent = `Decision #${d.id} undone; its item is open again.`;
          await load();
        } catch (err) {
          status.textContent = `Not undone: ${err.message}`;
        }
      });
      line.appendChild(button);
    }
    rows.appendChild(line);
  });
  return rows;
}

function render(item) {
  const card = el("li", { class: `result item ${item.status === "open" ? "review" : "decided"}`, "data-item": item.id });
  card.appendChild(el("h2", { class: "verdict", text: item.summary }));
  if (item.students.length) card.appendChild(el("p", { text: `Students in question: ${item.students.map(studentText).join("; ")}` }));
  item.reasons.forEach((r) => card.appendChild(el("p", { text: r })));
  if (item.faces.length && item.kind !== "photo") card.appendChild(closeups(item));
  const photos = el("ul", { class: "photos" });
  item.photos.forEach((p) => photos.appendChild(el("li", { class: "path", text: p })));
  card.appendChild(el("details", {}, el("summary", { text: `${item.photos.length} photo${item.photos.length === 1 ? "" : "s"}` }), photos));
  if (item.status === "open") card.appendChild(decideForm(item));
  if (item.decisions.length) card.appendChild(decisions(item));
  return card;
}

async function load() {
  try {
    const response = await fetch(`/api/review${showDecided.checked ? "?all=1" : ""}`);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    const open = body.review_items.filter((i) => i.status === "open").length;
    list.replaceChildren(...body.review_items.map(render));
    document.getElementById("queue-status").dataset.open = String(open);
    if (!status.textContent || status.textContent === "Loading…") {
      status.textContent = open ? `${open} decision${open === 1 ? "" : "s"} to make.` : "Nothing to decide.";
    }
  } catch (err) {
    status.textContent = `Could not load the queue: ${err.message}`;
  }
}

showDecided.addEventListener("change", load);
load();
