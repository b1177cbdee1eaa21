// consentguard's page: every string from the server is written with textContent, never as HTML.
"use strict";

const WORDS = {
  block: ["Do not post", "A student whose family refused media release is shown or named."],
  review: ["Check before posting", "Someone must look at this photo before it is posted."],
  error: ["Could not check", "This file could not be read completely, so it must not be posted."],
  pass: ["OK to post", "No restricted student was recognised."],
};
const SEVERITY = { pass: 0, review: 1, error: 2, block: 3 };
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const results = document.getElementById("results");
const summary = document.getElementById("summary");
const decisions = document.getElementById("decisions");
let verdicts = new Map();  // card -> its verdict in force (a card can change when later photos arrive)
let pending = 0;
// The photos of one drop are decided together: check id -> {card, file, revision}.
let batch = { id: null, cards: new Map(), pending: new Map(), revision: 0 };

function newBatchId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}


function closeness(distance) {
  if (distance === null || distance === undefined) return "";
  if (distance <= 0.5) return `very close match (distance ${distance.toFixed(2)})`;
  if (distance <= 0.63) return `possible match (distance ${distance.toFixed(2)})`;
  return `not a match (distance ${distance.toFixed(2)})`;
}

let captionVerdict = "pass";  // the caption's own verdict (showCaption)

function updateSummary() {
  if (!verdicts.size) return;
  const counts = {};
  const all = Array.from(verdicts.values());
  all.forEach((v) => { counts[v] = (counts[v] || 0) + 1; });
  const worst = [...all, captionVerdict].reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), "pass");
  const parts = ["block", "review", "error", "pass"].filter((v) => counts[v]).map((v) => `${counts[v]} ${WORDS[v][0].toLowerCase()}`);
  if (captionVerdict !== "pass") parts.push(`the caption: ${WORDS[captionVerdict][0].toLowerCase()}`);
  const advice = worst === "pass" ? "The post may go out." : worst === "review" ? "Some photos need a look before the post goes out." : "Do not post as it is.";
  const noun = videoCards.size ? "file" : "photo";  // a drop with videos: "3 files checked"
  summary.textContent = `${all.length} ${noun}${all.length === 1 ? "" : "s"} checked${pending ? `, ${pending} still checking` : ""}: ${parts.join(", ")}. ${advice}`;
  summary.className = `summary ${worst}`;
}

// A photo card shows what is wrong with the photo; the caption's verdict is shown once, on the caption.
function photoVerdict(doc) {
  return doc.photo_verdict || doc.verdict;
}

function renderResult(card, data) {
  const doc = data.result;
  const verdict = photoVerdict(doc);
  const [word, explain] = WORDS[verdict];
  card.className = `result ${verdict}`;
  card.replaceChildren();
  card.appendChild(el("h3", { class: "verdict", text: `${word} — ${doc.path}` }));
  card.appendChild(el("p", { text: verdict === "pass" && doc.caption_verdict && doc.caption_verdict !== "pass"
    ? "Nothing wrong with the photo itself; the caption is the problem (see the caption above)." : explain }));
  if (data.changed && data.changed.length) {
    const note = el("div", { class: "changed" }, el("p", { text: data.update
      ? "Changed after the other photos of this drop were checked:"
      : "Decided with the other photos of this drop:" }));
    const why = el("ul");
    data.changed.forEach((r) => why.appendChild(el("li", { text: r })));
    note.appendChild(why);
    card.appendChild(note);
  }
  if (data.preview) {
    card.appendChild(el("img", { src: data.preview, alt: `${doc.path} with ${doc.faces.length} face${doc.faces.length === 1 ? "" : "s"} outlined; red: blocked, orange: to review, green: OK`, class: "preview" }));
  }
  const list = el("ul", { class: "reasons" });
  const known = batch.cards.get(data.check_id);
  const pictures = data.closeups || (known && known.closeups) || [];
  // faces whose reason stands on its own, each beside its close-up; the rest (e.g. 283 faces too small)
  // are summarised in doc.reasons, their close-ups in one strip below
  const alone = [];
  doc.faces.forEach((f, i) => {
    if (f.verdict === "pass" || (f.reason && !doc.reasons.includes(f.reason))) return;
    alone.push(i);
    const item = el("li", { class: "face-reason" });
    if (pictures[i]) item.appendChild(el("img", { src: pictures[i], class: "closeup", alt: `close-up of face ${i + 1}` }));
    item.appendChild(el("span", { text: `${f.reason || "face to review"}${f.distance !== null && f.student_number ? ` — ${closeness(f.distance)}` : ""}` }));
    list.appendChild(item);
  });
  doc.names.filter((n) => n.source !== "caption").forEach((n) => list.appendChild(el("li", { text: nameLine(n) })));
  otherReasons(doc).forEach((r) => list.appendChild(el("li", { text: r })));
  if (list.children.length > 6) {  // a crowd photo: the first reasons, the rest behind "more"
    const rest = Array.from(list.children).slice(5);
    const more = el("ul", { class: "reasons" });
    rest.forEach((li) => more.appendChild(li));
    card.appendChild(list);
    card.appendChild(el("details", {}, el("summary", { text: `${rest.length} more reasons` }), more));
  } else if (list.children.length) card.appendChild(list);
  const others = doc.faces.map((f, i) => i).filter((i) => doc.faces[i].verdict !== "pass" && !alone.includes(i) && pictures[i]);
  if (others.length) {
    const strip = el("ul", { class: "closeups", "aria-label": "close-ups of the other faces in question" });
    others.slice(0, 24).forEach((i) => strip.appendChild(el("li", {}, el("img", { src: pictures[i], class: "closeup", alt: `close-up of face ${i + 1}: ${doc.faces[i].reason || "in question"}`, title: doc.faces[i].reason || "" }))));
    card.appendChild(strip);
    if (others.length > 24) card.appendChild(el("p", { class: "hint", text: `and ${others.length - 24} more faces in question` }));
  }
  const safe = el("p", { class: "safe-copy" });
  card.appendChild(safe);
  if (data.safe_copy && verdict !== "pass") showSafeCopy(safe, data.safe_copy, data.safe_copy_name);  // only if it hides something
  const checkId = data.audit_id || data.check_id;
  if (doc.verdict === "review") card.appendChild(overrideForm(checkId, known ? known.file : null, card));
  if (doc.verdict === "pass") card.appendChild(postedForm(checkId, known ? known.file : null));
}

