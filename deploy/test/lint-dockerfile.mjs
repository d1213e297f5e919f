#!/usr/bin/env node
// Static checks of deploy/Dockerfile (no Docker engine needed).
//
//   node lint-dockerfile.mjs [deploy/Dockerfile] [--binary build/metrics-keda]
//
// Checks: two stages, both FROM debian:12 (bookworm); the build stage installs with
// scripts/install-deps.sh and builds a Release with scripts/build.sh and tests off;
// the final stage installs runtime packages only (no -dev, no compilers,
// --no-install-recommends, apt lists removed), copies nothing but
// build/metrics-keda from the build stage, runs as a numeric non-root USER, EXPOSEs
// 9090 and 9091 and has the binary as its exec-form ENTRYPOINT; the ignore file
// beside the Dockerfile (<Dockerfile>.dockerignore) keeps build/ and .git out of the
// context but not the sources the build needs.
// With --binary, the libraries a locally built binary loads (ldd) must come from
// the final stage's packages or their dependencies (dpkg -S, apt-cache depends,
// both offline); skipped with a note when those tools are missing.
// Prints one line per check and, last, "N passed, M failed"; exits 1 on any failure.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
let dockerfilePath = join(here, "../Dockerfile");
let binary = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--binary") binary = argv[++i];
  else dockerfilePath = argv[i];
}
const repoRoot = resolve(here, "../..");

let passed = 0;
let failed = 0;
function check(ok, what, detail = []) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) for (const d of [].concat(detail)) console.log(`       - ${d}`);
  return ok;
}
function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

// ------------------------------------------------------------------ parse

function parseDockerfile(text) {
  const instructions = [];
  let current = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/\s+$/, "");
    if (/^\s*#/.test(line)) return; // comments (also inside continued instructions)
    if (current === null) {
      if (line.trim() === "") return;
      current = { line: i + 1, text: "" };
    }
    const continued = line.endsWith("\\");
    current.text += (current.text ? " " : "") + (continued ? line.slice(0, -1) : line).trim();
    if (!continued) {
      const m = /^(\S+)\s*(.*)$/.exec(current.text);
      instructions.push({ line: current.line, cmd: m[1].toUpperCase(), args: m[2] });
      current = null;
    }
  });
  if (current) {
    const m = /^(\S+)\s*(.*)$/.exec(current.text);
    instructions.push({ line: current.line, cmd: m[1].toUpperCase(), args: m[2] });
  }
  return instructions;
}

function expand(value, vars) {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_, a, dflt, b) => vars[a || b] ?? dflt ?? "");
}

// Splits flags (--from=x) from the words of COPY/ADD/FROM; understands the JSON form.
function words(args) {
  const t = args.trim();
  if (t.startsWith("[")) {
    try {
      return JSON.parse(t);
    } catch {
      return t.split(/\s+/);
    }
  }
  return t.split(/\s+/).filter(Boolean);
}

let text;
try {
  text = readFileSync(dockerfilePath, "utf8");
} catch (e) {
  check(false, `${dockerfilePath} is readable`, e.message);
  finish();
}
const instructions = parseDockerfile(text);

