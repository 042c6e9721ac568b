// ML Insights page: reads the JSON API with the session cookie. Every value from the server is put
// on the page with textContent or SVG attributes (never innerHTML), so lead names cannot inject markup.
// Endpoints that a server may not have yet (bulk predictions, ranked leads with insights) are detected
// from /openapi.json and, failing that, by their 404: the page then hides or explains the control.
"use strict";

const root = document.getElementById("insights");
const API = root.dataset.apiBase;
const CATEGORY_MAX = JSON.parse(root.dataset.categoryMax);
const CATEGORY_COLORS = ["demographic", "behavioral", "temporal", "engagement", "custom"];
const TIERS = ["top", "high", "medium", "low"];
const PREDICTION_TYPES = ["CONVERSION", "TIME_TO_CLOSE", "SCORE", "PRIORITY"];
const RANKING_CHUNK = 1000;   // the ranked-leads page size limit
const RANKING_MAX = 20000;    // leads held in the browser for sorting and filtering
const POLL_MS = 400;
const SVG_NS = "http://www.w3.org/2000/svg";
const CSRF = document.querySelector('meta[name="csrf-token"]')?.content;

const state = {
  configId: null,
  paths: null,            // "METHOD /path/{}" strings from the OpenAPI document (null: unknown)
  ranking: [],            // every ranked lead loaded, in priority order
  rankingTruncated: false,
  sort: { key: "priorityRank", dir: 1 },
  page: 0,
  lead: null,             // the lead whose details are open
  predictionId: null,
  job: null,              // the job being followed
};

// --- small helpers ------------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function byId(id) { return document.getElementById(id); }

// A calibrated probability is never certain: never print "0.0%" or "100.0%".
function pct(p) {
  if (p == null || Number.isNaN(Number(p))) return "–";
  const x = 100 * Number(p);
  if (x < 0.05) return "<0.1%";
  if (x >= 99.95) return ">99.9%";
  return x.toFixed(1) + "%";
}
// A plain ratio (accuracy: 3 of 3 validated is 100%).
function ratio(x) { return x == null ? "–" : (100 * Number(x)).toFixed(1) + "%"; }
function share(p) { return p == null ? "–" : Math.round(100 * p) + "%"; }
function num(x, digits = 2) { return x == null || Number.isNaN(Number(x)) ? "–" : Number(x).toFixed(digits); }
function count(x) { return x == null ? "–" : Number(x).toLocaleString("en"); }
// Whole days, halves to even as the server's explanation text rounds them (24.5 -> 24).
function days(x) {
  if (x == null) return "–";
  if (x < 1) return "under 1";
  let whole = Math.round(x);
  if (Math.abs(x % 1) === 0.5 && whole % 2 !== 0) whole -= 1;
  return whole.toLocaleString("en");
}
function when(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }
function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}
// "meetingCount" / "attr_industry" -> "Meeting Count" / "Attr Industry"
function label(name) {
  return String(name).replace(/^custom\./, "").replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/_/g, " ")
    .replace(/\b[a-z]/g, c => c.toUpperCase());
}
function categoryClass(category) {
  return "cat-" + (CATEGORY_COLORS.includes(category) ? category : "other");
}
function leadName(lead) { return lead.name || lead.email || `Lead #${lead.leadId}`; }

function showMessage(text) {
  const box = byId("page-message");
  box.textContent = text || "";
  box.hidden = !text;
}

class ApiError extends Error {
  constructor(message, status, body) { super(message); this.status = status; this.body = body; }
}

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json" };
  if (CSRF) headers["X-CSRF-Token"] = CSRF;
  const response = await fetch(API + path, { credentials: "same-origin", headers, ...options });
  if (response.status === 401) { window.location.assign("/"); throw new ApiError("signed out", 401, {}); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.error || `request failed (${response.status})`, response.status, body);
  return { ...body, _status: response.status };
}

// --- which endpoints this server has ------------------------------------------------------------

