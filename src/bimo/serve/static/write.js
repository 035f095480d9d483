// The writing page: one task streamed, or a long-form job followed through its events.
"use strict";

let TASKS = [];
let controller = null;
let jobSource = null;
let text = "";

function setStatus(msg, isError) {
  const el = $("#status");
  el.textContent = msg || "";
  el.classList.toggle("error", !!isError);
}

function renderTasks() {
  const sel = $("#task");
  const current = sel.value || "write";
  sel.innerHTML = "";
  for (const task of TASKS) {
    const opt = document.createElement("option");
    opt.value = task.name;
    opt.textContent = task.title[LANG] || task.name;
    sel.appendChild(opt);
  }
  const lf = document.createElement("option");
  lf.value = "longform";
  lf.textContent = t("longform");
  sel.appendChild(lf);
  sel.value = [...sel.options].some((o) => o.value === current) ? current : sel.options[0].value;
}

function setBusy(busy) {
  $("#go").disabled = busy;
  $("#stop").disabled = !busy;
}

function show(newText) {
  text = newText;
  $("#output").textContent = text;
}

async function writeOnce(task, input) {
  controller = new AbortController();
  show("");
  setStatus(t("writing"));
  let out = "";
  await postSSE("/api/write", { task, text: input, max_tokens: 1024 }, (ev) => {
    if (ev.delta) { out += ev.delta; show(out); }
    if (ev.error) throw new Error(ev.error);
    if (ev.done) setStatus(t("done"));
  }, controller.signal);
}

function planTitles(plan) {
  const items = (plan && (plan.sections || plan.outline || plan.chapters)) || [];
  return items.map((s, i) => (typeof s === "string" ? s : s.title || s.heading || s.summary || `#${i + 1}`));
}

function followJob(id) {
  location.hash = `job=${id}`;
  const sections = [];
  const list = $("#plan-list");
  show("");
  $("#plan").hidden = false;
  list.innerHTML = "";
  setBusy(true);
  setStatus(t("queued"));
  jobSource = new EventSource(`/api/jobs/${id}/events`);
  const on = (type, fn) => jobSource.addEventListener(type, (e) => fn(JSON.parse(e.data)));
  on("plan", (ev) => {
    list.innerHTML = "";
    for (const title of planTitles(ev.plan)) {
      const li = document.createElement("li");
      li.textContent = title;
      list.appendChild(li);
    }
  });
  on("section", (ev) => {
    sections[ev.index] = ev.text;
    show(sections.filter((s) => s).join("\n\n"));
    const li = list.children[ev.index];
    if (li) li.classList.add("done");
  });
  on("progress", (ev) => {
    $("#progress").max = ev.total || 1;
    $("#progress").value = ev.done || 0;
    setStatus(`${t("progress")}: ${ev.done}/${ev.total} · ${ev.length}${t("chars")} / ${ev.target}${t("chars")}`);
  });
  on("resumed", () => setStatus(t("resumed")));
  on("status", (ev) => {
    if (ev.status === "running") setStatus(t("writing"));
    // position 1 starts next: that many minus one jobs are ahead of this one
    if (ev.status === "queued") setStatus(`${t("queued")} ${t("position")} ${(ev.position || 1) - 1} ${t("ahead")}`.trim());
  });
  on("done", (ev) => { if (ev.text) show(ev.text); });
  on("end", async () => {
    jobSource.close();
    jobSource = null;
    setBusy(false);
    const job = await api(`/api/jobs/${id}`);
    if (job.status === "done") {
      show(job.text || text);
      $("#progress").value = $("#progress").max;
      setStatus(`${t("done")} · ${job.length}${t("chars")}`);
    } else {
      setStatus(`${t("failed")}: ${job.error || ""}`, true);
    }
  });
}

async function go() {
  const input = $("#input").value.trim();
  if (!input) return;
  const task = $("#task").value;
  const length = parseInt($("#length").value, 10);
  $("#plan").hidden = true;
  setBusy(true);
  try {
    if (task === "longform" || (length && task === "write")) {
      const job = await api("/api/jobs", { prompt: input, length: length || null });
      followJob(job.id);
      return;
    }
    await writeOnce(task, input);
  } catch (err) {
    if (err.name !== "AbortError") setStatus(`${t("failed")}: ${err.message}`, true);
  }
  controller = null;
  if (!jobSource) setBusy(false);
}

function stop() {
  // Aborting the fetch closes the connection; the server stops generating.
  if (controller) controller.abort();
  if (jobSource) { jobSource.close(); jobSource = null; }
  setBusy(false);
  setStatus("");
}

async function copy() {
  await navigator.clipboard.writeText(text).catch(() => {});
  setStatus(t("copied"));
}

function download() {
  const blob = new Blob([text], { type: "text/markdown;charset=utf-8" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "bimo.md";
  a.click();
  URL.revokeObjectURL(a.href);
}

document.addEventListener("DOMContentLoaded", async () => {
  $("#go").addEventListener("click", go);
  $("#stop").addEventListener("click", stop);
  $("#copy").addEventListener("click", copy);
  $("#download").addEventListener("click", download);
  document.addEventListener("bimo:lang", renderTasks);
  try {
    const [tasks, info] = await Promise.all([api("/api/tasks"), api("/api/info")]);
    TASKS = tasks.tasks;
    $("#model").textContent = info.model;
    renderTasks();
  } catch (err) {
    setStatus(err.message, true);
  }
  const m = location.hash.match(/job=([0-9a-f]{16})/);
  if (m) followJob(m[1]);
});