// The caption's verdict on its own, once, above the photos, with the caption without restricted names.
function showCaption(bodies, caption) {
  const done = bodies.filter((b) => b && b.result);
  const box = document.getElementById("scrubbed");
  const worstCaption = done.map((b) => b.result.caption_verdict || "pass")
    .reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), "pass");
  const reasons = [...new Set(done.flatMap((b) => b.result.names.filter((n) => n.source === "caption").map(nameLine)))];
  const scrubbed = done.find((b) => b.result.scrubbed_caption !== null && b.result.scrubbed_caption !== caption);
  box.hidden = worstCaption === "pass" && !scrubbed;
  box.className = `caption-verdict ${worstCaption}`;
  document.getElementById("caption-words").textContent = worstCaption === "pass" ? "The caption is fine."
    : worstCaption === "block" ? "Do not post this caption: it names a student whose family refused media release."
      : "Check this caption before posting: it may name a restricted student.";
  document.getElementById("caption-reasons").replaceChildren(...reasons.map((r) => el("li", { text: r })));
  document.getElementById("scrubbed-text").value = scrubbed ? scrubbed.result.scrubbed_caption : "";
  document.getElementById("use-scrubbed").hidden = !scrubbed;
  captionVerdict = worstCaption;
}

// "Mark as posted": after a photo passed (or its review was released) and went out, staff say where
// and when, so a later consent change finds it (consentguard recheck). The photo is sent again; the
// server keeps it only when started with --keep-posted (and only if it is the photo checked).
function postedForm(checkId, file) {
  const ids = { channel: `posted-channel-${checkId}`, on: `posted-on-${checkId}`, where: `posted-where-${checkId}`, who: `posted-who-${checkId}` };
  const channel = el("select", { id: ids.channel, required: "required" });
  Array.from(document.getElementById("channel").options).forEach((o) => {
    channel.appendChild(el("option", { value: o.value, text: o.value ? o.text : "Choose…" }));
  });
  channel.value = document.getElementById("channel").value;
  const on = el("input", { id: ids.on, type: "date", required: "required" });
  on.value = new Date().toLocaleDateString("en-CA");  // today, YYYY-MM-DD, in this computer's time zone
  const where = el("input", { id: ids.where, type: "text", size: "40", placeholder: "link or place (optional)" });
  const who = nameInput(ids.who);
  const said = el("p", { role: "status", "aria-live": "polite" });
  const form = el("form", { class: "posted" },
    el("label", { for: ids.channel, text: "Posted it? Where: " }), channel,
    el("label", { for: ids.on, text: " on " }), on, el("label", { for: ids.where, text: " at " }), where, el("br"),
    el("label", { for: ids.who, text: "Your name: " }), who,
    el("button", { type: "submit", text: "Mark as posted" }), said);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!channel.value) { said.textContent = "Say where it was posted."; return; }
    if (who.value && !ACCOUNT) localStorage.setItem("consentguard-name", who.value);
    const body = new FormData();
    Object.entries({ check_id: String(checkId), channel: channel.value, on: on.value, where: where.value, user: who.value })
      .forEach(([k, v]) => body.append(k, v));
    if (file) body.append("photo", file, file.name);
    const response = await fetch("/api/posted", { method: "POST", body, headers: { "X-CSRF-Token": csrf } });
    const answer = await response.json();
    said.textContent = response.ok ? `Marked as posted (#${answer.posted_id}).` : `Not marked: ${answer.error}`;
  });
  const note = document.getElementById("posted-note");
  if (note) note.hidden = false;  // said once, above the results: whether re-checks can see the photos
  return form;
}

