// The operator page: live face, traces and status from the WebSocket; controls and recording by POST.
"use strict";

const PANELS = [
  { name: "angle", label: "elbow", unit: "°", lo: 0, hi: 150, ticks: [0, 50, 100, 150], color: "#1f77b4", digits: 0 },
  { name: "heat", label: "heat", unit: "°C", lo: 30, hi: 52, ticks: [32, 40, 48], color: "#d62728", digits: 1 },
  { name: "pspi", label: "PSPI", unit: "0–16", lo: 0, hi: 16, ticks: [0, 4, 8, 12, 16], color: "#2ca02c", digits: 1 },
  { name: "rating", label: "trainee", unit: "NRS", lo: 0, hi: 10, ticks: [0, 5, 10], color: "#222222", digits: 1, step: true },
];
const LEVELS = ["ok", "warn", "error", "stale"];
const STALE_S = 5;

const $ = (id) => document.getElementById(id);
let charts = null;
let faceUrl = null;
let controlsRevision = -1;
let lastControls = null;
const messages = {}; // key -> {text, kind} shown under each control

function setConnection(text, kind) {
  const pill = $("connection");
  pill.textContent = text;
  pill.className = "pill " + kind;
}

function showAuthProblem(reason) {
  $("auth-banner").textContent = reason;
  $("auth-banner").hidden = false;
}

// --- controls -----------------------------------------------------------------------

function formatValue(control) {
  if (control.kind === "double") return Number(control.value).toFixed(2);
  return control.value === "" ? "(linear)" : String(control.value);
}

function controlMessage(key) {
  const element = document.createElement("div");
  element.className = "message";
  element.dataset.key = key;
  const message = messages[key];
  if (message) {
    element.textContent = message.text;
    element.classList.add(message.kind);
  }
  return element;
}

async function setControl(key, value, row) {
  messages[key] = { text: "setting…", kind: "pending" };
  refreshMessage(row, key);
  const answer = await Console.post("/api/control", { key, value });
  if (answer.ok) {
    messages[key] = { text: "✓ set to " + JSON.stringify(answer.body.value), kind: "accepted" };
  } else {
    messages[key] = { text: "✗ refused: " + answer.body.reason, kind: "refused" };
    if (answer.status === 401) showAuthProblem(answer.body.reason);
    if (row.contains(document.activeElement)) document.activeElement.blur();
    if (lastControls) renderControls(lastControls); // back to what the node has
  }
  const current = document.querySelector(`.control[data-key="${CSS.escape(key)}"]`) || row;
  refreshMessage(current, key);
}

function refreshMessage(row, key) {
  row.querySelector(".message").replaceWith(controlMessage(key));
}

function input(type, attributes) {
  const element = document.createElement("input");
  element.type = type;
  for (const [name, value] of Object.entries(attributes)) if (value !== null && value !== undefined) element[name] = value;
  return element;
}

function controlRow(control) {
  const row = document.createElement("div");
  row.className = "control";
  row.dataset.key = control.key;
  const label = document.createElement("label");
  label.textContent = control.label;
  label.title = `${control.node}: ${control.parameter}` + (control.description ? ` — ${control.description}` : "");
  row.append(label);
  const widgets = document.createElement("div");
  widgets.className = "widgets";
  row.append(widgets);
  if (!control.available) {
    row.classList.add("unavailable");
    widgets.textContent = control.error;
  } else if (control.choices.length) {
    const select = document.createElement("select");
    select.name = control.key;
    for (const choice of control.choices) {
      const option = new Option(choice === "" ? "(linear map)" : choice, choice);
      select.append(option);
    }
    select.value = control.value;
    select.addEventListener("change", () => setControl(control.key, select.value, row));
    widgets.append(select);
  } else if (control.kind === "double" || control.kind === "integer") {
    const step = control.kind === "integer" ? 1 : control.step || niceStep(control.min, control.max);
    const number = input("number", { name: control.key, value: control.value, step: "any", className: "number" });
    if (control.key !== "mapper.override_c" && control.min !== null) {
      const slider = input("range", { name: control.key + ".slider", min: control.min, max: control.max, step, value: control.value });
      slider.addEventListener("input", () => { number.value = slider.value; });
      slider.addEventListener("change", () => setControl(control.key, Number(slider.value), row));
      widgets.append(slider);
    }
    number.addEventListener("change", () => setControl(control.key, number.value === "" ? null : Number(number.value), row));
    widgets.append(number);
    if (control.key === "mapper.override_c") {
      const off = document.createElement("button");
      off.type = "button";
      off.textContent = "Off";
      off.name = "override-off";
      off.addEventListener("click", () => setControl(control.key, 0.0, row));
      widgets.append(off);
    }
  } else {
    const text = input("text", { name: control.key, value: control.value });
    text.addEventListener("change", () => setControl(control.key, text.value, row));
    widgets.append(text);
  }
  row.append(controlMessage(control.key));
  return row;
}

function niceStep(lo, hi) {
  const span = hi - lo;
  return span <= 2 ? 0.01 : span <= 20 ? 0.1 : 1;
}

