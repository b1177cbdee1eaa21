// Videos on the checker page (issue #14): upload a clip, show the check's progress, then the verdict
// with a timeline of the moments that caused it (a thumbnail each) and the parts not checked.
// Every string from the server is written with textContent, never as HTML. Uses app.js and dom.js.
"use strict";

const VIDEO_NAME = /\.(mp4|mov|m4v|webm|avi)$/i;
const VIDEO_WORDS = {
  block: "A student whose family refused media release is seen or named in this clip.",
  review: "Someone must watch the moments below before this clip is posted.",
  error: "This clip could not be read completely, so it must not be posted.",
  pass: "No restricted student was recognised in the frames checked.",
};
const POLL_MS = 500;
let videoCards = new Set();  // this drop's video cards (the summary then counts "files")
let videoJobs = new Set();   // this drop's jobs on the server, deleted when the page is done with them
let videoDrop = 0;           // which drop the pollers belong to: a new drop stops the old ones

function isVideo(file) {
  return VIDEO_NAME.test(file.name);
}

function clockText(seconds) {
  if (seconds === null || seconds === undefined) return "?";
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

// The server deletes a clip as soon as it is checked; its result and thumbnails are dropped when
// the page no longer shows them (a new drop, the tab closed).
function forgetVideos() {
  videoDrop += 1;
  videoJobs.forEach((id) => {
    fetch(`/api/video/${id}/delete`, { method: "POST", headers: { "X-CSRF-Token": csrf }, keepalive: true }).catch(() => {});
  });
  videoJobs = new Set();
  videoCards = new Set();
}
window.addEventListener("pagehide", forgetVideos);

// Clips are checked one after the other (each holds a worker for a while; photos keep the others).
async function checkVideos(clips, caption, channel, school) {
  const drop = videoDrop;
  const cards = clips.map((file) => {
    const card = el("li", { class: "result checking video" }, el("h3", { text: `Checking ${file.name}…` }),
      el("progress", { "aria-label": `checking ${file.name}` }), el("p", { class: "video-status", text: "Waiting to upload…" }));
    results.appendChild(card);
    videoCards.add(card);
    return card;
  });
  for (let i = 0; i < clips.length && drop === videoDrop; i++) {
    await checkVideo(cards[i], clips[i], caption, channel, school, drop);
  }
}

async function checkVideo(card, file, caption, channel, school, drop) {
  const bar = card.querySelector("progress");
  const status = card.querySelector(".video-status");
  try {
    const maxMb = Number(document.getElementById("post").dataset.videoMaxMb);
    if (file.size > maxMb * 1024 * 1024) {
      throw new Error(`video too large: at most ${maxMb} MB per video (the setting video_max_upload_mb); check a longer clip with 'consentguard check'`);
    }
    const form = new FormData();
    form.append("caption", caption);
    form.append("channel", channel);
    form.append("school", school);
    form.append("video", file, file.name);
    let job = await uploadVideo(form, (sent, total) => {
      bar.max = total;
      bar.value = sent;
      status.textContent = `Uploading ${file.name}: ${Math.round((100 * sent) / total)}%`;
    });
    videoJobs.add(job.id);
    while (job.state === "checking") {
      if (drop !== videoDrop) return;
      showVideoProgress(card, job);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      job = await getJob(job.id);
    }
    if (drop !== videoDrop) return;
    if (job.state !== "done") throw new Error(job.error || `${file.name}: not checked`);
    renderVideo(card, job);
    verdicts.set(card, job.result.verdict);
  } catch (err) {
    if (drop !== videoDrop) return;
    card.className = "result error video";
    card.replaceChildren(el("h3", { class: "verdict", text: `${WORDS.error[0]} — ${file.name}` }), el("p", { text: String(err.message || err) }));
    verdicts.set(card, "error");
  } finally {
    if (drop === videoDrop) {
      pending -= 1;
      updateSummary();
    }
  }
}

// XMLHttpRequest, not fetch: it tells how much of a large clip has been sent.
function uploadVideo(form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/video");
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => { if (event.lengthComputable) onProgress(event.loaded, event.total); });
    xhr.addEventListener("load", () => {
      const body = xhr.response || {};
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new Error(body.error || `${xhr.status} ${xhr.statusText}`));
    });
    xhr.addEventListener("error", () => reject(new Error("the upload failed (is the server still running?)")));
    xhr.send(form);
  });
}

