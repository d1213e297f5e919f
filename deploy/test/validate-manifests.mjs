#!/usr/bin/env node
// Validates Kubernetes and KEDA objects offline, the way an API server would before
// admitting them, plus metrics-keda's own rules for the objects that point at it.
//
//   kubectl kustomize deploy/kubernetes/base | node validate-manifests.mjs [--name base]
//   node validate-manifests.mjs a.yaml b.yaml      (multi-document YAML files)
//
// For every object:
//   1. schema: the kubernetes-models class for its apiVersion/kind
//      (`new Deployment(obj).validate()`; ScaledObject and TriggerAuthentication
//      from @kubernetes-models/keda). An apiVersion/kind with no class is an error.
//   2. strict fields: a field the schema does not define is an error (what
//      `kubectl apply --validate=strict` reports; the schemas alone accept them).
//   3. consistency: metadata.name; probes with exactly one handler and ports the
//      container declares; selectors that select the pod template; Services that
//      select a workload of the same input and name ports it declares.
//   4. KEDA and metrics-keda: ScaledObject replica bounds, fallback (needs an
//      AverageValue trigger), authenticationRef resolving to a TriggerAuthentication
//      of the same input with the parameters the external scaler reads; for
//      external and external-push triggers, the trigger metadata rules of
//      metrics-keda (README "Trigger metadata").
// Prints one line per object and, last, "N passed, M failed"; exits 1 on any failure.

import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// ------------------------------------------------------------------ input

function usage() {
  return "usage: validate-manifests.mjs [--name LABEL] [FILE.yaml ... | -]  (stdin when no FILE)";
}

const args = process.argv.slice(2);
let stdinName = "<stdin>";
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--name") {
    if (i + 1 >= args.length) {
      console.error(usage());
      process.exit(2);
    }
    stdinName = args[++i];
  } else if (args[i] === "-h" || args[i] === "--help") {
    console.log(usage());
    process.exit(0);
  } else {
    files.push(args[i]);
  }
}
if (files.length === 0) files.push("-");

const results = []; // {label, errors: [], warnings: []}
const objects = []; // {source, index, obj, result}

for (const file of files) {
  const source = file === "-" ? stdinName : file;
  let text;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    results.push({ label: source, errors: [`cannot read: ${e.message}`], warnings: [] });
    continue;
  }
  const docs = parseAllDocuments(text, { prettyErrors: true });
  docs.forEach((doc, index) => {
    const where = `${source}#${index + 1}`;
    if (doc.errors.length > 0) {
      results.push({
        label: `${where} (YAML)`,
        errors: doc.errors.map((e) => e.message.split("\n")[0]),
        warnings: [],
      });
      return;
    }
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // an empty document
    const items =
      isObject(value) && value.kind === "List" && Array.isArray(value.items) ? value.items : [value];
    for (const obj of items) {
      const result = { label: describe(obj, where), errors: [], warnings: [] };
      results.push(result);
      objects.push({ source, where, obj, result });
    }
  });
}

// --------------------------------------------------------------- helpers

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function describe(obj, where) {
  if (!isObject(obj)) return `${where} (not an object)`;
  const kind = typeof obj.kind === "string" ? obj.kind : "<no kind>";
  const name = isObject(obj.metadata) && obj.metadata.name ? obj.metadata.name : "<no name>";
  return `${kind}/${name} (${where})`;
}

const moduleCache = new Map();
async function modelClass(apiVersion, kind) {
  let specifier;
  if (apiVersion === "keda.sh/v1alpha1") {
    specifier = "@kubernetes-models/keda/keda.sh/v1alpha1";
  } else if (/^[a-z0-9.-]*\/?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion)) {
    specifier = `kubernetes-models/${apiVersion}`;
  } else {
    return null;
  }
  if (!moduleCache.has(specifier)) {
    moduleCache.set(
      specifier,
      await import(specifier).catch(() => null),
    );
  }
  const mod = moduleCache.get(specifier);
  const cls = mod && mod[kind];
  if (typeof cls !== "function" || cls.kind !== kind || cls.apiVersion !== apiVersion) return null;
  return cls;
}

