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
//      from @kubernetes-models/keda), or, for the Dynamo operator's kinds
//      (DynamoGraphDeployment, DynamoGraphDeploymentScalingAdapter,
//      DynamoWorkerMetadata), the CRD schema in schemas/dynamo-crds.yaml
//      (crd-schemas.mjs). An apiVersion/kind with neither is an error.
//   2. strict fields: a field the schema does not define is an error (what
//      `kubectl apply --validate=strict` reports; the schemas alone accept them).
//   3. consistency: metadata.name; probes with exactly one handler and ports the
//      container declares; selectors that select the pod template; Services that
//      select a workload of the same input and name ports it declares; NetworkPolicy
//      port ranges.
//   4. KEDA and metrics-keda: ScaledObject replica bounds, fallback (needs an
//      AverageValue trigger), authenticationRef resolving to a TriggerAuthentication
//      of the same input with the parameters the external scaler reads; for
//      external and external-push triggers, the trigger metadata rules of
//      metrics-keda (README "Trigger metadata"); a scale target that is a
//      DynamoGraphDeploymentScalingAdapter must be one of this input, or be the
//      adapter (<graph>-<service, lowercased>) of a service of a
//      DynamoGraphDeployment of this input that enables it.
//   5. the scaler's container (named metrics-keda): its args use only the flags of
//      README "Command line" and the Kubernetes discovery flags of the design
//      (--kubeconfig, --kube-namespace, --worker-metrics-port), with valid values;
//      with --discovery-backend kubernetes its pod has a service account token and a
//      RoleBinding of this input grants that account the discovery Role.
//   6. RBAC: every Role and ClusterRole grants exactly get, list and watch on
//      dynamoworkermetadatas (nvidia.com) and endpointslices (discovery.k8s.io), what
//      the scaler uses, nothing more and nothing less; bindings name roles of this
//      input; ClusterRoleBindings are refused (grants stay per namespace).
//   7. Dynamo objects: a DynamoGraphDeployment's images carry the semantic-version tag
//      the operator's admission wants; a DynamoWorkerMetadata's spec.data holds the
//      records the scaler reads (endpoints, model_cards, event_channels).
// Prints one line per object and, last, "N passed, M failed"; exits 1 on any failure.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { loadCrdSchemas, validateObject } from "./crd-schemas.mjs";

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
  llm_prefill_tokens_queued: { max: Infinity, unit: "tokens per worker", thresholdRequired: true },
};
// README "Trigger metadata": the keys metrics-keda reads. A key that differs from one
// of them only in letter case is refused by the scaler as a typo.
const METADATA_KEYS = [
  "namespace", "component", "endpoint", "metricName", "threshold", "activationThreshold",
  "metricType", "source", "kvTotalBlocks",
];
const TRIGGER_SOURCES = new Set(["auto", "stats", "events", "metrics"]);
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
  for (const key of Object.keys(md)) {
    const known = METADATA_KEYS.find((k) => k !== key && k.toLowerCase() === key.toLowerCase());
    if (known) r.errors.push(`${where}: metadata.${key} differs from ${known} only in letter case; metrics-keda refuses it as a typo`);
  }
  if (md.source !== undefined && !TRIGGER_SOURCES.has(md.source)) {
    r.errors.push(`${where}: metadata.source "${md.source}" must be one of ${[...TRIGGER_SOURCES].join(", ")}`);
  }
  if (md.kvTotalBlocks !== undefined && (!/^\d+$/.test(md.kvTotalBlocks) || !(Number(md.kvTotalBlocks) > 0))) {
    r.errors.push(`${where}: metadata.kvTotalBlocks "${md.kvTotalBlocks}" must be an integer > 0`);
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
  if (obj.kind === "ScaledObject") checkScaleTarget(obj, r, all);
}