// A name found, and where: "Name found in file name: "Priya" (possible)".
function nameLine(n) {
  const where = n.source === "ocr" ? (n.view ? `text in ${n.view}` : "text in the photo") : n.source.startsWith("metadata:") ? `${n.source.startsWith("metadata:video ") ? "video" : "photo"} details (${n.source.slice(9)})` : n.source === "filename" ? "file name" : n.source;
  return `Name found in ${where}: "${n.text}" (${n.strength === "block" ? "certain" : "possible"})`;
}

// The reasons not said by a face or a name line already.
function otherReasons(doc, shown = []) {
  return doc.reasons.filter((r) => !doc.faces.some((f) => f.reason === r) && !shown.includes(r) && !r.includes(" names ") && !r.includes(" says the photo shows "));
}

function showSafeCopy(where, url, name) {
  where.replaceChildren(el("a", { href: url, download: name, class: "button", text: "Download safe copy (faces blurred, photo details removed)" }));
}

// A photo's result changed with the rest of its drop: its safe copy must hide other faces. The
// server keeps no photo, so the page sends it again (refused unless it is the photo checked).
async function freshSafeCopy(known, checkId) {
  const { card, file } = known;
  const where = card.querySelector(".safe-copy");
  const asked = (known.safeAsked = (known.safeAsked || 0) + 1);  // the latest request wins
  known.safeCopy = null;
  where.textContent = "Making a new safe copy…";
  const form = new FormData();
  form.append("photo", file, file.name);
  form.append("check_id", String(checkId));
  form.append("batch", batch.id);
  try {
    const response = await fetch("/api/safe-copy", { method: "POST", body: form, headers: { "X-CSRF-Token": csrf } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    if (asked !== known.safeAsked) return;
    known.safeCopy = body.safe_copy;
    const shown = card.querySelector(".safe-copy");  // the card may have been drawn again meanwhile
    if (shown && body.verdict !== "pass") showSafeCopy(shown, body.safe_copy, body.safe_copy_name);
  } catch (err) {
    if (asked === known.safeAsked) (card.querySelector(".safe-copy") || where).textContent = `No safe copy: ${err.message || err}`;
  }
}

// Earlier photos of the drop whose result changed now that this one was checked with them. Answers
// can arrive out of order (two photos are checked at once): each card keeps the newest revision.
function applyUpdates(body) {
  if (body.revision === undefined) return;
  (body.updates || []).forEach((update) => {
    const known = batch.cards.get(update.check_id);
    if (!known) {  // its own answer has not arrived yet: shown when it does
      const waiting = batch.pending.get(update.check_id);
      if (!waiting || waiting.revision < body.revision) batch.pending.set(update.check_id, { update, revision: body.revision });
    } else if (body.revision > known.revision) {
      showUpdate(known, update, body.revision);
    }
  });
  if (body.revision >= batch.revision) {
    batch.revision = body.revision;
    showDecisions(body.review_items || []);
  }
  updateSummary();
}

function showUpdate(known, update, revision) {
  known.revision = revision;
  // the safe copy already made still hides what this result names, unless the server says otherwise
  if (update.result.verdict === "pass") known.safeCopy = null;
  const safe = update.safe_copy_stale ? null : known.safeCopy;
  renderResult(known.card, { ...update, update: true, safe_copy: safe, safe_copy_name: safeName(known.file) });
  verdicts.set(known.card, photoVerdict(update.result));
  if (update.safe_copy_stale) freshSafeCopy(known, update.check_id);
}

function safeName(file) {
  return `${file.name.replace(/\.[^.]*$/, "")}.safe.jpg`;
}

// "Decisions to make": the drop's review items, above the photo cards.
function showDecisions(items) {
  const list = decisions.querySelector("ol");
  list.replaceChildren();
  items.forEach((item) => {
    const entry = el("li", { class: `item ${item.status || "open"}`, "data-item": item.id });
    entry.appendChild(el("p", { text: `${item.status === "decided" ? "Decided: " : ""}${item.summary}` }));
    const pictures = el("ul", { class: "closeups" });
    (item.closeups || []).forEach((url, i) => {
      if (!url) return;
      const face = item.faces[i] || {};
      pictures.appendChild(el("li", {}, el("figure", {}, el("img", { src: url, alt: `face ${i + 1} in ${face.photo || face.path || "a photo"}` }),
        el("figcaption", { text: face.photo || face.path || "" }))));
    });
    if (pictures.children.length) entry.appendChild(pictures);
    list.appendChild(entry);
  });
  decisions.hidden = !items.length;
}

// Signed in with an account (issue #16): decisions record it, and staff cannot release a review.
const ACCOUNT = document.body.dataset.account || "";
const ROLE = document.body.dataset.role || "";

function nameInput(id) {
  const who = el("input", { id, type: "text", required: "required", autocomplete: "name" });
  who.value = ACCOUNT || localStorage.getItem("consentguard-name") || "";
  if (ACCOUNT) who.readOnly = true;  // the server records the signed-in account anyway
  return who;
}

function overrideForm(checkId, file = null, card = null) {
  if (ROLE === "staff") {
    return el("p", { class: "override", text: "An approver must look at this photo and release it before it is posted (you are signed in as staff)." });
  }
  const id = `reason-${checkId}`;
  const reason = el("textarea", { id, rows: "2", cols: "60", required: "required", minlength: "10" });
  const who = nameInput(`who-${checkId}`);
  const status = el("p", { role: "status", "aria-live": "polite" });
  const form = el("form", { class: "override" },
    el("label", { for: id, text: "Post anyway? Explain why (recorded with your check):" }), el("br"), reason,
    el("br"), el("label", { for: `who-${checkId}`, text: "Your name: " }), who,
    el("br"), el("button", { type: "submit", text: "Record override" }), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/api/override", {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ check_id: checkId, reason: reason.value, user: who.value }),
    });
    if (who.value) localStorage.setItem("consentguard-name", who.value);
    const body = await response.json();
    status.textContent = response.ok ? `Override recorded (#${body.override_id}).` : `Not recorded: ${body.error}`;
    if (response.ok && card) {  // released: the card says so, by whom, when and why; it may go out
      const heading = card.querySelector("h3.verdict");
      if (heading) heading.textContent = heading.textContent.replace(WORDS.review[0], "Released");
      card.classList.add("released");
      const at = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      form.before(el("p", { class: "released-by", text: `Released by ${who.value} at ${at}: ${reason.value}` }));
      verdicts.set(card, "pass");
      updateSummary();
    }
    if (response.ok && !form.nextElementSibling) form.after(postedForm(checkId, file));  // released: it may go out
  });
  return form;
}