async function detectEndpoints() {
  try {
    const response = await fetch("/openapi.json", { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = await response.json();
    state.paths = new Set();
    for (const [path, item] of Object.entries(doc.paths || {})) {
      const shape = path.replace(/\{[^}]+\}/g, "{}");
      for (const method of Object.keys(item)) state.paths.add(`${method.toUpperCase()} ${shape}`);
    }
  } catch (_err) {
    state.paths = null;  // unknown: try the calls and treat a 404 as "not here"
  }
}

function has(method, path) {
  return state.paths == null || state.paths.has(`${method} ${API}${path}`);
}

// --- charts -------------------------------------------------------------------------------------

// One horizontal bar: label, a filled track (width = share of max) and the value text.
function bar(name, fraction, valueText, cls) {
  const width = Math.max(0, Math.min(1, fraction)) * 100;
  return el("div", { class: "bar-row" },
    el("span", { class: "bar-label", text: name, title: name }),
    el("span", { class: "bar-track" }, el("span", { class: "bar-fill " + cls, style: { width: width + "%" } })),
    el("span", { class: "bar-value", text: valueText }));
}

// Predicted vs observed conversion per probability bin, on [0, 1] x [0, 1]; dots sized by lead count.
function calibrationChart(curve) {
  const size = 270, pad = 34, left = 50, inner = size - pad - left;
  const x = v => left + v * inner, y = v => size - pad - v * inner;
  const chart = svg("svg", { viewBox: `0 0 ${size} ${size}`, role: "img", class: "calibration-svg",
    "aria-label": "Calibration chart: observed conversion rate against predicted probability per bin" });
  chart.append(svg("title", { text: "Predicted vs observed conversion on the hold-out" }));
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    chart.append(svg("line", { x1: x(t), y1: y(0), x2: x(t), y2: y(1), class: "grid" }));
    chart.append(svg("line", { x1: x(0), y1: y(t), x2: x(1), y2: y(t), class: "grid" }));
    chart.append(svg("text", { x: x(t), y: size - pad + 14, class: "tick", "text-anchor": "middle", text: `${t * 100}%` }));
    chart.append(svg("text", { x: left - 6, y: y(t) + 4, class: "tick", "text-anchor": "end", text: `${t * 100}%` }));
  }
  chart.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "diagonal" }));
  chart.append(svg("text", { x: x(0.5), y: size - 4, class: "axis", "text-anchor": "middle", text: "predicted" }));
  chart.append(svg("text", { x: 11, y: y(0.5), class: "axis", "text-anchor": "middle",
    transform: `rotate(-90 11 ${y(0.5)})`, text: "observed" }));
  const points = curve.filter(pt => pt.count > 0);
  if (points.length > 1) {
    chart.append(svg("polyline", { class: "curve",
      points: points.map(pt => `${x(pt.predicted)},${y(pt.observed)}`).join(" ") }));
  }
  const most = Math.max(...points.map(pt => pt.count), 1);
  for (const pt of points) {
    chart.append(svg("circle", { cx: x(pt.predicted), cy: y(pt.observed), r: 3 + 5 * Math.sqrt(pt.count / most),
      class: "dot" }, svg("title", { text: `predicted ${pct(pt.predicted)}, observed ${pct(pt.observed)}, ${pt.count} leads` })));
  }
  return chart;
}

// Vertical bars: leads per tier.
function tierChart(counts) {
  const width = 320, height = 180, pad = 28, gap = 18;
  const most = Math.max(...TIERS.map(t => counts[t] || 0), 1);
  const barWidth = (width - 2 * pad - gap * (TIERS.length - 1)) / TIERS.length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "tier-svg",
    "aria-label": "Leads per priority tier: " + TIERS.map(t => `${t} ${counts[t] || 0}`).join(", ") });
  chart.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "grid" }));
  TIERS.forEach((tier, i) => {
    const n = counts[tier] || 0;
    const h = (height - 2 * pad - 12) * n / most;
    const left = pad + i * (barWidth + gap);
    chart.append(svg("rect", { x: left, y: height - pad - h, width: barWidth, height: Math.max(h, n ? 1 : 0),
      rx: 3, class: `tier-bar tier-fill-${tier}`, "data-tier": tier }, svg("title", { text: `${tier}: ${n} leads` })));
    chart.append(svg("text", { x: left + barWidth / 2, y: height - pad - h - 4, class: "value", "text-anchor": "middle",
      text: count(n) }));
    chart.append(svg("text", { x: left + barWidth / 2, y: height - pad + 16, class: "tick", "text-anchor": "middle",
      text: tier }));
  });
  return chart;
}

// --- loading the config's figures ---------------------------------------------------------------

async function loadConfigs() {
  const { configs } = await api("/configs");
  const select = byId("config-select");
  select.replaceChildren(...configs.map(c => el("option", { value: c.id, text: `${c.name} (#${c.id})` })));
  if (!configs.length) {
    showMessage("No scoring configs yet: create one through the API first.");
    for (const id of ["bulk-run", "train-run"]) byId(id).disabled = true;
    return;
  }
  state.configId = configs[0].id;
  select.addEventListener("change", () => { state.configId = Number(select.value); refresh(); });
  refresh();
}

function refresh() {
  closeDetails();
  showMessage("");
  for (const load of [loadMetrics, loadModels, loadImportance, loadRanking]) {
    load().catch(err => showMessage(err.message));
  }
}

let lastModels = [];