async function getJob(id) {
  const response = await fetch(`/api/video/${id}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function showVideoProgress(card, job) {
  const bar = card.querySelector("progress");
  const status = card.querySelector(".video-status");
  if (job.seconds === null || job.seconds === undefined) {
    bar.removeAttribute("value");  // indeterminate: waiting for a worker, or opening the clip
    status.textContent = `Uploaded; waiting for a free checker for ${job.name}…`;
    return;
  }
  bar.max = job.duration || Math.max(job.seconds, 1);
  bar.value = job.seconds;
  status.textContent = job.duration
    ? `Checking ${job.name}: ${clockText(job.seconds)} of ${clockText(job.duration)} (${Math.min(100, Math.round((100 * job.seconds) / job.duration))}%)`
    : `Checking ${job.name}: ${clockText(job.seconds)} checked`;
}

function renderVideo(card, job) {
  const doc = job.result;
  card.className = `result ${doc.verdict} video`;
  card.dataset.check = String(job.check_id);
  card.replaceChildren(el("h3", { class: "verdict", text: `${WORDS[doc.verdict][0]} — ${doc.path}` }),
    el("p", { text: VIDEO_WORDS[doc.verdict] }));
  if (job.unchecked.length) {  // shown first: these parts make it a review whatever else was found
    const parts = el("ul");
    job.unchecked.forEach((part) => parts.appendChild(el("li", { text: part })));
    card.appendChild(el("div", { class: "unchecked", role: "note" },
      el("p", {}, el("strong", { text: "Not checked: watch these parts yourself before posting" })), parts));
  }
  const moments = doc.faces.map((face, i) => ({ face, thumb: job.thumbnails[i] }))
    .filter((m) => m.face.verdict !== "pass")
    .sort((a, b) => (a.face.start || 0) - (b.face.start || 0));
  const duration = (doc.video && doc.video.duration) || Math.max(1, ...doc.faces.map((f) => f.end || 0));
  if (doc.video) card.appendChild(timeline(moments, duration, doc.video.sample_seconds || 0.25));
  if (moments.length) {
    const list = el("ol", { class: "moments", "aria-label": "moments that caused the verdict, in time order" });
    moments.forEach((m) => list.appendChild(moment(m.face, m.thumb)));
    card.appendChild(list);
  }
  const list = el("ul", { class: "reasons" });
  // a name read in the frames may say when it was on screen (OCR on frames): then the line starts with it
  doc.names.forEach((n) => list.appendChild(el("li", { text: `${typeof n.start === "number" ? `${span(n)} ` : ""}${nameLine(n)}` })));
  otherReasons(doc, job.unchecked).forEach((r) => list.appendChild(el("li", { text: r })));
  const fine = doc.faces.length - moments.length;
  if (fine) list.appendChild(el("li", { text: `${fine} other ${fine === 1 ? "person" : "people"} seen: no restricted student recognised` }));
  if (list.children.length) card.appendChild(list);
  if (doc.video) {
    card.appendChild(el("p", { class: "hint", text: `Checked a frame every ${doc.video.sample_seconds} s: ${doc.video.frames_sampled} of ${doc.video.frames_decoded} frames, ${clockText(doc.video.duration)} long.` }));
  }
  if (job.safe_copies && doc.verdict !== "pass" && doc.verdict !== "error") card.appendChild(safeCopyPart(job));
  if (doc.verdict === "review") card.appendChild(overrideForm(job.audit_id || job.check_id));
  if (doc.verdict === "pass") card.appendChild(postedForm(job.audit_id || job.check_id, null));  // the clip is not sent again
}

// A bar the length of the clip with a mark where each moment is (colour and a title: not colour alone).
function timeline(moments, duration, step) {
  const bar = el("div", { class: "timeline", role: "img",
    "aria-label": `the clip, ${clockText(duration)} long: ${moments.length ? moments.map((m) => span(m.face)).join(", ") : "no moment marked"}` });
  moments.forEach(({ face }) => {
    const mark = el("span", { class: `mark ${face.verdict}`, title: `${span(face)}: ${face.verdict}` });
    mark.style.left = `${Math.min(99, (100 * (face.start || 0)) / duration)}%`;  // CSSOM: allowed by the CSP
    mark.style.width = `${Math.max(1, (100 * ((face.end || 0) - (face.start || 0) + step)) / duration)}%`;
    bar.appendChild(mark);
  });
  return el("div", { class: "timeline-wrap" }, bar,
    el("p", { class: "timeline-axis" }, el("span", { text: "0:00" }), el("span", { text: clockText(duration) })));
}

function span(face) {
  const end = Math.ceil(face.end || 0);
  return face.end === face.start ? clockText(face.start) : `${clockText(face.start)}-${clockText(end)}`;
}

// "0:04-0:06 face matches photo-restricted …" with the frame it was seen best in.
function moment(face, thumb) {
  const item = el("li", { class: `moment ${face.verdict}` });
  if (thumb) item.appendChild(el("img", { src: thumb, class: "thumb", alt: `the frame at ${clockText(face.time)} with the face outlined` }));
  const text = (face.reason || `${span(face)} face to review`).replace(/ at \[\d+, \d+, \d+, \d+\]/, "");
  item.appendChild(el("p", { text: `${text}${face.distance !== null && face.student_number ? ` — ${closeness(face.distance)}` : ""}` }));
  return item;
}

// The safe copy: made in the background on the server (faces that did not pass blurred in every
// frame, details removed, sound kept), then a download link to the file.
function safeCopyPart(job) {
  const part = el("div", { class: "safe-copy" });
  const button = el("button", { type: "button", text: "Make a safe copy (faces blurred, details removed)" });
  const status = el("p", { role: "status", "aria-live": "polite" });
  part.append(button, status);
  button.addEventListener("click", async () => {
    button.disabled = true;
    const drop = videoDrop;
    try {
      const response = await fetch(`/api/video/${job.id}/safe-copy`, { method: "POST", headers: { "X-CSRF-Token": csrf } });
      let body = await response.json();
      if (!response.ok) throw new Error(body.error || response.statusText);
      while (body.safe_copy === "making" && drop === videoDrop) {
        status.textContent = body.safe_seconds !== null && body.safe_seconds !== undefined
          ? `Making the safe copy: ${clockText(body.safe_seconds)} of ${clockText(body.duration)}…` : "Making the safe copy…";
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        body = await getJob(job.id);
      }
      if (body.safe_copy !== "ready") throw new Error(body.safe_copy_error || "no safe copy");
      status.replaceChildren(el("a", { href: body.safe_copy_url, download: body.safe_copy_name, class: "button", text: `Download safe copy (${body.safe_copy_name})` }));
      button.hidden = true;
    } catch (err) {
      status.textContent = `No safe copy: ${err.message || err}`;
      button.disabled = false;
    }
  });
  return part;
}