const MAX_PHOTOS = 100;
const IN_FLIGHT = 2;  // photos checked at once (the server has a worker per core)

async function checkOne(card, file, caption, channel, school, people = "") {
  const form = new FormData();
  form.append("photo", file, file.name);
  form.append("batch", batch.id);
  form.append("caption", caption);
  form.append("channel", channel);
  form.append("school", school);
  form.append("people", people);
  try {
    const response = await fetch("/api/check", { method: "POST", body: form, headers: { "X-CSRF-Token": csrf } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    card.dataset.check = String(body.check_id);
    const known = { card, file, revision: body.revision || 0, safeCopy: body.safe_copy, closeups: body.closeups };
    batch.cards.set(body.check_id, known);
    renderResult(card, body);
    keepResult(body);
    verdicts.set(card, photoVerdict(body.result));
    const waiting = batch.pending.get(body.check_id);
    if (waiting && waiting.revision > known.revision) showUpdate(known, waiting.update, waiting.revision);
    else if (body.safe_copy_stale) freshSafeCopy(known, body.check_id);
    batch.pending.delete(body.check_id);
    applyUpdates(body);
    return body;
  } catch (err) {
    card.className = "result error";
    card.replaceChildren(el("h3", { class: "verdict", text: `${WORDS.error[0]} — ${file.name}` }), el("p", { text: String(err.message || err) }));
    verdicts.set(card, "error");
    return null;
  } finally {
    pending -= 1;
    updateSummary();
  }
}

// The post's results survive a reload of the page (this tab only: sessionStorage; no preview, no
// close-up, no photo kept), and today's checks can be reopened from the server's audit trail.
const KEPT = "consentguard-post";

function keepResult(body) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEPT) || "null") || { fields: {}, results: [] };
    kept.results = kept.results.filter((r) => r.check_id !== body.check_id);
    kept.results.push({ check_id: body.check_id, audit_id: body.audit_id, result: body.result });
    sessionStorage.setItem(KEPT, JSON.stringify(kept));
  } catch (err) { /* storage full or off: the results stay on screen, just not after a reload */ }
}

