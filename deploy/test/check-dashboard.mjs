#!/usr/bin/env node
// Checks the Grafana dashboard against what the scaler really exports.
//
//   curl -s localhost:9091/metrics > /tmp/metrics.txt
//   node check-dashboard.mjs /tmp/metrics.txt [deploy/grafana/metrics-keda-dashboard.json]
//
// Checks: the dashboard is JSON with panels; queries use the templated ${datasource}
// and the namespace/component/endpoint variables exist; every query has balanced
// brackets; and every metric name used by a panel or templating query (PromQL with
// functions, label matchers, ranges, grouping clauses and Grafana variables
// stripped; name_bucket/_sum/_count mapped to their histogram or summary family) is
// in the Prometheus text exposition given: a sample, or a family's # TYPE line.
// Prints one line per check and, last, "N passed, M failed"; exits 1 on any failure.
//
// The exposition must come from a scaler that has seen workers and served KEDA
// calls: per-worker and fleet gauges appear only while workers report.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [expositionPath, dashboardPath = join(here, "../grafana/metrics-keda-dashboard.json")] =
  process.argv.slice(2);
if (!expositionPath || expositionPath === "-h" || expositionPath === "--help") {
  console.error("usage: check-dashboard.mjs EXPOSITION.txt|- [DASHBOARD.json]");
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(ok, what, detail = []) {
  if (ok) {
    passed++;
    console.log(`ok   ${what}`);
  } else {
    failed++;
    console.log(`FAIL ${what}`);
    for (const d of detail) console.log(`       - ${d}`);
  }
  return ok;
}
function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

// ------------------------------------------------------------- exposition

function parseExposition(text) {
  const types = new Map();
  const samples = new Set();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const type = /^#\s*TYPE\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s+(\w+)/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    if (line.startsWith("#")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (sample) samples.add(sample[1]);
  }
  return { types, samples };
}

// The family a used name belongs to, or null when the exposition lacks it.
function familyOf(name, { types, samples }) {
  for (const [suffix, kinds] of [
    ["_bucket", ["histogram"]],
    ["_sum", ["histogram", "summary"]],
    ["_count", ["histogram", "summary"]],
    ["_total", ["counter"]], // OpenMetrics names counter families without _total
  ]) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (kinds.includes(types.get(base))) return base;
    }
  }
  if (types.has(name) || samples.has(name)) return name;
  return null;
}

// ----------------------------------------------------------------- PromQL

const KEYWORDS = new Set([
  "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
  "and", "or", "unless", "offset", "inf", "nan", "start", "end",
]);

const VAR = "__grafana_variable__";