async function loadMetrics() {
  const acc = await api(`/${state.configId}/ml/accuracy`);
  byId("m-total").textContent = count(acc.totalPredictions);
  byId("m-validated").textContent = count(acc.validatedCount);
  byId("m-accurate").textContent = count(acc.accurateCount);
  byId("m-accuracy").textContent = acc.accuracy == null ? "none yet" : ratio(acc.accuracy);
  const byType = acc.byType || {};
  byId("by-type-body").replaceChildren(...PREDICTION_TYPES.filter(t => byType[t]).map(t => {
    const row = byType[t];
    return el("tr", { "data-type": t }, el("th", { scope: "row", text: label(t.toLowerCase()) }),
      el("td", { text: count(row.total) }), el("td", { text: count(row.validated) }),
      el("td", { text: count(row.accurate) }), el("td", { text: ratio(row.accuracy) }));
  }));
}

async function loadModels() {
  const { models } = await api(`/${state.configId}/ml/models`);
  lastModels = models;
  const active = models.find(m => m.kind === "conversion" && m.status === "active");
  const newest = models.filter(m => m.kind === "conversion").sort((a, b) => b.version - a.version)[0];
  byId("m-trained").textContent = newest ? when(newest.createdAt) : "never";
  if (!active) {
    byId("m-model").textContent = "rules (no trained model yet)";
    for (const id of ["m-auc", "m-ece", "m-lift"]) byId(id).textContent = "–";
    byId("m-quality-note").textContent = "(train a model to measure it)";
    byId("m-holdout").textContent = "";
    byId("calibration-chart").replaceChildren();
    byId("calibration-note").textContent = "No trained model yet: the calibration chart shows the active model's hold-out.";
  } else {
    const m = active.metrics || {};
    byId("m-model").textContent = `model v${active.version}`;
    byId("m-auc").textContent = num(m.auc, 3);
    byId("m-ece").textContent = num(m.ece, 3);
    byId("m-lift").textContent = m.lift_top_decile == null ? "–" : `${num(m.lift_top_decile, 2)}×`;
    byId("m-quality-note").textContent = `(hold-out of model v${active.version})`;
    const summary = active.trainingSummary || {};
    byId("m-holdout").textContent =
      `Hold-out: AUC ${num(m.auc, 3)} · ECE ${num(m.ece, 3)} · top-decile lift ${num(m.lift_top_decile, 2)}` +
      (summary.holdoutRows ? ` · ${count(summary.holdoutRows)} leads, ${count(summary.holdoutPositives)} converted` : "");
    const curve = m.calibrationCurve || [];
    byId("calibration-chart").replaceChildren(...(curve.length ? [calibrationChart(curve)] : []));
    byId("calibration-note").textContent = curve.length
      ? `Model v${active.version}: each dot is a band of predicted probability (size = leads in it); on the diagonal, predictions match what happened.`
      : "This version stored no calibration curve.";
  }
  renderVersions(models);
}

function versionMetrics(m, kind) {
  if (!m) return "–";
  if (kind === "conversion") {
    return `AUC ${num(m.auc, 3)} · ECE ${num(m.ece, 3)} · lift ${num(m.lift_top_decile, 2)}` +
      (m.activeAucOnSameHoldout != null ? ` (active then: AUC ${num(m.activeAucOnSameHoldout, 3)})` : "");
  }
  const parts = [];
  if (m.c_index != null) parts.push(`C-index ${num(m.c_index, 3)}`);
  if (m.mae_days != null) parts.push(`MAE ${num(m.mae_days, 1)} days`);
  if (m.interval_coverage != null) parts.push(`80% interval covers ${share(m.interval_coverage)}`);
  if (m.holdoutClosed != null) parts.push(`${count(m.holdoutClosed)} closed hold-out leads`);
  return parts.join(" · ") || "–";
}

function renderVersions(models) {
  byId("versions-empty").hidden = models.length > 0;
  byId("versions-table").hidden = models.length === 0;
  byId("versions-body").replaceChildren(...models.map(v => {
    const kindText = v.kind === "conversion" ? "Conversion" : "Time to close";
    const action = v.status === "active"
      ? el("span", { class: "muted small", text: "in use" })
      : el("button", { type: "button", class: "secondary small-button", "data-activate": v.id,
        "aria-label": `Re-activate ${kindText.toLowerCase()} model v${v.version}`, text: "Re-activate" });
    if (action.tagName === "BUTTON") action.addEventListener("click", () => activateVersion(v, action));
    return el("tr", { "data-version-id": v.id },
      el("td", { text: kindText }), el("td", { text: `v${v.version}` }),
      el("td", {}, el("span", { class: `status status-${v.status}`, text: v.status })),
      el("td", { text: when(v.createdAt) }), el("td", { text: versionMetrics(v.metrics, v.kind) }),
      el("td", {}, action));
  }));
}

async function activateVersion(version, button) {
  button.disabled = true;
  try {
    await api(`/${state.configId}/ml/models/${version.id}/activate`, { method: "POST", body: "{}" });
    showResult(`${version.kind === "conversion" ? "Conversion" : "Time-to-close"} model v${version.version} is active again. ` +
      "New predictions use it; run bulk predictions to re-score the ranking.");
    await Promise.all([loadModels(), loadImportance()]);
  } catch (err) {
    showMessage(`Could not activate v${version.version}: ${err.message}`);
    button.disabled = false;
  }
}

