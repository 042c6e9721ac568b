// ML Insights page: reads the JSON API with the session cookie. Every value from the server is put
// on the page with textContent (never innerHTML), so lead names etc. cannot inject markup.
"use strict";

const root = document.getElementById("insights");
const API = root.dataset.apiBase;
const CATEGORY_MAX = JSON.parse(root.dataset.categoryMax);
const CATEGORY_COLORS = ["demographic", "behavioral", "temporal", "engagement", "custom"];
let configId = null;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function byId(id) { return document.getElementById(id); }
function pct(p) { return p == null ? "–" : (100 * p).toFixed(1) + "%"; }
function num(x, digits = 2) { return x == null ? "–" : Number(x).toFixed(digits); }
// "meetingCount" / "attr_industry" -> "Meeting Count" / "Attr Industry"
function label(name) {
  return String(name).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/_/g, " ")
    .replace(/\b[a-z]/g, c => c.toUpperCase());
}
function categoryClass(category) {
  return "cat-" + (CATEGORY_COLORS.includes(category) ? category : "other");
}

function showMessage(text) {
  const box = byId("page-message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function api(path, options = {}) {
  const response = await fetch(API + path, {
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  if (response.status === 401) { window.location.assign("/"); throw new Error("signed out"); }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `request failed (${response.status})`);
  return body;
}

// One horizontal bar: label, a filled track (width = share of max) and the value text.
function bar(name, fraction, valueText, cls) {
  const width = Math.max(0, Math.min(1, fraction)) * 100;
  return el("div", { class: "bar-row" },
    el("span", { class: "bar-label", text: name, title: name }),
    el("span", { class: "bar-track" }, el("span", { class: "bar-fill " + cls, style: { width: width + "%" } })),
    el("span", { class: "bar-value", text: valueText }));
}

async function loadConfigs() {
  const { configs } = await api("/configs");
  const select = byId("config-select");
  select.replaceChildren(...configs.map(c => el("option", { value: c.id, text: `${c.name} (#${c.id})` })));
  if (!configs.length) { showMessage("No scoring configs yet: create one through the API first."); return; }
  configId = configs[0].id;
  select.addEventListener("change", () => { configId = Number(select.value); refresh(); });
  refresh();
}

function refresh() {
  byId("details").hidden = true;
  showMessage("");
  for (const load of [loadMetrics, loadImportance, loadTopLeads]) {
    load().catch(err => showMessage(err.message));
  }
}

async function loadMetrics() {
  const [acc, models] = await Promise.all([api(`/${configId}/ml/accuracy`), api(`/${configId}/ml/models`)]);
  byId("m-total").textContent = acc.totalPredictions;
  byId("m-validated").textContent = acc.validatedCount;
  byId("m-accuracy").textContent = acc.accuracy == null ? "no feedback yet" : pct(acc.accuracy);
  const active = models.models.find(m => m.kind === "conversion" && m.status === "active");
  if (!active) {
    byId("m-model").textContent = "rules (no trained model yet)";
    byId("m-holdout").textContent = "";
    return;
  }
  const m = active.metrics || {};
  byId("m-model").textContent = `model v${active.version}`;
  byId("m-holdout").textContent =
    `Hold-out: AUC ${num(m.auc, 3)} · ECE ${num(m.ece, 3)} · top-decile lift ${num(m.lift_top_decile, 2)}`;
}

async function loadImportance() {
  const data = await api(`/${configId}/ml/feature-importance`);
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

async function loadTopLeads() {
  const { leads } = await api(`/${configId}/ml/top-leads?n=25`);
  byId("leads-empty").hidden = leads.length > 0;
  byId("leads-body").replaceChildren(...leads.map(lead => {
    const who = el("td", {},
      el("div", { class: "lead-name", text: lead.name || lead.email || `Lead #${lead.leadId}` }),
      el("div", { class: "muted small", text: lead.name ? (lead.email || "") : (lead.title || "") }));
    const row = el("tr", { class: "lead-row", tabindex: "0", "data-lead-id": lead.leadId },
      el("td", { text: lead.priorityRank }), who, el("td", { text: lead.company || "–" }),
      el("td", {}, el("span", { class: "tier tier-" + lead.priorityTier, text: lead.priorityTier })),
      el("td", { text: pct(lead.conversionProbability) }), el("td", { text: num(lead.predictedDays, 0) }),
      el("td", {}, el("span", { class: "level level-" + lead.scoreLevel, text: lead.scoreLevel })));
    const open = () => showDetails(lead.leadId, lead.name || lead.email || `Lead #${lead.leadId}`);
    row.addEventListener("click", open);
    row.addEventListener("keydown", e => { if (e.key === "Enter") open(); });
    return row;
  }));
}

async function predict(leadId) {
  return (await api(`/leads/${leadId}/ml/predict`, { method: "POST", body: "{}" })).prediction;
}

async function showDetails(leadId, who) {
  const panel = byId("details");
  byId("d-lead").textContent = who;
  byId("d-explanation").textContent = "Loading…";
  panel.hidden = false;
  let p;
  try { p = await predict(leadId); } catch (err) { byId("d-explanation").textContent = err.message; return; }
  byId("d-probability").textContent = pct(p.probability);
  byId("d-confidence").textContent = pct(p.confidence);
  byId("d-level").textContent = p.predictedScoreLevel;
  const ci = p.confidenceInterval || {};
  byId("d-days").textContent = `${num(p.predictedDays, 0)} (${num(ci.low, 0)}–${num(ci.high, 0)})`;
  byId("d-source").textContent = `Source: ${p.source}${p.modelVersion ? " v" + p.modelVersion : ""}` +
    ` · priority ${num(p.priorityScore, 1)} (${p.priorityTier}) · predicted ${new Date(p.predictedAt).toLocaleString()}`;
  byId("d-explanation").textContent = p.explanation || "";
  byId("d-breakdown").replaceChildren(...Object.entries(p.scoreBreakdown || {}).map(([cat, points]) =>
    bar(label(cat), points / (CATEGORY_MAX[cat] || 100), `${num(points, 1)} / ${CATEGORY_MAX[cat] ?? "?"}`,
      categoryClass(cat))));
  byId("d-risks").replaceChildren(...(p.riskFactors.length ? p.riskFactors.map(r =>
    el("li", {}, el("span", { class: "impact impact-" + r.impact, text: r.impact }), " ",
      el("strong", { text: r.factor }), el("div", { class: "muted small", text: r.description || "" })))
    : [el("li", { class: "muted", text: "None found." })]));
  byId("d-recommendations").replaceChildren(...(p.recommendations.length ? p.recommendations.map(r =>
    el("li", {}, el("span", { class: "impact impact-" + r.priority, text: r.priority }), " ",
      el("strong", { text: r.action }),
      el("div", { class: "muted small", text: [r.rationale, r.timeframe].filter(Boolean).join(" · ") })))
    : [el("li", { class: "muted", text: "None." })]));
  panel.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

byId("details-close").addEventListener("click", () => { byId("details").hidden = true; });

byId("score-form").addEventListener("submit", async event => {
  event.preventDefault();
  const input = byId("score-lead-id");
  const message = byId("score-message");
  const leadId = Number(input.value);
  message.textContent = "Scoring…";
  try {
    const p = await predict(leadId);
    message.textContent = `Lead #${leadId}: ${pct(p.probability)} conversion probability (${p.priorityTier} tier).`;
    await loadTopLeads();
    await loadMetrics();
  } catch (err) {
    message.textContent = `Could not score lead #${leadId}: ${err.message}`;
  }
});

loadConfigs().catch(err => showMessage(err.message));