// Metric names in a PromQL expression (or a Grafana variable query).
function metricNames(query) {
  let q = query;
  // Grafana variable functions: label_values(expr, label), query_result(expr).
  const lv = /^\s*label_values\s*\(([\s\S]*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/.exec(q);
  if (lv) q = lv[1];
  else if (/^\s*label_values\s*\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/.test(q)) return [];
  else if (/^\s*(label_names|metrics)\s*\(/.test(q)) return [];
  const qr = /^\s*query_result\s*\(([\s\S]*)\)\s*$/.exec(q);
  if (qr) q = qr[1];

  q = q
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings
    .replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, VAR) // Grafana variables: $x, ${x}, ${x:fmt}
    .replace(/\{[^{}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " $1 ") // label lists
    .replace(/\b(\d+(ms|s|m|h|d|w|y))+\b/g, " ") // durations (offset 1h30m)
    .replace(/\b0x[0-9a-fA-F]+\b|(\b\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/g, " "); // numbers
  const names = [];
  for (const m of q.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = q.slice(m.index + m[0].length);
    if (/^\s*((by|without)\s*)?\(/.test(rest)) continue; // a function or an aggregation
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    if (m[0].includes(VAR)) continue; // a name built from a variable cannot be checked
    names.push(m[0]);
  }
  return names;
}

function balanced(query) {
  const pairs = { ")": "(", "]": "[", "}": "{" };
  const stack = [];
  const q = query.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  for (const ch of q) {
    if ("([{".includes(ch)) stack.push(ch);
    else if (ch in pairs) {
      if (stack.pop() !== pairs[ch]) return false;
    }
  }
  return stack.length === 0;
}

// -------------------------------------------------------------- dashboard

let exposition;
try {
  exposition = parseExposition(readFileSync(expositionPath === "-" ? 0 : expositionPath, "utf8"));
} catch (e) {
  check(false, `exposition ${expositionPath} is readable`, [e.message]);
  finish();
}
check(exposition.samples.size + exposition.types.size > 0,
  `exposition ${expositionPath} has metrics (${exposition.types.size} families, ${exposition.samples.size} sample names)`,
  ["no sample and no # TYPE line found: is this Prometheus text format?"]);

let dashboard;
try {
  dashboard = JSON.parse(readFileSync(dashboardPath, "utf8"));
  check(true, `${dashboardPath} parses as JSON`);
} catch (e) {
  check(false, `${dashboardPath} parses as JSON`, [e.message]);
  finish();
}

function allPanels(list) {
  const out = [];
  for (const p of list || []) {
    out.push(p);
    if (Array.isArray(p.panels)) out.push(...allPanels(p.panels));
  }
  return out;
}
const panels = allPanels(dashboard.panels);
const dataPanels = panels.filter((p) => p.type !== "row");
check(dataPanels.length > 0, `dashboard has panels (${dataPanels.length}, in ${panels.length - dataPanels.length} rows)`,
  ["no panel besides rows"]);

const ids = panels.map((p) => p.id);
const duplicateIds = ids.filter((id, i) => ids.indexOf(id) !== i);
check(duplicateIds.length === 0 && ids.every((id) => Number.isInteger(id)), "panel ids are unique integers",
  [`duplicate or missing ids: ${[...new Set(duplicateIds)].join(", ") || "missing"}`]);

// Every query, with where it comes from.
const queries = [];
for (const p of dataPanels) {
  for (const t of p.targets || []) {
    if (typeof t.expr === "string" && t.expr.trim() !== "") {
      queries.push({ where: `panel "${p.title}" ${t.refId || ""}`.trim(), expr: t.expr, ds: t.datasource || p.datasource });
    }
  }
}
const variables = (dashboard.templating && dashboard.templating.list) || [];
for (const v of variables) {
  if (v.type !== "query") continue;
  const expr = typeof v.query === "string" ? v.query : v.query && v.query.query;
  if (typeof expr === "string" && expr.trim() !== "") {
    queries.push({ where: `variable $${v.name}`, expr, ds: v.datasource });
  }
}
check(queries.length > 0, `dashboard has queries (${queries.length})`, ["no panel target has an expr"]);

const dsVar = variables.find((v) => v.type === "datasource" && v.query === "prometheus");
const badDs = queries.filter((q) => {
  const uid = typeof q.ds === "string" ? q.ds : q.ds && q.ds.uid;
  return !dsVar || (uid !== `\${${dsVar.name}}` && uid !== `$${dsVar.name}`);
});
check(Boolean(dsVar) && badDs.length === 0, "every query uses the templated Prometheus data source",
  dsVar ? badDs.map((q) => `${q.where} does not use \${${dsVar.name}}`)
        : ["no templating variable of type datasource with query prometheus"]);

const varNames = new Set(variables.map((v) => v.name));
const missingVars = ["namespace", "component", "endpoint"].filter((n) => !varNames.has(n));
check(missingVars.length === 0, "template variables namespace, component and endpoint exist",
  missingVars.map((n) => `no variable $${n}`));
const used = new Set();
for (const q of queries) for (const m of q.expr.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) used.add(m[1]);
const undefinedVars = [...used].filter((n) => !n.startsWith("__") && !varNames.has(n));
check(undefinedVars.length === 0, "queries use only defined variables",
  undefinedVars.map((n) => `$${n} is not a templating variable`));

const unbalanced = queries.filter((q) => !balanced(q.expr));
check(unbalanced.length === 0, "every query has balanced brackets",
  unbalanced.map((q) => `${q.where}: ${q.expr}`));

// Metric names, grouped by family.
const byName = new Map();
for (const q of queries) {
  for (const name of metricNames(q.expr)) {
    if (!byName.has(name)) byName.set(name, new Set());
    byName.get(name).add(q.where);
  }
}
check(byName.size > 0, `queries name metrics (${byName.size} names)`, ["no metric name found in any query"]);
const families = new Map(); // family -> {names, where}
const missing = [];
for (const [name, where] of byName) {
  const family = familyOf(name, exposition);
  if (family === null) {
    missing.push({ name, where });
    continue;
  }
  if (!families.has(family)) families.set(family, { names: new Set(), where: new Set() });
  families.get(family).names.add(name);
  for (const w of where) families.get(family).where.add(w);
}
for (const [family, { names }] of [...families].sort()) {
  const via = [...names].filter((n) => n !== family);
  check(true, `metric ${family}${via.length ? ` (as ${via.join(", ")})` : ""}`);
}
for (const { name, where } of missing.sort((a, b) => a.name.localeCompare(b.name))) {
  check(false, `metric ${name} is not in the exposition`,
    [`used by ${[...where].slice(0, 4).join("; ")}${where.size > 4 ? `; and ${where.size - 4} more` : ""}`]);
}
finish();
