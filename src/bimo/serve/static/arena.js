// The voting page: a blind pair, four verdicts, the leaderboard after every vote.
"use strict";

let pair = null;
const VOTER_KEY = "bimo.voter";

function voter() {
  let id = localStorage.getItem(VOTER_KEY);
  if (!id) {
    id = Math.random().toString(36).slice(2, 12);
    localStorage.setItem(VOTER_KEY, id);
  }
  return id;
}

function status(msg, isError) {
  $("#status").textContent = msg || "";
  $("#status").classList.toggle("error", !!isError);
}

function renderBoard(board) {
  const body = $("#board tbody");
  body.innerHTML = "";
  (board.ratings || []).forEach((r, i) => {
    const tr = document.createElement("tr");
    const ci = r.lower == null ? "—" : `${Math.round(r.lower)} – ${Math.round(r.upper)}`;
    const wr = r.win_rate == null ? "—" : `${(100 * r.win_rate).toFixed(0)}%`;
    for (const [v, cls] of [[i + 1, ""], [r.model, ""], [Math.round(r.rating), "num"], [ci, "num"],
      [r.battles, "num"], [wr, "num"]]) {
      const td = document.createElement("td");
      td.textContent = v;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  });
  $("#board-status").textContent = `${t("battles")}: ${board.n_battles || 0}`;
}

function setVoting(enabled) {
  document.querySelectorAll("[data-verdict]").forEach((b) => { b.disabled = !enabled; });
}

async function nextPair() {
  status(t("loading"));
  setVoting(false);
  try {
    pair = await api("/api/arena/pair");
  } catch (err) {
    status(err.message, true);
    return;
  }
  $("#battle").hidden = false;
  $("#prompt").textContent = pair.prompt;
  $("#out-a").textContent = pair.a;
  $("#out-b").textContent = pair.b;
  status("");
  setVoting(true);
}

async function vote(verdict) {
  if (!pair) return;
  setVoting(false);
  try {
    const res = await api("/api/arena/vote", { id: pair.id, verdict, voter: voter() });
    pair = null;
    status(`${t("thanks")} A = ${res.reveal.a}, B = ${res.reveal.b}`);
    renderBoard(res.leaderboard);
  } catch (err) {
    status(err.message, true);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  document.querySelectorAll("[data-verdict]").forEach((b) => b.addEventListener("click", () => vote(b.dataset.verdict)));
  $("#next").addEventListener("click", nextPair);
  try {
    const board = await api("/api/arena/leaderboard");
    renderBoard(board);
    const info = await api("/api/arena/info");
    if (!info.enabled) {
      // Nothing to vote on: say how to set it up; past votes still show if there are any.
      $("#setup").hidden = false;
      $("#board-section").hidden = !(board.n_battles > 0);
      return;
    }
  } catch (err) {
    status(err.message, true);
    return;
  }
  nextPair();
});
