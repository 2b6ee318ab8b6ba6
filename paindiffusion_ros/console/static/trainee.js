// The trainee page: one 0–10 NRS slider; every change goes to /api/rating (at most 10 per second).
"use strict";

const SEND_INTERVAL_MS = 100;
const slider = document.getElementById("rating");
const shown = document.getElementById("value");
const status = document.getElementById("status");
let sent = null;
let waiting = false;

async function send() {
  const value = Number(slider.value);
  if (value === sent) return;
  sent = value;
  waiting = true;
  const answer = await Console.post("/api/rating", { value });
  status.textContent = answer.ok ? "rating recorded" : "not recorded: " + answer.body.reason;
  status.className = answer.ok ? "muted" : "refused";
  setTimeout(() => { waiting = false; send(); }, SEND_INTERVAL_MS);
}

slider.addEventListener("input", () => {
  shown.textContent = Number(slider.value).toFixed(1);
  if (!waiting) send();
});

send();