const globalArgs = {};
const stages = [];
for (const ins of instructions) {
  if (ins.cmd === "FROM") {
    const w = words(ins.args).filter((x) => !x.startsWith("--"));
    const image = expand(w[0] || "", globalArgs);
    const name = w.length >= 3 && w[1].toUpperCase() === "AS" ? w[2] : null;
    stages.push({ image, name, line: ins.line, instructions: [] });
  } else if (stages.length === 0) {
    if (ins.cmd === "ARG") {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(ins.args.trim());
      if (m) globalArgs[m[1]] = (m[2] || "").replace(/^["']|["']$/g, "");
    }
  } else {
    stages[stages.length - 1].instructions.push(ins);
  }
}

// ----------------------------------------------------------------- checks

check(stages.length === 2, `two stages (found ${stages.length})`,
  stages.map((s) => `line ${s.line}: FROM ${s.image}${s.name ? ` AS ${s.name}` : ""}`));
const DEBIAN_12 = /^(docker\.io\/)?(library\/)?debian:(12|bookworm)([.-][A-Za-z0-9._-]*)?(@sha256:[0-9a-f]{64})?$/;
for (const [i, s] of stages.entries()) {
  check(DEBIAN_12.test(s.image), `stage ${i + 1} is FROM debian:12 (bookworm): ${s.image || "(empty)"}`,
    `line ${s.line}: expected debian:12, debian:12-slim, debian:bookworm..., got "${s.image}"`);
}
if (stages.length < 2) finish();
const build = stages[0];
const final = stages[stages.length - 1];

const buildRuns = build.instructions.filter((i) => i.cmd === "RUN").map((i) => i.args).join("\n");
check(/scripts\/install-deps\.sh/.test(buildRuns), "build stage installs its packages with scripts/install-deps.sh");
check(/scripts\/build\.sh/.test(buildRuns), "build stage builds with scripts/build.sh");
check(/-DMETRICS_KEDA_TESTS=OFF\b/.test(buildRuns), "build stage turns the tests off (-DMETRICS_KEDA_TESTS=OFF)");
check(/BUILD_TYPE=Release\b|-DCMAKE_BUILD_TYPE=Release\b/.test(buildRuns), "build stage builds a Release");

const finalCopies = final.instructions.filter((i) => i.cmd === "COPY" || i.cmd === "ADD");
const copyDetail = finalCopies.map((i) => `line ${i.line}: ${i.cmd} ${i.args}`);
let copyOk = finalCopies.length === 1 && finalCopies[0].cmd === "COPY";
if (copyOk) {
  const w = words(finalCopies[0].args);
  const from = w.find((x) => x.startsWith("--from="));
  const paths = w.filter((x) => !x.startsWith("--"));
  const fromStage = from && from.slice("--from=".length);
  copyOk =
    (fromStage === build.name || fromStage === "0") &&
    paths.length === 2 &&
    /(^|\/)build\/metrics-keda$/.test(paths[0]) &&
    /^\/usr\/local\/bin(\/|\/metrics-keda)?$/.test(paths[1]);
}
check(copyOk, "final stage copies only build/metrics-keda from the build stage into /usr/local/bin",
  copyDetail.length ? copyDetail : "no COPY in the final stage");

const finalRuns = final.instructions.filter((i) => i.cmd === "RUN").map((i) => i.args).join(" && ");
const installs = [...finalRuns.matchAll(/apt-get\s+(?:-\S+\s+)*install\s+([^;&|]*)/g)].map((m) => m[1]);
const packages = installs.flatMap((s) => s.split(/\s+/)).filter((p) => p && !p.startsWith("-"));
check(installs.length > 0 && installs.every((s) => /--no-install-recommends/.test(s)),
  "final stage installs with apt-get --no-install-recommends", `apt-get install lines: ${installs.length}`);
const buildOnly = packages.filter((p) => /-dev$|^(g\+\+|gcc|cmake|ninja-build|pkg-config|protobuf-compiler.*|build-essential|nats-server)$/.test(p));
check(packages.length > 0 && buildOnly.length === 0, `final stage installs runtime packages only (${packages.length})`,
  buildOnly.length ? `build-time packages: ${buildOnly.join(", ")}` : "no package found");
check(/rm\s+-rf?\s+[^&;]*\/var\/lib\/apt\/lists/.test(finalRuns), "final stage removes the apt lists");
check(!/scripts\/(build|install-deps)\.sh/.test(finalRuns), "final stage does not build");

const users = final.instructions.filter((i) => i.cmd === "USER");
const user = users.length ? users[users.length - 1].args.trim() : "";
const um = /^(\d+)(?::(\d+))?$/.exec(user);
check(Boolean(um) && Number(um[1]) !== 0, `final stage runs as a numeric non-root USER (${user || "none"})`,
  "USER must be a numeric uid (and optional numeric gid) other than 0, so that runAsNonRoot can verify it");

const exposed = new Set(final.instructions.filter((i) => i.cmd === "EXPOSE")
  .flatMap((i) => words(i.args)).map((p) => p.replace(/\/tcp$/, "")));
check(exposed.has("9090") && exposed.has("9091"), `final stage EXPOSEs 9090 and 9091 (${[...exposed].join(" ") || "none"})`);

const entrypoints = final.instructions.filter((i) => i.cmd === "ENTRYPOINT");
const ep = entrypoints.length ? entrypoints[entrypoints.length - 1].args.trim() : "";
let epOk = false;
try {
  const parsed = JSON.parse(ep);
  epOk = Array.isArray(parsed) && parsed[0] === "/usr/local/bin/metrics-keda";
} catch {
  epOk = false;
}
check(epOk, `ENTRYPOINT is the binary, exec form (${ep || "none"})`,
  'expected ENTRYPOINT ["/usr/local/bin/metrics-keda"] (exec form: signals reach the scaler)');

// ------------------------------------------------------------ ignore file

function ignoreRules(textOfFile) {
  return textOfFile.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((l) => {
    const negate = l.startsWith("!");
    let p = (negate ? l.slice(1) : l).trim().replace(/^\/+|\/+$/g, "").replace(/^\.\//, "");
    const re = p.split("/").map((seg) => seg === "**" ? "(?:.*)" :
      seg.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")).join("/")
      .replace(/\(\?:\.\*\)\//g, "(?:.*/)?");
    return { negate, re: new RegExp(`^${re}$`) };
  });
}
function ignored(path, rules) {
  // A path is excluded when it or one of its parent directories matches, the last
  // matching rule deciding (Docker's semantics, simplified).
  const parts = path.split("/");
  let result = false;
  for (let n = 1; n <= parts.length; n++) {
    const prefix = parts.slice(0, n).join("/");
    for (const r of rules) if (r.re.test(prefix)) result = !r.negate;
  }
  return result;
}
const ignorePath = `${dockerfilePath}.dockerignore`;
const rootIgnore = join(repoRoot, ".dockerignore");
const ignoreFile = existsSync(ignorePath) ? ignorePath : existsSync(rootIgnore) ? rootIgnore : null;
if (check(ignoreFile !== null, `an ignore file for the context (${ignoreFile || `${ignorePath} or ${rootIgnore}`})`)) {
  const rules = ignoreRules(readFileSync(ignoreFile, "utf8"));
  const mustIgnore = ["build/metrics-keda", "build/CMakeCache.txt", ".git/HEAD", "deploy/test/node_modules/yaml/package.json"];
  const needed = ["CMakeLists.txt", "scripts/build.sh", "scripts/install-deps.sh", "src/main.cc", "proto/externalscaler.proto", "tools/CMakeLists.txt"];
  for (const i of build.instructions.filter((x) => x.cmd === "COPY" && !/--from=/.test(x.args))) {
    const w = words(i.args).filter((x) => !x.startsWith("--"));
    for (const src of w.slice(0, -1)) if (src !== "." && !/[*?]/.test(src)) needed.push(src.replace(/^\.\//, ""));
  }
  const leaks = mustIgnore.filter((p) => !ignored(p, rules));
  check(leaks.length === 0, "ignore file keeps build output, .git and node_modules out of the context", leaks.map((p) => `${p} would be sent`));
  const lost = [...new Set(needed)].filter((p) => ignored(p, rules));
  check(lost.length === 0, "ignore file keeps the sources the build needs", lost.map((p) => `${p} is excluded`));
}

// ------------------------------------------- runtime libraries (optional)

function tool(cmd, args) {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
}
if (binary) {
  const haveTools = ["ldd", "dpkg", "apt-cache"].every((t) => {
    try {
      execFileSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  });
  if (!existsSync(binary) || !haveTools) {
    console.log(`note runtime library check skipped (${!existsSync(binary) ? `no ${binary}` : "ldd, dpkg or apt-cache missing"})`);
  } else {
    const libs = [...tool("ldd", [binary]).matchAll(/=>\s+(\/\S+)/g)].map((m) => m[1]);
    const owners = new Map(); // package -> libs
    const unknown = [];
    // One dpkg -S for every spelling of every path (merged /usr: /lib is /usr/lib).
    const spellings = libs.map((lib) => {
      const real = realpathSync(lib);
      return [...new Set([lib, real, real.replace(/^\/lib\//, "/usr/lib/"), lib.replace(/^\/lib\//, "/usr/lib/")])];
    });
    let dpkgOut = "";
    try {
      dpkgOut = tool("dpkg", ["-S", ...new Set(spellings.flat())]);
    } catch (e) {
      dpkgOut = String(e.stdout || ""); // exits 1 when some spelling is unowned
    }
    const ownerOf = new Map();
    for (const m of dpkgOut.matchAll(/^([^:\n]+(?::[a-z0-9]+)?(?:, [^:\n]+)*): (\/\S+)$/gm)) {
      ownerOf.set(m[2], m[1].split(",")[0].trim().replace(/:[a-z0-9]+$/, ""));
    }
    libs.forEach((lib, i) => {
      const pkg = spellings[i].map((p) => ownerOf.get(p)).find(Boolean);
      if (!pkg) unknown.push(lib);
      else owners.set(pkg, [...(owners.get(pkg) || []), lib.split("/").pop()]);
    });
    let closure = new Set(packages);
    try {
      const out = tool("apt-cache", ["depends", "--recurse", "--no-recommends", "--no-suggests",
        "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", ...packages]);
      for (const m of out.matchAll(/^\s*(?:\|?(?:Pre)?Depends:\s*)?<?([a-z0-9][a-z0-9+.-]+)>?\s*$/gm)) closure.add(m[1]);
    } catch {
      closure = null;
    }
    if (closure === null) {
      console.log("note runtime library check skipped (apt-cache depends failed)");
    } else {
      const missing = [...owners].filter(([p]) => !closure.has(p) && !closure.has(p.replace(/:.*$/, "")));
      check(missing.length === 0 && unknown.length === 0,
        `final stage packages provide every library ${binary} loads (${libs.length} libraries from ${owners.size} packages)`,
        [...missing.map(([p, l]) => `${p} (${l.join(", ")}) is neither installed nor a dependency`),
         ...unknown.map((l) => `${l}: no Debian package owns it`)]);
    }
  }
}

finish();