async function loadImportance() {
  const data = await api(`/${state.configId}/ml/feature-importance`);
  const rows = data.importance.slice(0, 15);
  const max = Math.max(...rows.map(r => r.importance), 1e-9);
  byId("importance-source").textContent =
    data.source === "model" ? `(trained model v${data.modelVersion})` : "(rules: no trained model yet)";
  byId("importance-bars").replaceChildren(...rows.map(r =>
    bar(label(r.name), r.importance / max, pct(r.importance), categoryClass(r.category))));
  const categories = [...new Set(rows.map(r => r.category))];
  byId("importance-legend").replaceChildren(...categories.map(c =>
    el("span", { class: "legend-item" }, el("span", { class: "swatch " + categoryClass(c) }), c)));
}

// --- the ranking: loaded whole (up to RANKING_MAX), then sorted, filtered and paged here --------

async function fetchRanking() {
  if (has("GET", "/{}/ml/ranked-leads")) {
    try {
      const rows = [], seen = new Set();
      let insights = null, llm = null;
      for (let offset = 0; offset < RANKING_MAX; offset += RANKING_CHUNK) {
        const data = await api(`/${state.configId}/ml/ranked-leads?limit=${RANKING_CHUNK}&offset=${offset}`);
        if (offset === 0) { insights = data.insights || null; llm = data.llmMetadata || null; }
        const fresh = (data.rankings || []).filter(r => !seen.has(r.leadId));
        fresh.forEach(r => seen.add(r.leadId));
        rows.push(...fresh);
        if ((data.rankings || []).length < RANKING_CHUNK || fresh.length === 0) {
          return { rows, insights, llm, truncated: false, source: "ranked-leads" };
        }
      }
      return { rows, insights, llm, truncated: true, source: "ranked-leads" };
    } catch (err) {
      // The config exists (it is in the picker), so a 404 means this server has no such route yet.
      if (err.status !== 404) throw err;
    }
  }
  const { leads } = await api(`/${state.configId}/ml/top-leads?n=${RANKING_CHUNK}`);
  return { rows: leads, insights: null, llm: null, truncated: leads.length >= RANKING_CHUNK, source: "top-leads" };
}

async function loadRanking() {
  const result = await fetchRanking();
  state.ranking = result.rows;
  state.rankingTruncated = result.truncated;
  renderInsights(result.insights);
  renderTiers();
  renderLeads();
}

function renderInsights(insights) {
  const box = byId("insights-summary");
  if (!insights) { box.hidden = true; return; }
  const patterns = (insights.commonPatterns || []).map(p => typeof p === "string" ? p : (p.description || p.pattern || JSON.stringify(p)));
  box.replaceChildren(
    el("strong", { text: `${count(insights.topLeadCount)} top-tier leads` }),
    ` · average conversion probability ${pct(insights.avgConversionProbability)}`,
    patterns.length ? ` · what sets them apart: ${patterns.map((p) => p.replace(/[.]$/, "")).join("; ")}` : "",
    insights.summary ? el("div", { class: "small", text: insights.summary }) : "");
  box.hidden = false;
}

function renderTiers() {
  const counts = {};
  for (const lead of state.ranking) counts[lead.priorityTier] = (counts[lead.priorityTier] || 0) + 1;
  byId("tier-chart").replaceChildren(tierChart(counts));
  byId("tier-note").textContent = state.ranking.length
    ? `${count(state.ranking.length)} ranked leads with a current prediction` +
      (state.rankingTruncated ? ` (the best ${count(state.ranking.length)} shown)` : "") + "."
    : "No ranked leads yet.";
}

function filters() {
  const minPercent = parseFloat(byId("f-minprob").value);
  return {
    tier: byId("f-tier").value,
    minProbability: Number.isFinite(minPercent) ? minPercent / 100 : null,
    search: byId("f-search").value.trim().toLowerCase(),
    pageSize: Number(byId("f-pagesize").value),
  };
}

function visibleLeads() {
  const f = filters();
  let rows = state.ranking.filter(lead =>
    (!f.tier || lead.priorityTier === f.tier) &&
    (f.minProbability == null || (lead.conversionProbability ?? 0) >= f.minProbability) &&
    (!f.search || [lead.name, lead.company, lead.email].some(v => v && v.toLowerCase().includes(f.search))));
  const { key, dir } = state.sort;
  const value = lead => key === "name" ? leadName(lead).toLowerCase()
    : key === "company" ? (lead.company || "").toLowerCase() : lead[key];
  rows = rows.slice().sort((a, b) => {
    const va = value(a), vb = value(b);
    if (va == null && vb == null) return a.priorityRank - b.priorityRank;
    if (va == null) return 1;
    if (vb == null) return -1;
    const cmp = typeof va === "string" ? va.localeCompare(vb) : va - vb;
    return cmp * dir || a.priorityRank - b.priorityRank;
  });
  return { rows, pageSize: f.pageSize };
}

