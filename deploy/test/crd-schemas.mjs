// The Dynamo operator's CRD schemas kept in schemas/dynamo-crds.yaml, and a validator
// for the part of OpenAPI v3 (as Kubernetes structural schemas use it) that they need.
//
//   const crds = loadCrdSchemas(path, celRules);
//   const crd = crds.get("nvidia.com/v1alpha1/DynamoGraphDeployment");
//   const { errors, unknown } = validateObject(crd.schema, obj, celRules);
//
// Like the API server: a field the schema does not define is unknown (pruned, or
// refused by `kubectl apply --validate=strict`) unless the node says
// x-kubernetes-preserve-unknown-fields; the root's metadata is ObjectMeta, checked
// elsewhere. A schema keyword this file does not implement makes loading fail, so a
// schema copied from a newer CRD can never be half-checked in silence; so does a CEL
// rule (x-kubernetes-validations) without a hand-written equivalent in celRules.

import { readFileSync } from "node:fs";
import { parse } from "yaml";

const KEYWORDS = new Set([
  "type", "properties", "additionalProperties", "required", "items", "enum",
  "minimum", "maximum", "minLength", "maxLength", "pattern", "format",
  "minItems", "maxItems", "minProperties", "maxProperties", "anyOf", "nullable",
  "default", "description",
  "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
  "x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
]);
const FORMATS = new Set(["int32", "int64", "date-time"]);

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function checkSchema(node, where, celRules) {
  if (!isObject(node)) throw new Error(`${where}: a schema node must be a mapping`);
  for (const key of Object.keys(node)) {
    if (!KEYWORDS.has(key)) throw new Error(`${where}: keyword "${key}" is not implemented by crd-schemas.mjs`);
  }
  if (node.format !== undefined && !FORMATS.has(node.format)) {
    throw new Error(`${where}: format "${node.format}" is not implemented by crd-schemas.mjs`);
  }
  if (node.anyOf !== undefined && node["x-kubernetes-int-or-string"] !== true) {
    throw new Error(`${where}: anyOf is implemented only for x-kubernetes-int-or-string`);
  }
  for (const v of node["x-kubernetes-validations"] || []) {
    if (!celRules.has(v.rule)) {
      throw new Error(`${where}: CEL rule "${v.rule}" has no hand-written equivalent (CEL_RULES in validate-manifests.mjs)`);
    }
  }
  for (const [k, child] of Object.entries(node.properties || {})) checkSchema(child, `${where}.${k}`, celRules);
  if (isObject(node.additionalProperties)) checkSchema(node.additionalProperties, `${where}.*`, celRules);
  if (node.items !== undefined) checkSchema(node.items, `${where}[]`, celRules);
}

// Returns Map("group/version/Kind" -> {schema, kind, plural, source, commit, cutDown,
// deprecated}).
export function loadCrdSchemas(path, celRules) {
  const doc = parse(readFileSync(path, "utf8"));
  const out = new Map();
  for (const crd of doc.crds || []) {
    for (const [version, v] of Object.entries(crd.versions || {})) {
      const id = `${crd.group}/${version}/${crd.kind}`;
      checkSchema(v.openAPIV3Schema, `${id} (${path})`, celRules);
      out.set(id, {
        schema: v.openAPIV3Schema,
        kind: crd.kind,
        plural: crd.plural,
        source: crd.source,
        commit: crd.commit,
        cutDown: crd.cutDown === true,
        deprecated: v.deprecated === true,
      });
    }
  }
  return out;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function typeOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v; // string, boolean, object
}

function typeMatches(schema, v) {
  const t = typeOf(v);
  if (t === "null") return schema.nullable === true;
  if (schema["x-kubernetes-int-or-string"] === true) return t === "integer" || t === "string";
  if (schema.type === undefined) return true;
  if (schema.type === "number") return t === "number" || t === "integer";
  return schema.type === t;
}

function walk(schema, v, path, out, celRules) {
  const at = path === "" ? "(root)" : path;
  if (!typeMatches(schema, v)) {
    out.errors.push(`${at}: must be ${schema["x-kubernetes-int-or-string"] ? "an integer or a string" : `of type ${schema.type}`}, is ${typeOf(v)}`);
    return;
  }
  if (v === null) return;
  if (schema.enum !== undefined && !schema.enum.includes(v)) {
    out.errors.push(`${at}: "${v}" is not one of ${schema.enum.join(", ")}`);
  }
  if (typeof v === "number") {
    if (schema.minimum !== undefined && v < schema.minimum) out.errors.push(`${at}: ${v} is less than the minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && v > schema.maximum) out.errors.push(`${at}: ${v} is more than the maximum ${schema.maximum}`);
    if (schema.format === "int32" && (v < -(2 ** 31) || v > 2 ** 31 - 1)) out.errors.push(`${at}: ${v} is not an int32`);
    if (schema.format === "int64" && !Number.isSafeInteger(v)) out.errors.push(`${at}: ${v} is not an int64 this check can represent`);
  }
  if (typeof v === "string") {
    if (schema.minLength !== undefined && v.length < schema.minLength) out.errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && v.length > schema.maxLength) out.errors.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(v)) out.errors.push(`${at}: "${v}" does not match ${schema.pattern}`);
    if (schema.format === "date-time" && !DATE_TIME.test(v)) out.errors.push(`${at}: "${v}" is not an RFC 3339 date-time`);
  }
  if (Array.isArray(v)) {
    if (schema.minItems !== undefined && v.length < schema.minItems) out.errors.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && v.length > schema.maxItems) out.errors.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items !== undefined) v.forEach((item, i) => walk(schema.items, item, `${path}[${i}]`, out, celRules));
    return;
  }
  if (!isObject(v)) return;
  const keys = Object.keys(v);
  if (schema.minProperties !== undefined && keys.length < schema.minProperties) out.errors.push(`${at}: fewer than ${schema.minProperties} entries`);
  if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) out.errors.push(`${at}: more than ${schema.maxProperties} entries`);
  for (const req of schema.required || []) {
    if (!(req in v)) out.errors.push(`${path === "" ? "" : `${path}.`}${req}: required`);
  }
  const props = schema.properties || {};
  for (const key of keys) {
    const childPath = path === "" ? key : `${path}.${key}`;
    if (Object.prototype.hasOwnProperty.call(props, key)) {
      // The root's metadata is ObjectMeta: the API server checks it, not the CRD.
      if (!(path === "" && key === "metadata")) walk(props[key], v[key], childPath, out, celRules);
    } else if (isObject(schema.additionalProperties)) {
      walk(schema.additionalProperties, v[key], childPath, out, celRules);
    } else if (schema.additionalProperties === true || schema["x-kubernetes-preserve-unknown-fields"] === true) {
      // kept as is
    } else {
      out.unknown.push(childPath);
    }
  }
  for (const rule of schema["x-kubernetes-validations"] || []) {
    if (!celRules.get(rule.rule)(v)) out.errors.push(`${at}: ${rule.message}`);
  }
}

export function validateObject(schema, obj, celRules) {
  const out = { errors: [], unknown: [] };
  walk(schema, obj, "", out, celRules);
  return out;
}