function keepFields() {
  const fields = {};
  ["caption", "channel", "school", "people"].forEach((id) => { fields[id] = document.getElementById(id).value; });
  try { sessionStorage.setItem(KEPT, JSON.stringify({ fields, results: [] })); } catch (err) { /* see keepResult */ }
}

function reopen(entries, note) {
  results.replaceChildren();
  verdicts = new Map();
  entries.forEach((entry) => {
    const card = el("li", { class: "result" });
    results.appendChild(card);
    renderResult(card, entry);
    verdicts.set(card, photoVerdict(entry.result));
  });
  updateSummary();
  summary.textContent = `${note} ${summary.textContent}`;
}

function restoreKept() {
  const kept = JSON.parse(sessionStorage.getItem(KEPT) || "null");
  if (!kept || !kept.results.length) return;
  Object.entries(kept.fields || {}).forEach(([id, value]) => { document.getElementById(id).value = value; });
  reopen(kept.results, "Kept from before the page was reloaded (previews are not kept; choose the photos again to check them again):");
}

async function loadToday() {
  const response = await fetch("/api/today");
  if (!response.ok) return;
  const body = await response.json();
  const list = document.getElementById("today-list");
  list.replaceChildren(...body.checks.map((c) => {
    const when = new Date(c.checked_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const button = el("button", { type: "button", text: `${when} — ${c.file_name} — ${WORDS[photoVerdict(c.result)][0]}` });
    button.addEventListener("click", () => reopen([{ check_id: c.check_id, result: c.result }], `Reopened (checked at ${when}):`));
    return el("li", {}, button);
  }));
  document.getElementById("today").hidden = !body.checks.length;
}

async function checkAll(dropped) {
  if (!dropped.length) return;
  keepFields();
  results.replaceChildren();
  verdicts = new Map();
  batch = { id: newBatchId(), cards: new Map(), pending: new Map(), revision: 0 };
  showDecisions([]);
  forgetVideos();  // the clips of the previous drop are deleted on the server now
  pending = 0;
  const files = dropped.filter((file) => !isVideo(file));
  const clips = dropped.filter(isVideo);  // checked one by one in the background (video.js)
  if (clips.length) {
    pending += clips.length;
    checkVideos(clips, document.getElementById("caption").value, document.getElementById("channel").value,
      document.getElementById("school").value);
  }
  if (!files.length) return;
  if (files.length > MAX_PHOTOS) {
    summary.className = "summary error";
    summary.textContent = `${files.length} photos is too many at once: check at most ${MAX_PHOTOS} (use "consentguard scan" for a whole event folder).`;
    return;
  }
  const people = document.getElementById("people").value.trim();
  if (people && files.length > 1) {
    summary.className = "summary error";
    summary.textContent = "People shown is for one photo at a time: drop that photo alone, or clear the field.";
    return;
  }
  pending += files.length;
  summary.className = "summary";
  summary.textContent = `Checking ${files.length} photo${files.length === 1 ? "" : "s"}…`;
  const caption = document.getElementById("caption").value;
  const channel = document.getElementById("channel").value;
  const school = document.getElementById("school").value;
  const cards = files.map((file) => {
    const card = el("li", { class: "result checking" }, el("h3", { text: `Checking ${file.name}…` }), el("progress", { "aria-label": `checking ${file.name}` }));
    results.appendChild(card);
    return card;
  });
  const bodies = new Array(files.length);
  let next = 0;
  async function lane() {
    while (next < files.length) {
      const i = next++;
      bodies[i] = await checkOne(cards[i], files[i], caption, channel, school, people);
    }
  }
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, files.length) }, lane));
  showCaption(bodies, caption);
  updateSummary();
}