// A ScaledObject scaling a Dynamo operator graph names the scaling adapter of one of
// its services: an adapter of this input, or the one the operator creates for a
// service of a DynamoGraphDeployment of this input that enables it.
function checkScaleTarget(obj, r, all) {
  const ref = obj.spec.scaleTargetRef;
  if (!isObject(ref)) return;
  const apiVersion = ref.apiVersion || "apps/v1";
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  if (group === "nvidia.com" && ref.kind === "DynamoGraphDeployment") {
    r.errors.push("spec.scaleTargetRef: scale the service's DynamoGraphDeploymentScalingAdapter, not the DynamoGraphDeployment (it has no scale subresource)");
    return;
  }
  if (ref.kind !== "DynamoGraphDeploymentScalingAdapter") return;
  const where = `spec.scaleTargetRef (${ref.kind}/${ref.name})`;
  if (!ADAPTER_API_VERSIONS.has(apiVersion)) {
    r.errors.push(`${where}: apiVersion "${apiVersion}" is not one the adapter is served as (${[...ADAPTER_API_VERSIONS].join(", ")})`);
  }
  const ns = namespaceOf(obj);
  const sameNamespace = (o) => namespaceOf(o) === ns;
  const adapters = all.map((o) => o.obj)
    .filter((o) => isObject(o) && o.kind === "DynamoGraphDeploymentScalingAdapter" && sameNamespace(o));
  if (adapters.some((a) => a.metadata && a.metadata.name === ref.name)) return;
  const candidates = [];
  for (const dgd of all.map((o) => o.obj)) {
    if (!isObject(dgd) || dgd.kind !== "DynamoGraphDeployment" || !sameNamespace(dgd)) continue;
    const services = isObject(dgd.spec) && isObject(dgd.spec.services) ? dgd.spec.services : {};
    for (const [service, spec] of Object.entries(services)) {
      const name = adapterName(dgd.metadata.name, service);
      candidates.push(name);
      if (name !== ref.name) continue;
      const sa = isObject(spec) ? spec.scalingAdapter : undefined;
      if (!isObject(sa) || sa.enabled !== true) {
        r.errors.push(`${where}: service ${service} of DynamoGraphDeployment/${dgd.metadata.name} does not enable its scaling adapter (${dgd.apiVersion} needs scalingAdapter.enabled: true; a bare {} is disabled), so the operator never creates ${ref.name}`);
      }
      return;
    }
  }
  r.errors.push(`${where}: no DynamoGraphDeploymentScalingAdapter ${ref.name} in this input, and no service of a DynamoGraphDeployment here has an adapter of that name (<graph>-<service, lowercased>${candidates.length ? `; here: ${candidates.join(", ")}` : ""})`);
}

// ------------------------------------------------------- the Dynamo operator

const ADAPTER_API_VERSIONS = new Set(["nvidia.com/v1alpha1", "nvidia.com/v1beta1"]);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function namespaceOf(obj) {
  return (isObject(obj.metadata) && obj.metadata.namespace) || "";
}

// The operator's name for a service's scaling adapter: <graph>-<service, lowercased>;
// where that is no DNS subdomain, the newest operators use its first 46 characters
// ('.' as '-', trailing '-' trimmed), '-' and 16 hex digits of its SHA-256.
function adapterName(graph, service) {
  const name = `${graph}-${service.toLowerCase()}`;
  if (name.length <= 253 && DNS_SUBDOMAIN.test(name)) return name;
  const prefix = name.replace(/\./g, "-").slice(0, 63 - 17).replace(/-+$/, "");
  return `${prefix}-${createHash("sha256").update(name).digest("hex").slice(0, 16)}`;
}

// Hand-written equivalents of the CEL rules (x-kubernetes-validations) kept in
// schemas/dynamo-crds.yaml; crd-schemas.mjs refuses a rule missing here.
const CEL_RULES = new Map([
  ["has(self.serviceName) != has(self.componentGroupName)",
    (self) => ("serviceName" in self) !== ("componentGroupName" in self)],
  ["has(self.componentName) != has(self.componentGroupName)",
    (self) => ("componentName" in self) !== ("componentGroupName" in self)],
]);

const CRD_SCHEMA_FILE = fileURLToPath(new URL("./schemas/dynamo-crds.yaml", import.meta.url));
let crdSchemas;
try {
  crdSchemas = loadCrdSchemas(CRD_SCHEMA_FILE, CEL_RULES);
} catch (e) {
  console.error(`validate-manifests: ${e.message}`);
  process.exit(2);
}