function renderLeads() {
  const { rows, pageSize } = visibleLeads();
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  state.page = Math.min(state.page, pages - 1);
  const slice = rows.slice(state.page * pageSize, (state.page + 1) * pageSize);
  const empty = byId("leads-empty");
  if (!state.ranking.length) {
    empty.textContent = has("POST", "/{}/ml/bulk-predict")
      ? "No current predictions yet: click “Run Bulk Predictions” above."
      : "No current predictions yet: score a lead below.";
  } else {
    empty.textContent = "No ranked lead matches these filters.";
  }
  empty.hidden = slice.length > 0;
  byId("leads-body").replaceChildren(...slice.map(leadRow));
  byId("page-info").textContent = rows.length
    ? `${count(state.page * pageSize + 1)}–${count(state.page * pageSize + slice.length)} of ${count(rows.length)}` +
      (rows.length !== state.ranking.length ? ` (filtered from ${count(state.ranking.length)})` : "") +
      ` · page ${state.page + 1} of ${pages}`
    : "";
  byId("page-prev").disabled = state.page === 0;
  byId("page-next").disabled = state.page >= pages - 1;
  for (const th of document.querySelectorAll("#leads-table th[data-sort]")) {
    const sorted = th.dataset.sort === state.sort.key;
    th.setAttribute("aria-sort", sorted ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
  }
}

function leadRow(lead) {
  const open = () => showDetails(lead);
  const nameButton = el("button", { type: "button", class: "link lead-name", text: leadName(lead) });
  nameButton.addEventListener("click", event => { event.stopPropagation(); open(); });
  const who = el("td", {}, nameButton,
    el("div", { class: "muted small", text: lead.name ? (lead.email || "") : (lead.title || "") }));
  const row = el("tr", { class: "lead-row", "data-lead-id": lead.leadId },
    el("td", { text: lead.priorityRank }), who, el("td", { text: lead.company || "–" }),
    el("td", {}, el("span", { class: "tier tier-" + lead.priorityTier, text: lead.priorityTier }),
      el("span", { class: "muted small", text: ` ${num(lead.priorityScore, 0)}` })),
    el("td", { class: "num", text: pct(lead.conversionProbability) }),
    el("td", { class: "num", text: days(lead.predictedDays) }),
    el("td", {}, el("span", { class: "level level-" + lead.scoreLevel, text: lead.scoreLevel || "–" })));
  row.addEventListener("click", open);
  return row;
}

// --- prediction details: the stored prediction, validation and re-scoring -----------------------

// For stored predictions made before the API sent `confidenceMeaning`.
function confidenceMeaning(p) {
  const c = pct(p.confidence);
  if (p.source === "model") {
    const call = p.probability >= 0.5 ? "converted" : "did not convert";
    const predicts = p.probability >= 0.5 ? "over 50% predicts" : "under 50% predicts";
    return `Confidence ${c}: on the hold-out, ${c} of the leads the model scored in this range ${call}, ` +
      `which is what a probability ${predicts}.`;
  }
  if (p.source === "llm") {
    return `Confidence ${c}: how sure the language model said it was; it is not measured on outcomes.`;
  }
  return `Confidence ${c}: how much the rules had to go on (activity, profile completeness, recency); ` +
    "50% means very little evidence, 95% the most the rules give.";
}

// LLM metadata: one line when the language model was not used; what it did (model, tokens, time,
// cost) when it was; why the numbers fell back to the model or rules when it failed.
function renderLlm(meta) {
  const box = byId("d-llm");
  const rows = [];
  if (meta && typeof meta === "object" && meta.status && meta.status !== "not_used") {
    if (meta.status === "ok") {
      rows.push(["Language model", meta.llmModel || meta.model], ["Used for", meta.mode],
        ["Tokens", meta.tokensUsed != null ? count(meta.tokensUsed) : null],
        ["Time", meta.latencyMs != null ? `${count(Math.round(meta.latencyMs))} ms` : null],
        ["Cost", meta.estimatedCost != null ? (meta.costKnown === false ? "not priced" : `$${Number(meta.estimatedCost).toFixed(4)}`) : null]);
    } else {
      rows.push(["Language model", `not used this time (${meta.fallbackReason || meta.status})`],
        ["Why", meta.detail], ["Numbers from", meta.model]);
    }
  }
  const shown = rows.filter(([, value]) => value != null && value !== "");
  box.replaceChildren(...shown.flatMap(([key, value]) => [el("dt", { text: key }), el("dd", { text: String(value) })]));
  box.hidden = shown.length === 0;
}

function renderPrediction(p, { isExpired = false, predictionId = null } = {}) {
  state.predictionId = predictionId ?? p.predictionId;
  byId("d-body").hidden = false;
  byId("d-probability").textContent = pct(p.probability);
  byId("d-confidence").textContent = pct(p.confidence);
  // The API's one sentence when it sends one (the same words everywhere), else the page's own.
  byId("d-confidence-meaning").textContent = p.confidenceMeaning || confidenceMeaning(p);
  byId("d-level").replaceChildren(el("span", { class: "level level-" + p.predictedScoreLevel, text: p.predictedScoreLevel }));
  const ci = p.confidenceInterval || {};
  byId("d-days").textContent = `${days(p.predictedDays)} days`;
  const fromModel = (p.factors || []).some(f => f.factor === "Survival model");
  byId("d-days-note").textContent = `Likely range ${days(ci.low)}–${days(ci.high)} days` + (fromModel
    ? ": median and 80% range of the time-to-close model, counted from today if the lead converts."
    : ": the rules' estimate, wider when confidence is lower.");
  const source = { model: "trained model", rules: "rules", llm: "language model" }[p.source] || p.source;
  const llmNote = p.llmMetadata?.status === "not_used" ? " · no language model" : "";
  byId("d-source").textContent = `Source: ${source}${p.modelVersion ? " v" + p.modelVersion : ""}${llmNote}` +
    ` · priority ${num(p.priorityScore, 1)} (${p.priorityTier} tier) · predicted ${when(p.predictedAt)}` +
    (isExpired ? " · this prediction has expired: re-score for a fresh one" : ` · valid until ${when(p.validUntil)}`);
  renderLlm(p.llmMetadata);
  byId("d-explanation").textContent = p.explanation || "";
  byId("d-breakdown").replaceChildren(...Object.entries(p.scoreBreakdown || {}).map(([cat, points]) =>
    bar(label(cat), points / (CATEGORY_MAX[cat] || 100), `${num(points, 1)} / ${CATEGORY_MAX[cat] ?? "?"}`,
      categoryClass(cat))));
  const risks = p.riskFactors || [], recs = p.recommendations || [];
  byId("d-risks").replaceChildren(...(risks.length ? risks.map(r =>
    el("li", {}, el("span", { class: "impact impact-" + r.impact, text: r.impact }), " ",
      el("strong", { text: r.factor }), el("div", { class: "muted small", text: r.description || "" })))
    : [el("li", { class: "muted", text: "None found." })]));
  byId("d-recommendations").replaceChildren(...(recs.length ? recs.map(r =>
    el("li", {}, el("span", { class: "impact impact-" + r.priority, text: r.priority }), " ",
      el("strong", { text: r.action }),
      el("div", { class: "muted small", text: [r.rationale, r.expectedImpact, r.timeframe].filter(Boolean).join(" · ") })))
    : [el("li", { class: "muted", text: "None." })]));
  for (const id of ["validate-yes", "validate-no"]) byId(id).disabled = !state.predictionId;
}

async function showDetails(lead) {
  state.lead = lead;
  const panel = byId("details");
  byId("d-lead").textContent = leadName(lead);
  byId("d-status").textContent = "Loading the stored prediction…";
  byId("validate-message").textContent = "";
  byId("d-body").hidden = true;
  panel.hidden = false;
  panel.scrollIntoView({ behavior: "smooth", block: "start" });
  panel.focus({ preventScroll: true });
  try {
    const data = await api(`/leads/${lead.leadId}/ml/prediction?type=CONVERSION`);
    if (state.lead !== lead) return;
    byId("d-status").textContent = "";
    renderPrediction(data.prediction, { isExpired: data.isExpired, predictionId: data.id });
  } catch (err) {
    if (state.lead !== lead) return;
    byId("d-status").textContent = err.status === 404
      ? "No stored prediction for this lead yet: use Re-score to make one." : err.message;
    byId("d-body").hidden = err.status !== 404;
    if (err.status === 404) {
      for (const id of ["d-probability", "d-confidence", "d-level", "d-days", "d-confidence-meaning", "d-days-note",
        "d-source", "d-explanation"]) byId(id).textContent = "";
      for (const id of ["d-breakdown", "d-risks", "d-recommendations"]) byId(id).replaceChildren();
      state.predictionId = null;
      for (const id of ["validate-yes", "validate-no"]) byId(id).disabled = true;
    }
  }
}

function closeDetails() {
  byId("details").hidden = true;
  state.lead = null;
  state.predictionId = null;
}

async function validate(wasAccurate) {
  const message = byId("validate-message");
  if (!state.predictionId) return;
  for (const id of ["validate-yes", "validate-no"]) byId(id).disabled = true;
  try {
    await api(`/predictions/${state.predictionId}/validate`, { method: "POST", body: JSON.stringify({ wasAccurate }) });
    message.textContent = `Thanks: recorded as ${wasAccurate ? "accurate" : "not accurate"}.`;
    await loadMetrics();
  } catch (err) {
    message.textContent = `Could not record it: ${err.message}`;
  } finally {
    for (const id of ["validate-yes", "validate-no"]) byId(id).disabled = false;
  }
}

async function rescore() {
  const lead = state.lead;
  if (!lead) return;
  const button = byId("rescore");
  button.disabled = true;
  byId("d-status").textContent = "Re-scoring…";
  try {
    const { prediction } = await api(`/leads/${lead.leadId}/ml/predict`, {
      method: "POST", body: JSON.stringify({ forceRefresh: true }) });
    byId("d-status").textContent = `Re-scored ${when(prediction.predictedAt)}.`;
    byId("validate-message").textContent = "";
    renderPrediction(prediction, { predictionId: prediction.predictionId });
    await Promise.all([loadMetrics(), loadRanking()]);
  } catch (err) {
    byId("d-status").textContent = `Could not re-score: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

// --- jobs: bulk predictions and training, followed with a progress bar ---------------------------

function showResult(text, isError = false) {
  const box = byId("job-result");
  box.textContent = text;
  box.className = isError ? "error" : "notice";
  box.hidden = !text;
}

function setBusy(busy) {
  byId("train-run").disabled = busy;
  byId("bulk-run").disabled = busy || !has("POST", "/{}/ml/bulk-predict");
}

// Follows a job until it ends; returns the final job record.
async function followJob(jobId, title, unit) {
  const box = byId("job"), bar = byId("job-progress"), status = byId("job-status");
  state.job = jobId;
  byId("job-title").textContent = title;
  byId("job-cancel").hidden = false;
  box.hidden = false;
  bar.removeAttribute("value");  // indeterminate until the job reports a total
  status.textContent = "Queued…";
  const first = { at: null, processed: 0 };
  for (;;) {
    const job = await api(`/jobs/${jobId}`);
    const now = performance.now() / 1000;
    const processed = job.processed || 0, total = job.total || 0;
    if (first.at == null && processed > 0) { first.at = now; first.processed = processed; }
    if (total > 0) { bar.max = total; bar.value = Math.min(processed, total); }
    let rate = job.rate ?? job.ratePerSecond ?? null;
    if (rate == null && first.at != null && now > first.at && processed > first.processed) {
      rate = (processed - first.processed) / (now - first.at);
    }
    let eta = job.etaSeconds ?? job.eta ?? null;
    if (typeof eta === "string" && Number.isNaN(Number(eta))) eta = (Date.parse(eta) - Date.now()) / 1000;
    if (eta == null && rate && total > processed) eta = (total - processed) / rate;
    const parts = [`${count(processed)} / ${count(total)} ${unit}`];
    if (rate && unit === "leads") parts.push(`${rate >= 10 ? Math.round(rate).toLocaleString("en") : num(rate, 1)} leads per second`);
    if (job.status === "running" && eta != null) parts.push(`about ${duration(Number(eta))} left`);
    if (job.failed) parts.push(`${count(job.failed)} failed`);
    const word = job.status.charAt(0).toUpperCase() + job.status.slice(1);
    status.textContent = `${word}: ${parts.join(" · ")}`;
    if (!["queued", "running", "cancelling"].includes(job.status)) {
      if (job.status === "succeeded" && total > 0) bar.value = bar.max;
      byId("job-cancel").hidden = true;
      state.job = null;
      return job;
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS));
  }
}

async function runBulk() {
  setBusy(true);
  showResult("");
  try {
    let response;
    try {
      response = await api(`/${state.configId}/ml/bulk-predict`, { method: "POST",
        body: JSON.stringify({ all: true, async: true, forceRefresh: byId("bulk-force").checked }) });
    } catch (err) {
      if (err.status === 409 && err.body?.details?.jobId) {
        response = { jobId: err.body.details.jobId };  // one already runs: follow it
      } else if (err.status === 404 || err.status === 405) {
        markBulkUnavailable();
        return;
      } else {
        throw err;
      }
    }
    let processed, failed;
    if (response.jobId != null) {
      const job = await followJob(response.jobId, "Bulk predictions", "leads");
      if (job.status !== "succeeded") {
        showResult(`Bulk predictions ${job.status}${job.error ? ": " + job.error : ""}.`, job.status === "failed");
        await loadRanking();
        return;
      }
      ({ processed, failed } = job);
    } else {
      ({ processed, failed } = response);
    }
    await Promise.all([loadRanking(), loadMetrics()]);
    showResult(`Bulk predictions finished: ${count(processed)} leads scored` +
      (failed ? `, ${count(failed)} failed` : "") + `. The ranking below is refreshed.`);
  } catch (err) {
    showResult(`Bulk predictions failed: ${err.message}`, true);
  } finally {
    setBusy(false);
  }
}

async function runTraining() {
  setBusy(true);
  showResult("");
  try {
    let jobId;
    try {
      ({ jobId } = await api(`/${state.configId}/ml/train`, { method: "POST", body: "{}" }));
    } catch (err) {
      if (err.status !== 409 || !err.body?.details?.jobId) throw err;
      jobId = err.body.details.jobId;
    }
    const job = await followJob(jobId, "Training", "steps");
    await Promise.all([loadModels(), loadImportance(), loadMetrics()]);
    if (job.status !== "succeeded") {
      showResult(`Training ${job.status}${job.error ? ": " + job.error : ""}.`, job.status === "failed");
      return;
    }
    const conv = (job.result || {}).conversion || {};
    const m = conv.metrics || {};
    let text = `Trained conversion model v${conv.version}: AUC ${num(m.auc, 3)}, calibration error ${num(m.ece, 3)}, ` +
      `top-decile lift ${num(m.lift_top_decile, 2)}. `;
    const why = conv.reason ? ": " + conv.reason.replace(/^(not )?promoted: /, "") : "";
    text += conv.promoted
      ? `Promoted${why}. It is now the active model; run bulk predictions to re-score the ranking.`
      : `Not promoted${why || `: the active model's AUC on the same hold-out is ${num(m.activeAucOnSameHoldout, 3)}`}. ` +
        "The active model stays.";
    const ttc = (job.result || {}).timeToClose || {};
    if (ttc.version) text += ` Time-to-close model v${ttc.version} ${ttc.promoted ? "promoted" : "not promoted"}.`;
    else if (ttc.skipped) text += ` Time to close: ${ttc.skipped}.`;
    showResult(text);
  } catch (err) {
    showResult(`Training failed: ${err.message}`, true);
  } finally {
    setBusy(false);
  }
}

function markBulkUnavailable() {
  byId("bulk-run").disabled = true;
  byId("bulk-run").title = "Not available on this server yet";
  byId("bulk-unavailable").hidden = false;
  byId("bulk-force").closest("label").hidden = true;
}

// --- wiring --------------------------------------------------------------------------------------

byId("details-close").addEventListener("click", () => {
  const lead = state.lead;
  closeDetails();
  document.querySelector(`#leads-body tr[data-lead-id="${lead?.leadId}"] button`)?.focus();
});
document.addEventListener("keydown", event => {
  if (event.key === "Escape" && !byId("details").hidden) byId("details-close").click();
});
byId("validate-yes").addEventListener("click", () => validate(true));
byId("validate-no").addEventListener("click", () => validate(false));
byId("rescore").addEventListener("click", rescore);
byId("bulk-run").addEventListener("click", runBulk);
byId("train-run").addEventListener("click", runTraining);
byId("job-cancel").addEventListener("click", async () => {
  if (state.job == null) return;
  try { await api(`/jobs/${state.job}/cancel`, { method: "POST", body: "{}" }); }
  catch (err) { showMessage(`Could not cancel: ${err.message}`); }
});

for (const id of ["f-tier", "f-pagesize"]) byId(id).addEventListener("change", () => { state.page = 0; renderLeads(); });
for (const id of ["f-minprob", "f-search"]) byId(id).addEventListener("input", () => { state.page = 0; renderLeads(); });
byId("filters").addEventListener("submit", event => event.preventDefault());
byId("page-prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); renderLeads(); });
byId("page-next").addEventListener("click", () => { state.page += 1; renderLeads(); });
for (const th of document.querySelectorAll("#leads-table th[data-sort]")) {
  th.querySelector("button").addEventListener("click", () => {
    const key = th.dataset.sort;
    // Numbers where bigger is better start descending; rank and text start ascending.
    const firstDir = ["priorityRank", "name", "company", "predictedDays"].includes(key) ? 1 : -1;
    state.sort = state.sort.key === key ? { key, dir: -state.sort.dir } : { key, dir: firstDir };
    state.page = 0;
    renderLeads();
  });
}

byId("score-form").addEventListener("submit", async event => {
  event.preventDefault();
  const input = byId("score-lead-id");
  const message = byId("score-message");
  const leadId = Number(input.value);
  message.textContent = "Scoring…";
  try {
    const { prediction: p } = await api(`/leads/${leadId}/ml/predict`, { method: "POST", body: "{}" });
    message.textContent = `Lead #${leadId}: ${pct(p.probability)} conversion probability (${p.priorityTier} tier).`;
    await Promise.all([loadRanking(), loadMetrics()]);
  } catch (err) {
    message.textContent = `Could not score lead #${leadId}: ${err.message}`;
  }
});

(async () => {
  await detectEndpoints();
  if (!has("POST", "/{}/ml/bulk-predict")) markBulkUnavailable();
  await loadConfigs();
})().catch(err => showMessage(err.message));