// Wraps every object of a plain JSON tree in a Proxy that records which of its keys
// the validator reads. The kubernetes-models validators are ajv code compiled from
// the OpenAPI schemas: they read each property the schema defines, and enumerate
// the keys of maps (additionalProperties). So a key that was never read, on an
// object whose keys were not enumerated, is a field the schema does not know. An
// object the validator never touched has no schema (free-form) and is skipped.
function track(value, path, nodes) {
  if (Array.isArray(value)) return value.map((v, i) => track(v, `${path}[${i}]`, nodes));
  if (!isObject(value)) return value;
  const node = { path, keys: Object.keys(value), read: new Set(), enumerated: false, touched: false };
  nodes.push(node);
  const target = {};
  for (const key of node.keys) {
    target[key] = track(value[key], path === "" ? key : `${path}.${key}`, nodes);
  }
  const note = (key) => {
    node.touched = true;
    if (typeof key === "string") node.read.add(key);
  };
  return new Proxy(target, {
    get(t, key, receiver) {
      note(key);
      return Reflect.get(t, key, receiver);
    },
    has(t, key) {
      note(key);
      return Reflect.has(t, key);
    },
    getOwnPropertyDescriptor(t, key) {
      note(key);
      return Reflect.getOwnPropertyDescriptor(t, key);
    },
    ownKeys(t) {
      node.touched = true;
      node.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

function unknownFields(cls, obj) {
  const nodes = [];
  const tracked = track(obj, "", nodes);
  try {
    cls.prototype.validate.call(tracked);
  } catch {
    // Schema errors are reported by the schema step; only the reads matter here.
  }
  const unknown = [];
  for (const node of nodes) {
    if (!node.touched || node.enumerated) continue;
    for (const key of node.keys) {
      if (!node.read.has(key)) unknown.push(node.path === "" ? key : `${node.path}.${key}`);
    }
  }
  return unknown;
}

function schemaErrors(cls, obj) {
  try {
    new cls(obj).validate();
    return [];
  } catch (e) {
    // ajv's messages, joined with ", " by @kubernetes-models/validate.
    return String(e.message)
      .split(/, (?=data[/ ])/)
      .map((m) => m.replace(/^data\/?/, "").replace(/\//g, ".").trim())
      .map((m) => `schema: ${m}`);
  }
}

// --------------------------------------------------- consistency of objects

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);

function podTemplate(obj) {
  if (obj.kind === "Pod") return { metadata: obj.metadata, spec: obj.spec };
  if (WORKLOAD_KINDS.has(obj.kind) && isObject(obj.spec)) return obj.spec.template;
  return undefined;
}

function labelsMatch(selector, labels) {
  if (!isObject(selector)) return false;
  return Object.entries(selector).every(([k, v]) => isObject(labels) && labels[k] === v);
}

function checkMetadata(obj, r) {
  const md = obj.metadata;
  if (!isObject(md) || (!md.name && !md.generateName)) {
    r.errors.push("metadata.name is missing");
    return;
  }
  if (md.name && (md.name.length > 253 || !DNS_SUBDOMAIN.test(md.name))) {
    r.errors.push(`metadata.name "${md.name}" is not a DNS subdomain (lower case, digits, - and .)`);
  }
}

function checkPodSpec(obj, r) {
  const tpl = podTemplate(obj);
  if (!isObject(tpl) || !isObject(tpl.spec)) return;
  const spec = tpl.spec;
  if (obj.kind !== "Pod" && isObject(obj.spec) && isObject(obj.spec.selector)) {
    const match = obj.spec.selector.matchLabels;
    if (match && !labelsMatch(match, tpl.metadata && tpl.metadata.labels)) {
      r.errors.push("spec.selector.matchLabels does not select spec.template.metadata.labels");
    }
  }
  const volumes = new Set((spec.volumes || []).map((v) => v && v.name));
  const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
  for (const c of containers) {
    if (!isObject(c)) continue;
    const where = `container "${c.name}"`;
    const portNames = new Set();
    const portNumbers = new Set();
    for (const p of c.ports || []) {
      if (!isObject(p)) continue;
      if (p.name) {
        if (portNames.has(p.name)) r.errors.push(`${where}: port name "${p.name}" is used twice`);
        if (p.name.length > 15) r.errors.push(`${where}: port name "${p.name}" is longer than 15`);
        portNames.add(p.name);
      }
      portNumbers.add(p.containerPort);
    }
    for (const probeName of ["livenessProbe", "readinessProbe", "startupProbe"]) {
      const probe = c[probeName];
      if (!isObject(probe)) continue;
      const handlers = ["exec", "httpGet", "tcpSocket", "grpc"].filter((h) => probe[h] !== undefined);
      if (handlers.length !== 1) {
        r.errors.push(`${where}: ${probeName} needs exactly one handler, has ${handlers.length ? handlers.join(", ") : "none"}`);
        continue;
      }
      const handler = probe[handlers[0]];
      if (!isObject(handler) || handler.port === undefined) continue;
      const port = handler.port;
      if (typeof port === "string" && !/^\d+$/.test(port)) {
        if (handlers[0] === "grpc") {
          r.errors.push(`${where}: ${probeName}.grpc.port must be a number`);
        } else if (!portNames.has(port)) {
          r.errors.push(`${where}: ${probeName} names port "${port}", which the container does not declare`);
        }
      } else if (!portNumbers.has(Number(port))) {
        r.warnings.push(`${where}: ${probeName} probes port ${port}, which the container does not declare`);
      }
    }
    for (const m of c.volumeMounts || []) {
      if (isObject(m) && !volumes.has(m.name)) {
        r.errors.push(`${where}: volumeMount "${m.name}" names no volume of the pod`);
      }
    }
    const sc = c.securityContext;
    if (isObject(sc) && sc.runAsNonRoot === true && sc.runAsUser === 0) {
      r.errors.push(`${where}: runAsNonRoot with runAsUser 0 can never start`);
    }
  }
}

function checkService(obj, r, all) {
  const spec = obj.spec;
  if (!isObject(spec) || !isObject(spec.selector)) return;
  const workloads = all.filter((o) => isObject(podTemplate(o.obj)));
  if (workloads.length === 0) return; // nothing to compare with in this input
  const selected = workloads.filter((o) => {
    const tpl = podTemplate(o.obj);
    return labelsMatch(spec.selector, tpl.metadata && tpl.metadata.labels);
  });
  if (selected.length === 0) {
    r.errors.push("spec.selector selects no pod template of this input");
    return;
  }
  const names = new Set();
  for (const o of selected) {
    for (const c of podTemplate(o.obj).spec.containers || []) {
      for (const p of c.ports || []) if (p && p.name) names.add(p.name);
    }
  }
  for (const p of spec.ports || []) {
    if (isObject(p) && typeof p.targetPort === "string" && !names.has(p.targetPort)) {
      r.errors.push(`port "${p.name}": targetPort "${p.targetPort}" is not a container port of the selected pods`);
    }
  }
}

// ---------------------------------------------------- KEDA and metrics-keda

const METRICS = {
  llm_load_avg: { max: 1, unit: "load 0-1" },
  llm_kv_blocks_usage_percent: { max: 100, unit: "percent" },
  llm_request_slots_usage_percent: { max: 100, unit: "percent" },
  llm_requests_waiting: { max: Infinity, unit: "requests per worker", thresholdRequired: true },
};
const NAME_RULE = /^[A-Za-z0-9_-]{1,128}$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const TLS_AUTH_PARAMETERS = new Set(["caCert", "tlsClientCert", "tlsClientKey"]);

function checkTrigger(trigger, i, r, auths, kind) {
  const where = `spec.triggers[${i}]${trigger.name ? ` (${trigger.name})` : ""}`;
  const md = isObject(trigger.metadata) ? trigger.metadata : {};
  const effectiveType = trigger.metricType || "AverageValue";
  if (trigger.authenticationRef && isObject(trigger.authenticationRef)) {
    const ref = trigger.authenticationRef;
    const refKind = ref.kind || "TriggerAuthentication";
    const auth = auths.find((a) => a.kind === refKind && a.metadata && a.metadata.name === ref.name);
    if (!auth) {
      r.warnings.push(`${where}: authenticationRef ${refKind}/${ref.name} is not in this input`);
    } else if (trigger.type === "external" || trigger.type === "external-push") {
      for (const t of (auth.spec && auth.spec.secretTargetRef) || []) {
        if (isObject(t) && !TLS_AUTH_PARAMETERS.has(t.parameter)) {
          r.errors.push(`${where}: ${refKind}/${ref.name} sets parameter "${t.parameter}", which KEDA's external scaler ignores (it reads caCert, tlsClientCert, tlsClientKey)`);
        }
      }
    }
  }
  if (trigger.type !== "external" && trigger.type !== "external-push") return effectiveType;

  if (!md.scalerAddress) {
    r.errors.push(`${where}: metadata.scalerAddress is required for ${trigger.type} triggers`);
  } else if (!/^(dns:\/\/\/)?[A-Za-z0-9.-]+:\d{1,5}$/.test(md.scalerAddress)) {
    r.errors.push(`${where}: metadata.scalerAddress "${md.scalerAddress}" is not host:port`);
  }
  if (md.enableTLS !== undefined && !/^(true|false)$/i.test(md.enableTLS)) {
    r.errors.push(`${where}: metadata.enableTLS "${md.enableTLS}" is not true or false`);
  }
  for (const key of ["namespace", "component", "endpoint"]) {
    if (md[key] !== undefined && !NAME_RULE.test(md[key])) {
      r.errors.push(`${where}: metadata.${key} "${md[key]}" must be 1-128 characters of [A-Za-z0-9_-]`);
    }
  }
  const metricName = md.metricName === undefined ? "llm_load_avg" : md.metricName;
  const metric = METRICS[metricName];
  if (!metric) {
    r.errors.push(`${where}: metadata.metricName "${metricName}" is not one of ${Object.keys(METRICS).join(", ")}`);
  }
  if (md.threshold === undefined) {
    if (metric && metric.thresholdRequired) {
      r.errors.push(`${where}: metadata.threshold is required for ${metricName}`);
    }
  } else if (!NUMBER.test(md.threshold) || !(Number(md.threshold) > 0)) {
    r.errors.push(`${where}: metadata.threshold "${md.threshold}" must be a finite number > 0`);
  } else if (metric && Number(md.threshold) > metric.max) {
    r.errors.push(`${where}: metadata.threshold ${md.threshold} exceeds the range of ${metricName} (${metric.unit}, at most ${metric.max}): the fleet can never reach it, so the HPA would only scale down`);
  } else if (metric && metric.max === 100 && Number(md.threshold) <= 1) {
    r.warnings.push(`${where}: metadata.threshold ${md.threshold} for ${metricName} is a percentage; did you mean ${Number(md.threshold) * 100}?`);
  }
  if (md.activationThreshold !== undefined &&
      (!NUMBER.test(md.activationThreshold) || !(Number(md.activationThreshold) >= 0))) {
    r.errors.push(`${where}: metadata.activationThreshold "${md.activationThreshold}" must be a finite number >= 0`);
  }
  if (md.metricType !== undefined && md.metricType !== "AverageValue" && md.metricType !== "Value") {
    r.errors.push(`${where}: metadata.metricType "${md.metricType}" must be AverageValue or Value`);
  }
  // KEDA does not forward the trigger's metricType, so metrics-keda needs it mirrored.
  if ((md.metricType || "AverageValue") !== effectiveType) {
    r.errors.push(`${where}: trigger metricType ${effectiveType} and metadata.metricType ${md.metricType || "(AverageValue)"} differ; metrics-keda would answer for the wrong one`);
  }
  if (kind === "ScaledObject" && trigger.type === "external-push" && md.activationThreshold === undefined) {
    r.warnings.push(`${where}: external-push without metadata.activationThreshold activates on any value above 0`);
  }
  return effectiveType;
}

function checkScaledObject(obj, r, all) {
  const spec = obj.spec;
  if (!isObject(spec)) return;
  const min = spec.minReplicaCount ?? 0;
  const max = spec.maxReplicaCount ?? 100;
  if (min > max) r.errors.push(`spec.minReplicaCount ${min} is greater than spec.maxReplicaCount ${max}`);
  if (spec.idleReplicaCount !== undefined && spec.idleReplicaCount >= min) {
    r.errors.push(`spec.idleReplicaCount ${spec.idleReplicaCount} must be less than spec.minReplicaCount ${min}`);
  }
  const auths = all.map((o) => o.obj).filter((o) => isObject(o) && /TriggerAuthentication$/.test(o.kind));
  const types = (spec.triggers || []).map((t, i) => (isObject(t) ? checkTrigger(t, i, r, auths, obj.kind) : undefined));
  if (!Array.isArray(spec.triggers) || spec.triggers.length === 0) r.errors.push("spec.triggers is empty");
  const names = (spec.triggers || []).map((t) => t && t.name).filter(Boolean);
  if (new Set(names).size !== names.length) r.errors.push("spec.triggers: trigger names must be unique");
  if (isObject(spec.fallback)) {
    const f = spec.fallback;
    if ((typeof f.failureThreshold === "number" && f.failureThreshold < 0) ||
        (typeof f.replicas === "number" && f.replicas < 0)) {
      r.errors.push("spec.fallback: failureThreshold and replicas must both be >= 0");
    }
    const usable = (spec.triggers || []).some(
      (t, i) => isObject(t) && t.type !== "cpu" && t.type !== "memory" && types[i] === "AverageValue",
    );
    if (!usable) r.errors.push("spec.fallback needs at least one non-cpu/memory trigger with metricType AverageValue (KEDA rejects it otherwise)");
    if (f.replicas > max) r.warnings.push(`spec.fallback.replicas ${f.replicas} is above spec.maxReplicaCount ${max}`);
  }
}

// ---------------------------------------------------------------------- run

for (const o of objects) {
  const { obj, result: r } = o;
  if (!isObject(obj)) {
    r.errors.push("a document must be an object");
    continue;
  }
  if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
    r.errors.push("apiVersion and kind are required");
    continue;
  }
  const cls = await modelClass(obj.apiVersion, obj.kind);
  if (!cls) {
    r.errors.push(`unknown kind: no kubernetes-models class for apiVersion ${obj.apiVersion}, kind ${obj.kind}`);
    continue;
  }
  r.errors.push(...schemaErrors(cls, obj));
  for (const field of unknownFields(cls, obj)) {
    r.errors.push(`unknown field "${field}" (not in the ${obj.apiVersion} ${obj.kind} schema)`);
  }
  checkMetadata(obj, r);
  checkPodSpec(obj, r);
  if (obj.kind === "Service") checkService(obj, r, objects);
  if (obj.kind === "ScaledObject" || obj.kind === "ScaledJob") checkScaledObject(obj, r, objects);
}

const seen = new Map();
for (const o of objects) {
  if (!isObject(o.obj) || !isObject(o.obj.metadata) || !o.obj.metadata.name) continue;
  const key = `${o.obj.apiVersion}/${o.obj.kind}/${o.obj.metadata.namespace || ""}/${o.obj.metadata.name}`;
  if (seen.has(key)) o.result.errors.push(`duplicate of ${seen.get(key)}`);
  else seen.set(key, o.result.label);
}

let passed = 0;
let failed = 0;
for (const r of results) {
  for (const w of r.warnings) console.log(`warn ${r.label}: ${w}`);
  if (r.errors.length === 0) {
    passed++;
    console.log(`ok   ${r.label}`);
  } else {
    failed++;
    console.log(`FAIL ${r.label}`);
    for (const e of r.errors) console.log(`       - ${e}`);
  }
}
if (results.length === 0) console.log("FAIL no objects in the input");
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || results.length === 0 ? 1 : 0);