function renderControls(snapshot) {
  lastControls = snapshot;
  const container = $("controls");
  // The field being typed in or dragged keeps its element and what the operator has there.
  const editing = document.activeElement && container.contains(document.activeElement) && document.activeElement.matches("input");
  const active = editing ? document.activeElement.closest(".control") : null;
  const groups = new Map();
  for (const control of snapshot.controls) {
    if (!groups.has(control.group)) groups.set(control.group, []);
    groups.get(control.group).push(control);
  }
  const fragment = document.createDocumentFragment();
  for (const [group, controls] of groups) {
    const fieldset = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = group;
    fieldset.append(legend, ...controls.map((c) => (active && active.dataset.key === c.key && c.available ? active : controlRow(c))));
    fragment.append(fieldset);
  }
  const focused = document.activeElement;
  container.replaceChildren(fragment);
  if (active && container.contains(focused)) focused.focus();
  const override = snapshot.controls.find((c) => c.key === "mapper.override_c");
  const overriding = override && override.available && Number(override.value) > 0;
  $("override-banner").hidden = !overriding;
  document.body.classList.toggle("override-active", Boolean(overriding));
  if (overriding) $("override-value").textContent = Number(override.value).toFixed(1);
}

// --- status, recording --------------------------------------------------------------

function renderDiagnostics(statuses) {
  const list = $("diagnostics");
  list.replaceChildren(...statuses.map((s) => {
    const item = document.createElement("li");
    const level = s.age > STALE_S ? "stale" : LEVELS[Math.min(s.level, 2)];
    item.className = level;
    const name = document.createElement("b");
    name.textContent = s.name;
    const text = document.createElement("span");
    text.textContent = " " + (s.age > STALE_S ? `(no report for ${Math.round(s.age)} s) ` : "") + s.message;
    item.title = Object.entries(s.values).map(([k, v]) => `${k}: ${v}`).join("\n");
    item.append(name, text);
    return item;
  }));
}

function renderRecording(state) {
  const button = $("record");
  button.disabled = false;
  button.textContent = state.recording ? "Stop recording" : "Start recording";
  button.classList.toggle("recording", state.recording);
  $("recording-pill").hidden = !state.recording;
  $("record-state").textContent = state.recording ? `${state.current.name}, ${Math.round(state.current.seconds)} s` : `saved in ${state.record_dir}`;
  $("record-error").hidden = !state.error;
  $("record-error").textContent = state.error;
  const last = $("last-session");
  last.replaceChildren();
  if (state.last) {
    last.append(`Last recording ${state.last.name} (${Math.round(state.last.seconds)} s): `);
    if (state.last.report_url) {
      const link = document.createElement("a");
      link.href = Console.withToken(state.last.report_url);
      link.target = "_blank";
      link.id = "report-link";
      link.textContent = "open the report";
      last.append(link, " — " + state.last.message);
    } else {
      last.append(`report ${state.last.report}` + (state.last.message ? `: ${state.last.message}` : ""));
    }
  }
}

$("record").addEventListener("click", async () => {
  const button = $("record");
  const action = button.classList.contains("recording") ? "stop" : "start";
  button.disabled = true;
  button.textContent = action === "start" ? "starting…" : "stopping…";
  const answer = await Console.post("/api/recording", { action });
  if (answer.ok) renderRecording(answer.body.recording);
  else {
    $("record-error").hidden = false;
    $("record-error").textContent = answer.body.reason;
    button.disabled = false;
  }
});

// --- live updates ---------------------------------------------------------------------

function showFace(data) {
  const url = URL.createObjectURL(new Blob([data], { type: "image/jpeg" }));
  const image = $("face");
  image.onload = () => { if (faceUrl) URL.revokeObjectURL(faceUrl); faceUrl = url; };
  image.src = url;
  image.dataset.frames = String(Number(image.dataset.frames || 0) + 1);
  $("face-info").textContent = "live";
}

function onUpdate(update) {
  charts.add(update.traces, update.now);
  charts.draw();
  if (update.controls && update.controls.revision !== controlsRevision) {
    controlsRevision = update.controls.revision;
    renderControls(update.controls);
  }
  if (update.diagnostics) renderDiagnostics(update.diagnostics);
  if (update.recording) renderRecording(update.recording);
}

function connect(delay) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${Console.withToken("/ws")}`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { setConnection("live", "ok"); delay = 500; };
  socket.onmessage = (event) => {
    if (typeof event.data === "string") onUpdate(JSON.parse(event.data));
    else showFace(event.data);
  };
  socket.onclose = () => {
    setConnection("reconnecting…", "warn");
    setTimeout(() => connect(Math.min(delay * 2, 5000)), delay);
  };
}

async function start() {
  const state = await Console.get("/api/state");
  if (!state.ok) {
    setConnection("no access", "error");
    showAuthProblem(state.body.reason);
    return;
  }
  $("window-seconds").textContent = String(state.body.window);
  charts = new StripCharts($("traces"), PANELS, state.body.window);
  const trainee = $("trainee-link");
  trainee.href = location.origin + state.body.trainee_path;
  trainee.textContent = location.origin + state.body.trainee_path;
  controlsRevision = state.body.controls.revision;
  renderControls(state.body.controls);
  renderRecording(state.body.recording);
  connect(500);
}

start();