// Photos are checked once, when staff press "Check photos" (after typing the caption), not when chosen;
// pressing it again with nothing changed checks nothing again; a change marks the results as old.
const input = document.getElementById("photos");
const drop = document.getElementById("drop");
let chosen = [];
let lastChecked = null;

function signature() {
  return JSON.stringify([chosen.map((f) => [f.name, f.size, f.lastModified]),
    ...["caption", "channel", "school", "people"].map((id) => document.getElementById(id).value)]);
}

function choose(files) {
  chosen = files;
  summary.className = "summary";
  summary.textContent = `${files.length} file${files.length === 1 ? "" : "s"} chosen: add the caption, then press "Check photos".`;
}

function changedSinceCheck() {
  const stale = lastChecked !== null && signature() !== lastChecked;
  results.classList.toggle("stale", stale);
  document.getElementById("stale").hidden = !stale;
}

input.addEventListener("change", () => choose(Array.from(input.files)));
document.getElementById("post").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!chosen.length) {
    summary.className = "summary";
    summary.textContent = "Choose or drop the photos first.";
    return;
  }
  if (signature() === lastChecked) return;  // already checked exactly so: no second upload, no second audit row
  const captionOnly = onlyCaptionChanged() && batch.id && batch.cards.size && !videoCards.size;
  lastChecked = signature();
  changedSinceCheck();
  if (captionOnly) recaption();  // the photos are not sent again
  else checkAll(chosen);
});

function onlyCaptionChanged() {
  if (lastChecked === null) return false;
  const [files, caption, ...rest] = JSON.parse(lastChecked);
  const [nowFiles, nowCaption, ...nowRest] = JSON.parse(signature());
  return caption !== nowCaption && JSON.stringify([files, rest]) === JSON.stringify([nowFiles, nowRest]);
}

// Only the caption changed: the server decides the drop again with it from what it kept of the
// photos, and each photo's card and audit row get the new caption.
async function recaption() {
  const caption = document.getElementById("caption").value;
  summary.className = "summary";
  summary.textContent = "Checking the new caption with the same photos…";
  const response = await fetch("/api/caption", {
    method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ batch: batch.id, caption }),
  });
  const body = await response.json();
  if (!response.ok) {
    lastChecked = null;  // press "Check photos" again: everything is checked afresh
    summary.className = "summary error";
    summary.textContent = `The caption was not checked: ${body.error}. Press "Check photos" to check everything again.`;
    return;
  }
  keepFields();
  const bodies = [];
  body.results.forEach((r) => {
    const known = batch.cards.get(r.check_id);
    if (!known) return;
    known.revision = body.revision;
    // the faces are as they were: the same safe copy and close-ups
    renderResult(known.card, { ...r, safe_copy: known.safeCopy, safe_copy_name: safeName(known.file) });
    verdicts.set(known.card, photoVerdict(r.result));
    keepResult(r);
    bodies.push(r);
  });
  showDecisions(body.review_items || []);
  showCaption(bodies, caption);
  updateSummary();
}
["caption", "channel", "school", "people"].forEach((id) => document.getElementById(id).addEventListener("input", changedSinceCheck));
document.getElementById("use-scrubbed").addEventListener("click", () => {
  document.getElementById("caption").value = document.getElementById("scrubbed-text").value;
  changedSinceCheck();
});
["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  choose(Array.from(event.dataTransfer.files));
});

// "People shown": suggestions from the roster for the name being typed (after the last ";"), at most
// 20 from the server; choosing one keeps the names already typed before it.
const peopleInput = document.getElementById("people");
const peopleList = document.getElementById("people-list");
let peopleAsked = 0;
peopleInput.addEventListener("input", async () => {
  const parts = peopleInput.value.split(";");
  const typed = parts[parts.length - 1].trim();
  const before = parts.slice(0, -1).map((p) => p.trim()).filter(Boolean);
  const asked = ++peopleAsked;
  if (typed.length < 2) { peopleList.replaceChildren(); return; }
  const response = await fetch(`/api/people?q=${encodeURIComponent(typed)}`);
  if (!response.ok || asked !== peopleAsked) return;
  const body = await response.json();
  peopleList.replaceChildren(...body.people.map((p) => el("option", {
    value: [...before, `${p.name} (#${p.student_number})`].join("; "), text: `${p.name} #${p.student_number}` })));
});

// after every deferred script (video.js defines the video cards the summary counts)
document.addEventListener("DOMContentLoaded", () => { restoreKept(); loadToday(); });
