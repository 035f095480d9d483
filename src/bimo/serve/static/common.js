// Shared by both pages: UI language, JSON/SSE requests, small DOM helpers.
// The key cookie (set by ?key=) rides along automatically: same-origin requests only.
"use strict";

const I18N = {
  zh: {
    write: "写作", arena: "盲评", lang: "English", task: "任务", longform: "长文（规划+分节）",
    input: "输入", length: "目标字数", go: "开始写作", stop: "停止", copy: "复制", download: "下载 Markdown",
    copied: "已复制", writing: "写作中…", done: "完成", failed: "出错了", plan: "大纲", progress: "进度",
    placeholder: "写下你的要求、草稿或问题…", prompt: "题目", a: "A 更好", b: "B 更好", tie: "平局",
    both_bad: "都不好", next: "下一题", leaderboard: "排行榜", model: "模型", rating: "评分",
    interval: "95% 区间", battles: "对局", winrate: "胜率", loading: "加载中…",
    thanks: "已记录：", left: "A", right: "B", queued: "排队中…", resumed: "已从断点继续", job: "任务",
    chars: "字", position: "前面还有", ahead: "个任务",
    setupTitle: "这台服务器还没有可评的对比",
    setupIntro: "盲评页需要成对的回答。用下面任一方式重新启动 bimo serve：",
    setupPairs: "现成的对比：JSONL 文件，每行一个对象，含 prompt、model_a、model_b、response_a、response_b。",
    setupModels: "现场生成：两个模型 URI 加一个题目文件（每行一个题目，或含 prompt 的 JSONL），服务器用两个模型回答同一题。",
    setupAfter: "投票存入对局库（--arena-db），排行榜随每次投票更新。",
  },
  en: {
    write: "Write", arena: "Arena", lang: "中文", task: "Task", longform: "Long-form (plan + sections)",
    input: "Input", length: "Length target", go: "Write", stop: "Stop", copy: "Copy", download: "Download Markdown",
    copied: "Copied", writing: "Writing…", done: "Done", failed: "Failed", plan: "Plan", progress: "Progress",
    placeholder: "Your brief, draft or question…", prompt: "Prompt", a: "A is better", b: "B is better", tie: "Tie",
    both_bad: "Both bad", next: "Next", leaderboard: "Leaderboard", model: "Model", rating: "Rating",
    interval: "95% interval", battles: "Battles", winrate: "Win rate", loading: "Loading…",
    thanks: "Recorded:", left: "A", right: "B",
    queued: "Queued…", resumed: "Resumed from checkpoint", job: "Job", chars: " chars",
    position: "jobs ahead:", ahead: "",
    setupTitle: "This server has no pairs to vote on yet",
    setupIntro: "The voting page needs pairs of answers. Restart bimo serve in one of these ways:",
    setupPairs: "Ready pairs: a JSONL file, one object a line with prompt, model_a, model_b, response_a, response_b.",
    setupModels: "Generated on demand: two model URIs and a prompts file (one prompt a line, or JSONL with prompt); "
      + "the server answers the same prompt with both models.",
    setupAfter: "Votes go to the battle store (--arena-db); the leaderboard updates after every vote.",
  },
};

// The user's own choice (the toggle) wins; otherwise the first of the browser's
// languages that the pages speak; otherwise Chinese.
function browserLang() {
  const langs = (navigator.languages && navigator.languages.length) ? navigator.languages : [navigator.language || ""];
  for (const l of langs) {
    const code = String(l).toLowerCase();
    if (code.startsWith("zh")) return "zh";
    if (code.startsWith("en")) return "en";
  }
  return "zh";
}

let LANG = localStorage.getItem("bimo.lang") || browserLang();

function t(key) { return (I18N[LANG] && I18N[LANG][key]) || I18N.en[key] || key; }

function applyI18n() {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.dispatchEvent(new Event("bimo:lang"));
}

function toggleLang() {
  LANG = LANG === "zh" ? "en" : "zh";
  localStorage.setItem("bimo.lang", LANG);
  applyI18n();
}

const $ = (sel) => document.querySelector(sel);

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(path, { credentials: "same-origin", ...opts });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
  return data;
}

// POST that answers with Server-Sent Events: calls onData(parsed JSON) per event.
// fetch + a stream reader rather than EventSource, which can only GET.
async function postSSE(path, body, onData, signal) {
  const res = await fetch(path, {
    method: "POST", credentials: "same-origin", signal,
    headers: { "content-type": "application/json", accept: "text/event-stream" }, body: JSON.stringify(body),
  });
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    throw new Error((data.error && data.error.message) || res.statusText);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data) onData(JSON.parse(data));
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const btn = $("#lang-toggle");
  if (btn) btn.addEventListener("click", toggleLang);
  applyI18n();
});