function crdChecks(crd, obj, r) {
  const { errors, unknown } = validateObject(crd.schema, obj, CEL_RULES);
  r.errors.push(...errors.map((e) => `schema: ${e}`));
  const origin = `${crd.source} at ${crd.commit.slice(0, 12)}`;
  for (const field of unknown) {
    r.errors.push(crd.cutDown
      ? `unknown field "${field}" (not in the part of the ${obj.apiVersion} ${obj.kind} schema kept in deploy/test/schemas/dynamo-crds.yaml; copy its schema from ${origin} if it is meant)`
      : `unknown field "${field}" (not in the ${obj.apiVersion} ${obj.kind} schema, ${origin})`);
  }
  if (crd.deprecated) r.warnings.push(`${obj.apiVersion} ${obj.kind} is deprecated in the operator's CRD (${origin}); it is still served`);
}

// The operator's admission wants a semantic-version tag on each service's main image
// (or spec.extraPodSpec.mainContainer's runtimeVersionOverride, not used here).
const SEMVER_TAG = /^v?\d+\.\d+\.\d+/;

function checkGraphDeployment(obj, r) {
  const services = isObject(obj.spec) && isObject(obj.spec.services) ? obj.spec.services : {};
  for (const [service, spec] of Object.entries(services)) {
    if (!isObject(spec)) continue;
    const main = isObject(spec.extraPodSpec) && isObject(spec.extraPodSpec.mainContainer) ? spec.extraPodSpec.mainContainer : {};
    if (typeof main.image === "string") {
      const last = main.image.slice(main.image.lastIndexOf("/") + 1);
      const tag = last.includes(":") ? last.slice(last.indexOf(":") + 1) : "";
      if (!SEMVER_TAG.test(tag)) {
        r.errors.push(`spec.services.${service}.extraPodSpec.mainContainer.image "${main.image}": the operator's admission needs a semantic-version tag (e.g. :1.4.0)`);
      }
    }
    if (isObject(spec.scalingAdapter) && spec.scalingAdapter.enabled !== true) {
      r.warnings.push(`spec.services.${service}.scalingAdapter has no enabled: true: in ${obj.apiVersion} the adapter is then disabled`);
    }
  }
}

// The records the scaler reads from spec.data (docs: "Discovery", Kubernetes): maps
// from a record's path to a record tagged by type.
const WORKER_RECORDS = { endpoints: "Endpoint", model_cards: "Model", event_channels: "EventChannel" };

function checkWorkerMetadata(obj, r) {
  const data = isObject(obj.spec) ? obj.spec.data : undefined;
  if (!isObject(data)) return;
  for (const [field, type] of Object.entries(WORKER_RECORDS)) {
    if (data[field] === undefined) continue;
    if (!isObject(data[field])) {
      r.errors.push(`spec.data.${field} must be a map of record path to record`);
      continue;
    }
    for (const [path, rec] of Object.entries(data[field])) {
      const at = `spec.data.${field}["${path}"]`;
      if (!isObject(rec) || rec.type !== type) {
        r.errors.push(`${at}: a record of type ${type} expected`);
        continue;
      }
      if (!Number.isSafeInteger(rec.instance_id) || rec.instance_id < 0) {
        r.errors.push(`${at}.instance_id must be an unsigned integer (53 bits at most)`);
      }
      const transport = rec.transport;
      if (type === "EventChannel" && isObject(transport) && transport.kind === "Zmq" &&
          !(isObject(transport.config) && /^tcp:\/\/[^\s:]+:\d{1,5}$/.test(transport.config.endpoint))) {
        r.errors.push(`${at}.transport.config.endpoint must be the PUB socket's tcp://host:port`);
      }
    }
  }
}

// --------------------------------------------------- the scaler's command line

// The flags built so far are README "Command line"; the design adds those of the
// Kubernetes discovery backend, being built now.
const README = fileURLToPath(new URL("../../README.md", import.meta.url));
const DESIGN_KUBERNETES_FLAGS = ["--kubeconfig", "--kube-namespace", "--worker-metrics-port"];
const FLAGS_WITHOUT_VALUE = new Set(["--legacy-service-names", "--help", "--version"]);
const FLAG_VALUES = {
  "--source": ["stats", "events", "metrics", "auto"],
  "--discovery-backend": ["etcd", "kubernetes", "none"],
  "--event-plane": ["zmq", "nats"],
  "--log-format": ["text", "json"],
  "--log-level": ["trace", "debug", "info", "warn", "error"],
};
const PORT_FLAGS = new Set(["--port", "--metrics-port", "--worker-metrics-port"]);

