// The minisora page: submit a job, follow its progress (server-sent events read with fetch, so the
// API key can travel in a header), play and download the result, browse past jobs, verify a file.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { modes: {}, next: null, objectUrls: [] };

function apiKey() { return localStorage.getItem("minisora-key") || ""; }

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (apiKey()) headers.set("Authorization", "Bearer " + apiKey());
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) { $("key-form").hidden = false; }
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).detail || message; } catch (_) { /* not JSON */ }
    if (typeof message !== "string") message = JSON.stringify(message);
    throw new Error(message);
  }
  return response;
}

function notice(text) { $("notice").textContent = text; $("notice").hidden = !text; }

// -- tabs -------------------------------------------------------------------------------------
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".tab")) other.classList.toggle("active", other === tab);
    for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.id !== tab.dataset.tab;
    if (tab.dataset.tab === "gallery") loadGallery(true);
  });
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem("minisora-key", $("key").value.trim());
  $("key-form").hidden = true;
  loadModes();
});

// -- modes and their uploads ------------------------------------------------------------------
async function loadModes() {
  try {
    const info = await (await api("/v1/modes")).json();
    state.modes = info.modes;
    $("mode").replaceChildren(...Object.keys(info.modes).map((mode) => new Option(mode, mode)));
    showUploads();
    notice("");
  } catch (error) { notice("Could not load the modes: " + error.message); }
}

function showUploads() {
  const mode = $("mode").value;
  const uploads = (state.modes[mode] || {}).uploads || {};
  $("uploads").replaceChildren(...Object.entries(uploads).map(([slot, kind]) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    Object.assign(input, { type: "file", name: slot, id: "upload-" + slot, required: true,
                           accept: kind === "image" ? "image/png,image/jpeg,image/webp" : "video/*" });
    label.append(`${slot.replace("_", " ")} (${kind}) `, input);
    return label;
  }));
  $("direction-field").hidden = mode !== "extend";
}
$("mode").addEventListener("change", showUploads);

// -- submitting and following a job -----------------------------------------------------------
$("job-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData();
  const mode = $("mode").value;
  form.set("mode", mode);
  form.set("prompt", $("prompt").value);
  for (const name of ["width", "height", "seconds", "fps", "seed"]) {
    if ($(name).value !== "") form.set(name, $(name).value);
  }
  if (mode === "extend") form.set("direction", $("direction").value);
  for (const input of $("uploads").querySelectorAll("input[type=file]")) {
    if (input.files[0]) form.set(input.name, input.files[0]);
  }
  $("submit").disabled = true;
  try {
    const job = await (await api("/v1/jobs", { method: "POST", body: form })).json();
    notice("");
    await follow(job);
  } catch (error) {
    notice(error.message);
  } finally {
    $("submit").disabled = false;
  }
});

function showJob(job) {
  $("job").hidden = false;
  $("job").dataset.jobId = job.id;
  $("job-status").textContent = job.status;
  $("job-stage").textContent = job.stage && job.stage !== job.status ? "· " + job.stage : "";
  $("progress").value = job.progress;
  $("job-error").hidden = !job.error;
  $("job-error").textContent = job.error || "";
  $("refined").hidden = !job.refined_prompt;
  $("refined").textContent = job.refined_prompt ? "Rendered as: " + job.refined_prompt : "";
}

async function follow(job) {
  $("player").removeAttribute("src");
  $("download").hidden = true;
  showJob(job);
  const response = await api(`/v1/jobs/${job.id}/events`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let last = job;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = message.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) { last = JSON.parse(data); showJob(last); }
    }
  }
  if (last.status === "done") await showVideo(last);
}

async function videoUrl(job) {
  const blob = await (await api(`/v1/jobs/${job.id}/video`)).blob();
  const url = URL.createObjectURL(blob);
  state.objectUrls.push(url);
  return url;
}

async function showVideo(job) {
  const url = await videoUrl(job);
  $("player").src = url;
  $("download").href = url;
  $("download").download = `minisora-${job.id.slice(4, 12)}-seed${job.params.seed}.mp4`;
  $("download").hidden = false;
}

// -- gallery ----------------------------------------------------------------------------------
async function loadGallery(fresh) {
  if (fresh) { state.next = null; $("gallery-list").replaceChildren(); }
  const query = state.next === null ? "" : `&before=${state.next}`;
  try {
    const page = await (await api(`/v1/jobs?limit=24${query}`)).json();
    $("gallery-list").append(...page.jobs.map(galleryItem));
    state.next = page.next;
    $("more").hidden = page.next === null;
  } catch (error) { notice("Could not load the gallery: " + error.message); }
}

function galleryItem(job) {
  const item = document.createElement("li");
  item.dataset.jobId = job.id;
  const prompt = document.createElement("div");
  prompt.className = "prompt";
  prompt.textContent = job.prompt || "(no prompt)";
  const meta = document.createElement("div");
  meta.className = "meta";
  const p = job.params;
  meta.textContent = `${job.mode} · seed ${p.seed} · ${p.width}×${p.height} · ${p.seconds} s · ${job.status}`;
  item.append(prompt, meta);
  if (job.status === "done") {
    const play = document.createElement("button");
    play.textContent = "Play";
    play.addEventListener("click", async () => {
      const video = document.createElement("video");
      Object.assign(video, { controls: true, src: await videoUrl(job) });
      play.replaceWith(video);
      video.play().catch(() => {});
    });
    item.append(play);
  } else if (job.error) {
    const error = document.createElement("div");
    error.className = "error";
    error.textContent = job.error;
    item.append(error);
  }
  return item;
}
$("refresh").addEventListener("click", () => loadGallery(true));
$("more").addEventListener("click", () => loadGallery(false));

// -- verify -----------------------------------------------------------------------------------
$("verify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData();
  form.set("file", $("verify-file").files[0]);
  $("verdict").textContent = "checking…";
  try {
    const verdict = await (await api("/v1/verify", { method: "POST", body: form })).json();
    $("verdict").textContent = `${verdict.status}: ${verdict.verdict}\n\n${JSON.stringify(verdict, null, 2)}`;
  } catch (error) {
    $("verdict").textContent = "Error: " + error.message;
  }
});

loadModes();