function readmeFlags() {
  const lines = readFileSync(README, "utf8").split("\n");
  const start = lines.findIndex((l) => /^## Command line\s*$/.test(l));
  const flags = new Set();
  for (let i = start + 1; start >= 0 && i < lines.length && !/^## /.test(lines[i]); i++) {
    if (!lines[i].startsWith("|")) continue;
    const cell = lines[i].split("|")[1] || "";
    for (const m of cell.matchAll(/`(--[a-z0-9-]+)`/g)) flags.add(m[1]);
  }
  return flags;
}
let scalerFlags;
try {
  scalerFlags = new Set([...readmeFlags(), ...DESIGN_KUBERNETES_FLAGS]);
} catch (e) {
  console.error(`validate-manifests: cannot read the README's flags: ${e.message}`);
  process.exit(2);
}
if (scalerFlags.size < 20) {
  console.error(`validate-manifests: found ${scalerFlags.size} flags under "## Command line" in ${README}; is the table still there?`);
  process.exit(2);
}

function isScalerContainer(c) {
  if (!isObject(c)) return false;
  const image = typeof c.image === "string" ? c.image.slice(c.image.lastIndexOf("/") + 1).split(/[:@]/)[0] : "";
  return c.name === "metrics-keda" || image === "metrics-keda";
}

// Parses the scaler's args into {flags: Map(flag -> value), errors}.
function parseScalerArgs(args, where) {
  const flags = new Map();
  const errors = [];
  for (let i = 0; i < args.length; i++) {
    const arg = String(args[i]);
    if (!arg.startsWith("--")) {
      errors.push(`${where}: "${arg}" is no flag (metrics-keda takes no positional arguments)`);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (!scalerFlags.has(flag)) {
      errors.push(`${where}: ${flag} is not a flag of metrics-keda (README "Command line", and ${DESIGN_KUBERNETES_FLAGS.join(", ")} of the design)`);
      continue;
    }
    let value = true;
    if (FLAGS_WITHOUT_VALUE.has(flag)) {
      if (eq > 0) errors.push(`${where}: ${flag} takes no value`);
    } else if (eq > 0) {
      value = arg.slice(eq + 1);
    } else if (i + 1 < args.length && !String(args[i + 1]).startsWith("--")) {
      value = String(args[++i]);
    } else {
      errors.push(`${where}: ${flag} needs a value`);
      continue;
    }
    if (flags.has(flag)) errors.push(`${where}: ${flag} is given twice`);
    flags.set(flag, value);
    if (FLAG_VALUES[flag] && !FLAG_VALUES[flag].includes(value)) {
      errors.push(`${where}: ${flag} ${value}: must be one of ${FLAG_VALUES[flag].join(", ")}`);
    }
    if (PORT_FLAGS.has(flag) && !(/^\d+$/.test(value) && Number(value) <= 65535 &&
        (flag !== "--worker-metrics-port" || Number(value) > 0))) {
      errors.push(`${where}: ${flag} ${value}: not a port number`);
    }
    if (flag === "--kube-namespace" && !value.split(",").every((ns) => DNS_LABEL.test(ns) && ns.length <= 63)) {
      errors.push(`${where}: --kube-namespace ${value}: must be Kubernetes namespace names, comma separated`);
    }
  }
  return { flags, errors };
}

// Pod templates whose scaler discovers workers through the Kubernetes API, for the
// RBAC checks once every object is read: [{o, template, serviceAccount}].
const kubernetesDiscovery = [];

function checkScalerContainers(o) {
  const { obj, result: r } = o;
  const tpl = podTemplate(obj);
  if (!isObject(tpl) || !isObject(tpl.spec)) return;
  for (const c of tpl.spec.containers || []) {
    if (!isScalerContainer(c)) continue;
    const where = `container "${c.name}": args`;
    const { flags, errors } = parseScalerArgs(Array.isArray(c.args) ? c.args : [], where);
    r.errors.push(...errors);
    const env = new Map((c.env || []).filter(isObject).map((e) => [e.name, e.value]));
    const backend = flags.get("--discovery-backend") || env.get("DYN_DISCOVERY_BACKEND") || "etcd";
    if (backend !== "kubernetes") {
      for (const flag of DESIGN_KUBERNETES_FLAGS) {
        if (flags.has(flag)) r.warnings.push(`${where}: ${flag} has no effect without --discovery-backend kubernetes`);
      }
      continue;
    }
    const sa = tpl.spec.serviceAccountName || tpl.spec.serviceAccount || "default";
    if (tpl.spec.automountServiceAccountToken === false) {
      r.errors.push(`container "${c.name}" discovers workers through the Kubernetes API, but its pod mounts no service account token (automountServiceAccountToken: false)`);
    }
    const watched = typeof flags.get("--kube-namespace") === "string" ? flags.get("--kube-namespace").split(",") : [];
    kubernetesDiscovery.push({ o, template: tpl, serviceAccount: sa, container: c.name, watched });
  }
}

// ------------------------------------------------------------------------ RBAC

// What --discovery-backend kubernetes does, and all a Role of deploy/ may grant.
const SCALER_GRANTS = [
  ["nvidia.com", "dynamoworkermetadatas"],
  ["discovery.k8s.io", "endpointslices"],
].flatMap(([g, res]) => ["get", "list", "watch"].map((v) => `${v} ${res} (${g || "core"})`));

function roleProblems(role) {
  const problems = [];
  if (role.aggregationRule !== undefined) problems.push("aggregationRule: an aggregated ClusterRole grants whatever other roles add to it");
  const granted = new Set();
  (role.rules || []).forEach((rule, i) => {
    if (!isObject(rule)) return;
    const at = `rules[${i}]`;
    if (rule.nonResourceURLs) problems.push(`${at}: grants non-resource URLs ${rule.nonResourceURLs.join(", ")}`);
    if (rule.resourceNames) problems.push(`${at}: resourceNames limit the rule to some objects, but the scaler lists and watches all of them`);
    for (const g of rule.apiGroups || []) {
      for (const res of rule.resources || []) {
        const extra = [];
        for (const v of rule.verbs || []) {
          const grant = `${v} ${res} (${g || "core"})`;
          granted.add(grant);
          if (g === "*" || res === "*" || v === "*" || !SCALER_GRANTS.includes(grant)) extra.push(v);
        }
        if (extra.length) problems.push(`${at}: grants ${extra.join(", ")} on ${res} (${g || "core"}), beyond what the scaler uses`);
      }
    }
  });
  const missing = SCALER_GRANTS.filter((need) => !granted.has(need));
  if (missing.length) problems.push(`does not grant ${missing.join("; ")}, which the scaler needs`);
  return problems;
}

function findRole(all, kind, name, ns) {
  return all.find((o) => isObject(o.obj) && o.obj.kind === kind && o.obj.metadata && o.obj.metadata.name === name &&
    (kind === "ClusterRole" || namespaceOf(o.obj) === ns));
}

function checkRbac(all) {
  for (const { obj, result: r } of all) {
    if (!isObject(obj)) continue;
    if (obj.kind === "Role" || obj.kind === "ClusterRole") {
      r.errors.push(...roleProblems(obj).map((p) => `${p} (a Role of deploy/ may grant get, list, watch on dynamoworkermetadatas.nvidia.com and endpointslices.discovery.k8s.io only)`));
    }
    if (obj.kind === "ClusterRoleBinding") {
      r.errors.push("a ClusterRoleBinding grants in every namespace: bind the Role per namespace with RoleBindings");
    }
    if (obj.kind === "RoleBinding" && isObject(obj.roleRef)) {
      const ref = obj.roleRef;
      if (!findRole(all, ref.kind, ref.name, namespaceOf(obj))) {
        r.errors.push(`roleRef ${ref.kind}/${ref.name} is not in this input${ref.kind === "Role" && namespaceOf(obj) ? ` (namespace ${namespaceOf(obj)})` : ""}: what it grants cannot be checked`);
      }
      (obj.subjects || []).forEach((s, i) => {
        if (isObject(s) && s.kind === "ServiceAccount" && !s.namespace) {
          r.errors.push(`subjects[${i}]: a ServiceAccount subject needs its namespace`);
        }
      });
    }
  }
  // A scaler with Kubernetes discovery needs its account bound to the discovery Role
  // in every namespace it watches (--kube-namespace; by default its own).
  for (const { o, template, serviceAccount, container, watched } of kubernetesDiscovery) {
    const ns = namespaceOf(o.obj);
    const where = `container "${container}" (service account ${serviceAccount})`;
    const account = all.find((a) => isObject(a.obj) && a.obj.kind === "ServiceAccount" &&
      a.obj.metadata && a.obj.metadata.name === serviceAccount && namespaceOf(a.obj) === ns);
    if (!account && serviceAccount !== "default") {
      o.result.errors.push(`${where}: no ServiceAccount ${serviceAccount} in this input`);
    }
    if (account && account.obj.automountServiceAccountToken === false && template.spec.automountServiceAccountToken !== true) {
      o.result.errors.push(`${where}: the account mounts no token by default and the pod does not ask for one (automountServiceAccountToken: true)`);
    }
    for (const target of watched.length ? watched : [ns]) {
      const bound = all.some((b) => {
        if (!isObject(b.obj) || b.obj.kind !== "RoleBinding" || namespaceOf(b.obj) !== target || !isObject(b.obj.roleRef)) return false;
        const subject = (b.obj.subjects || []).some((s) => isObject(s) && s.kind === "ServiceAccount" &&
          s.name === serviceAccount && (s.namespace || "") === ns);
        const role = findRole(all, b.obj.roleRef.kind, b.obj.roleRef.name, target);
        return subject && role && roleProblems(role.obj).length === 0;
      });
      if (!bound) {
        o.result.errors.push(`${where}: no RoleBinding of this input in ${target ? `namespace ${target}` : "its namespace"} grants it the discovery Role (get, list, watch on dynamoworkermetadatas and endpointslices); it could not find the workers there`);
      }
    }
  }
}

function checkNetworkPolicy(obj, r) {
  const spec = isObject(obj.spec) ? obj.spec : {};
  for (const dir of ["ingress", "egress"]) {
    (spec[dir] || []).forEach((rule, i) => {
      (isObject(rule) && rule.ports || []).forEach((p, j) => {
        if (!isObject(p) || p.endPort === undefined) return;
        if (typeof p.port !== "number" || p.endPort < p.port) {
          r.errors.push(`spec.${dir}[${i}].ports[${j}]: endPort ${p.endPort} needs a numeric port no greater than it (port ${p.port})`);
        }
      });
    });
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
  const crd = crdSchemas.get(`${obj.apiVersion}/${obj.kind}`);
  if (crd) {
    crdChecks(crd, obj, r);
  } else {
    const cls = await modelClass(obj.apiVersion, obj.kind);
    if (!cls) {
      r.errors.push(`unknown kind: no kubernetes-models class and no CRD schema (deploy/test/schemas) for apiVersion ${obj.apiVersion}, kind ${obj.kind}`);
      continue;
    }
    r.errors.push(...schemaErrors(cls, obj));
    for (const field of unknownFields(cls, obj)) {
      r.errors.push(`unknown field "${field}" (not in the ${obj.apiVersion} ${obj.kind} schema)`);
    }
  }
  checkMetadata(obj, r);
  checkPodSpec(obj, r);
  checkScalerContainers(o);
  if (obj.kind === "Service") checkService(obj, r, objects);
  if (obj.kind === "NetworkPolicy") checkNetworkPolicy(obj, r);
  if (obj.kind === "ScaledObject" || obj.kind === "ScaledJob") checkScaledObject(obj, r, objects);
  if (obj.kind === "DynamoGraphDeployment") checkGraphDeployment(obj, r);
  if (obj.kind === "DynamoWorkerMetadata") checkWorkerMetadata(obj, r);
}
checkRbac(objects);

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
