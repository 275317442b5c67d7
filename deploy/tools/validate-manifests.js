#!/usr/bin/env node
// Offline checks of the rendered Kubernetes manifests (scripts/validate-deploy).
//
//   node deploy/tools/validate-manifests.js schema RENDER.json...
//       Every object against the Kubernetes API schemas of the kubernetes-models
//       package (types, enums, required fields), plus unknown fields, which that
//       package lets through but `kubectl apply` rejects; the Prometheus Operator
//       kinds get a structural check of their own; then the suite's own rules
//       (selectors, named ports, probes, grace periods, security context, names
//       that must resolve, metric names the alerts and dashboard use).
//   node deploy/tools/validate-manifests.js runtime --build-dir DIR RENDER.json...
//       Starts each service binary with exactly the settings a container of the
//       suite gets (env from its ConfigMap, args), against an unreachable
//       database, and checks it accepts them and listens where the probes look.
//
// A RENDER.json is a JSON array of the objects `kubectl kustomize` printed; its
// file name (without .json) names it in messages. An optional RENDER.external
// beside it lists "Kind/name" objects that are created outside the render.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { spawn, spawnSync } = require("child_process");

const SERVICES = ["health", "playbooks", "expansion"];
const SUITE_IMAGE = /(?:^|\/)cs-suite\/(health|playbooks|expansion)(?::[^/]*)?$/;
// Metrics a rule or panel may name before any binary exports them (marked as such).
const PLACEHOLDER_METRICS = new Set([]);

let failures = 0;
let checks = 0;
function fail(where, message) {
  failures++;
  console.log(`  FAIL ${where}: ${message}`);
}
function check(cond, where, message) {
  checks++;
  if (!cond) fail(where, message);
  return cond;
}

function loadRender(file) {
  const name = path.basename(file).replace(/\.json$/, "");
  const objects = JSON.parse(fs.readFileSync(file, "utf8")).filter((o) => o && typeof o === "object");
  const externalFile = file.replace(/\.json$/, ".external");
  const external = fs.existsSync(externalFile)
    ? fs.readFileSync(externalFile, "utf8").split(/\s+/).filter(Boolean)
    : [];
  return { name, objects, external: new Set(external) };
}

function id(o) {
  return `${o.kind}/${(o.metadata || {}).name}`;
}

// ---------------------------------------------------------------------------
// Schema: kubernetes-models validators, plus unknown fields from its typings.

const modelsRoot = path.dirname(require.resolve("kubernetes-models"));
const machineryRoot = path.dirname(require.resolve("@kubernetes-models/apimachinery"));

function modelFor(apiVersion, kind) {
  if (!/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion || "") || !/^[A-Za-z]+$/.test(kind || "")) return null;
  const file = path.join(modelsRoot, apiVersion, `${kind}.js`);
  if (!fs.existsSync(file)) return null;
  const Model = require(file)[kind];
  return Model ? { Model, typings: file.replace(/\.js$/, ".d.ts") } : null;
}

// Parses the interface a generated .d.ts file declares into
// { props: {name: typeText}, imports: {Name: file} }, memoized.
const typingsCache = new Map();
function readTypings(file) {
  if (typingsCache.has(file)) return typingsCache.get(file);
  const text = fs.readFileSync(file, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
  const imports = {};
  for (const m of text.matchAll(/import \{ ([^}]+) \} from "([^"]+)";/g)) {
    let target = m[2];
    if (target.startsWith("@kubernetes-models/apimachinery/")) {
      target = path.join(machineryRoot, target.slice("@kubernetes-models/apimachinery/".length));
    } else if (target.startsWith(".")) {
      target = path.resolve(path.dirname(file), target);
    } else {
      continue;
    }
    for (const name of m[1].split(",").map((s) => s.trim())) imports[name] = `${target}.d.ts`;
  }
  let result = null;
  const iface = /export interface \w+(?: extends ([\w, ]+))? \{\n/.exec(text);
  if (iface) {
    const props = {};
    if (iface[1] && iface[1].includes("TypeMeta")) {
      props.apiVersion = "string";
      props.kind = "string";
    }
    // Property declarations at the interface's own depth; a type may span lines.
    let depth = 0;
    let current = null;
    for (const line of text.slice(iface.index + iface[0].length).split("\n")) {
      if (depth === 0 && /^\}/.test(line)) break;
      const start = depth === 0 ? /^ {4}"([^"]+)"\??: (.*)$/.exec(line) : null;
      if (start) {
        current = start[1];
        props[current] = start[2];
      } else if (current) {
        props[current] += ` ${line.trim()}`;
      }
      depth += (line.match(/[{<]/g) || []).length - (line.match(/[}>]/g) || []).length;
      if (depth === 0) current = null;
    }
    for (const k of Object.keys(props)) props[k] = props[k].replace(/;$/, "").trim();
    result = { props, imports };
  }
  typingsCache.set(file, result);
  return result;
}

// Walks `value` along the TypeScript type `type` (text) declared in `file`.
function unknownFields(value, type, file, where, out) {
  type = type.trim();
  let m;
  if ((m = /^Array<(.+)>$/s.exec(type))) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, m[1], file, `${where}[${i}]`, out));
    return;
  }
  if ((m = /^\{\s*\[key: string\]: (.+?);?\s*\}$/s.exec(type))) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) unknownFields(v, m[1], file, `${where}.${k}`, out);
    }
    return;
  }
  const typings = readTypings(file);
  if (!typings || !/^I\w+$/.test(type) || !typings.imports[type]) return;  // a leaf
  const target = typings.imports[type];
  if (!fs.existsSync(target)) return;
  checkInterface(value, target, where, out);
}

function checkInterface(value, file, where, out) {
  const typings = readTypings(file);
  if (!typings || !value || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!(k in typings.props)) {
      out.push(`${where ? where + "." : ""}${k}: unknown field`);
      continue;
    }
    unknownFields(v, typings.props[k], file, where ? `${where}.${k}` : k, out);
  }
}

// The Prometheus Operator kinds are not in kubernetes-models: check their shape.
function checkMonitoringKind(o, where) {
  const spec = o.spec || {};
  const allowed = (obj, keys, at) => {
    for (const k of Object.keys(obj || {})) check(keys.includes(k), where, `${at}.${k}: unknown field`);
  };
  allowed(o, ["apiVersion", "kind", "metadata", "spec"], "");
  if (o.kind === "ServiceMonitor") {
    allowed(spec, ["jobLabel", "selector", "namespaceSelector", "endpoints", "targetLabels", "podTargetLabels",
                   "sampleLimit", "targetLimit"], "spec");
    check(spec.selector && typeof spec.selector === "object", where, "spec.selector is required");
    check(Array.isArray(spec.endpoints) && spec.endpoints.length > 0, where, "spec.endpoints must list at least one");
    for (const [i, e] of (spec.endpoints || []).entries()) {
      allowed(e, ["port", "targetPort", "path", "scheme", "interval", "scrapeTimeout", "honorLabels",
                  "relabelings", "metricRelabelings", "tlsConfig", "params"], `spec.endpoints[${i}]`);
      check(typeof e.port === "string" && e.port.length > 0, where, `spec.endpoints[${i}].port must name a port`);
      for (const d of ["interval", "scrapeTimeout"]) {
        if (e[d] !== undefined) check(/^(\d+(ms|s|m|h))+$/.test(e[d]), where, `spec.endpoints[${i}].${d}: not a duration`);
      }
    }
  } else if (o.kind === "PrometheusRule") {
    allowed(spec, ["groups"], "spec");
    check(Array.isArray(spec.groups) && spec.groups.length > 0, where, "spec.groups must list at least one");
    const names = new Set();
    for (const [gi, g] of (spec.groups || []).entries()) {
      allowed(g, ["name", "interval", "rules", "partial_response_strategy", "limit"], `spec.groups[${gi}]`);
      check(typeof g.name === "string" && !names.has(g.name), where, `spec.groups[${gi}].name missing or repeated`);
      names.add(g.name);
      for (const [ri, r] of (g.rules || []).entries()) {
        const at = `spec.groups[${gi}].rules[${ri}]`;
        allowed(r, ["alert", "record", "expr", "for", "labels", "annotations", "keep_firing_for"], at);
        check(!!r.alert !== !!r.record, where, `${at}: exactly one of alert and record`);
        check(typeof r.expr === "string" && r.expr.trim().length > 0, where, `${at}.expr is required`);
        if (r.record) check(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(r.record), where, `${at}.record: not a metric name`);
        if (r.for !== undefined) check(/^(\d+(ms|s|m|h|d|w|y))+$/.test(r.for), where, `${at}.for: not a duration`);
        for (const key of ["labels", "annotations"]) {
          for (const [k, v] of Object.entries(r[key] || {})) {
            check(typeof v === "string", where, `${at}.${key}.${k} must be a string`);
          }
        }
        if (typeof r.expr === "string") checkPromqlShape(r.expr, where, at);
      }
    }
  }
}

// Catches the usual slips in an expression without a PromQL parser.
function checkPromqlShape(expr, where, at) {
  const stripped = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const pairs = { ")": "(", "]": "[", "}": "{" };
  const stack = [];
  let ok = true;
  for (const c of stripped) {
    if ("([{".includes(c)) stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) ok = false;
  }
  check(ok && stack.length === 0, where, `${at}.expr: unbalanced brackets`);
  for (const m of stripped.matchAll(/\[([^\]]*)\]/g)) {
    check(/^(\d+(ms|s|m|h|d|w|y))+(:(\d+(ms|s|m|h|d|w|y))*)?$|^\$__rate_interval$/.test(m[1].trim()),
          where, `${at}.expr: range [${m[1]}] is not a duration`);
  }
}

// ---------------------------------------------------------------------------
// Suite rules.

function podTemplates(objects) {
  const out = [];
  for (const o of objects) {
    if (["Deployment", "StatefulSet", "Job"].includes(o.kind)) {
      out.push({ owner: o, template: o.spec.template });
    }
  }
  return out;
}

function matches(selector, labels) {
  if (!selector) return false;
  labels = labels || {};
  for (const [k, v] of Object.entries(selector.matchLabels || {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions || []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function parseDuration(text) {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text || "");
  if (!m) return null;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
}

// Variables naming files the binaries read at start, expected in mounted Secrets.
const SECRET_FILE_VARS = ["CS_TLS_CERT_FILE", "CS_TLS_KEY_FILE", "CS_TLS_CLIENT_CA_FILE", "CS_AUTH_TOKENS_FILE",
                          "CS_PEER_TLS_CA_FILE", "CS_PEER_TLS_CERT_FILE", "CS_PEER_TLS_KEY_FILE", "CS_PEER_TOKEN_FILE"];

// The environment a container starts with, resolved against the render.
function containerEnv(container, objects, where) {
  const env = {};
  const byName = (kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  for (const from of container.envFrom || []) {
    if (from.configMapRef) {
      const cm = byName("ConfigMap", from.configMapRef.name);
      if (cm) Object.assign(env, cm.data || {});
    }
  }
  for (const e of container.env || []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom && e.valueFrom.configMapKeyRef) {
      const cm = byName("ConfigMap", e.valueFrom.configMapKeyRef.name);
      env[e.name] = cm && cm.data ? cm.data[e.valueFrom.configMapKeyRef.key] : undefined;
    } else env[e.name] = "<from a secret or the downward API>";
  }
  return env;
}

function suiteContainers(objects) {
  const out = [];
  for (const { owner, template } of podTemplates(objects)) {
    const spec = template.spec || {};
    for (const [list, role] of [[spec.initContainers || [], "initContainer"], [spec.containers || [], "container"]]) {
      for (const c of list) {
        const m = SUITE_IMAGE.exec(c.image || "");
        if (m) out.push({ svc: m[1], owner, spec, container: c, role, where: `${id(owner)} ${role} ${c.name}` });
      }
    }
  }
  return out;
}

function checkSuiteRules(render) {
  const { objects, external, name } = render;
  const where0 = name;
  const exists = (kind, n) => objects.some((o) => o.kind === kind && o.metadata.name === n) || external.has(`${kind}/${n}`);
  const templates = podTemplates(objects);

  // Unique names per kind.
  const seen = new Set();
  for (const o of objects) {
    check(!seen.has(id(o)), where0, `${id(o)} rendered twice`);
    seen.add(id(o));
  }

  for (const { owner, template } of templates) {
    const w = `${name} ${id(owner)}`;
    const spec = template.spec || {};
    if (owner.spec.selector) {
      check(matches(owner.spec.selector, (template.metadata || {}).labels), w, "selector does not match the pod template's labels");
    }
    // Every referenced ConfigMap, Secret and ServiceAccount exists.
    if (spec.serviceAccountName) check(exists("ServiceAccount", spec.serviceAccountName), w, `ServiceAccount ${spec.serviceAccountName} missing`);
    for (const v of spec.volumes || []) {
      if (v.secret) check(exists("Secret", v.secret.secretName), w, `Secret ${v.secret.secretName} (volume ${v.name}) missing`);
      if (v.configMap) check(exists("ConfigMap", v.configMap.name), w, `ConfigMap ${v.configMap.name} (volume ${v.name}) missing`);
      for (const s of (v.projected || {}).sources || []) {
        if (s.secret) check(exists("Secret", s.secret.name), w, `Secret ${s.secret.name} (volume ${v.name}) missing`);
      }
    }
    const pod = spec.securityContext || {};
    for (const c of [...(spec.initContainers || []), ...(spec.containers || [])]) {
      const cw = `${w} ${c.name}`;
      for (const f of c.envFrom || []) {
        if (f.configMapRef) check(exists("ConfigMap", f.configMapRef.name), cw, `ConfigMap ${f.configMapRef.name} missing`);
        if (f.secretRef) check(exists("Secret", f.secretRef.name), cw, `Secret ${f.secretRef.name} missing`);
      }
      const claims = (owner.spec.volumeClaimTemplates || []).map((t) => t.metadata.name);
      for (const m of c.volumeMounts || []) {
        check((spec.volumes || []).some((v) => v.name === m.name) || claims.includes(m.name), cw,
              `volumeMount ${m.name} has no volume`);
      }
      const r = c.resources || {};
      check(r.requests && r.requests.cpu && r.requests.memory && r.limits && r.limits.memory, cw,
            "resources: cpu and memory requests and a memory limit are required");
      const sc = c.securityContext || {};
      check((sc.runAsNonRoot ?? pod.runAsNonRoot) === true, cw, "must run as non-root (runAsNonRoot)");
      check(sc.allowPrivilegeEscalation === false, cw, "allowPrivilegeEscalation must be false");
      check(((sc.capabilities || {}).drop || []).includes("ALL"), cw, "capabilities must drop ALL");
      check(((sc.seccompProfile || pod.seccompProfile || {}).type || "") === "RuntimeDefault", cw, "seccompProfile RuntimeDefault required");
      // Named probe ports exist.
      for (const p of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const probe = c[p];
        if (!probe) continue;
        const port = (probe.tcpSocket || probe.httpGet || {}).port;
        if (typeof port === "string") check((c.ports || []).some((cp) => cp.name === port), cw, `${p} names port ${port}, not declared`);
      }
    }
  }

  // The suite's own containers.
  for (const s of suiteContainers(objects)) {
    const w = `${name} ${s.where}`;
    const c = s.container;
    const sc = c.securityContext || {};
    check(sc.readOnlyRootFilesystem === true, w, "readOnlyRootFilesystem must be true");
    check((s.spec.securityContext || {}).runAsUser !== 0 && sc.runAsUser !== 0, w, "runAsUser 0");
    const env = containerEnv(c, objects, w);
    // The password file is a key of a mounted secret volume.
    if (env.CS_DB_PASSWORD_FILE) {
      const file = env.CS_DB_PASSWORD_FILE;
      const mount = (c.volumeMounts || []).find((m) => path.posix.dirname(file) === m.mountPath.replace(/\/$/, ""));
      const vol = mount && (s.spec.volumes || []).find((v) => v.name === mount.name);
      const key = path.posix.basename(file);
      check(!!(vol && vol.secret && (!vol.secret.items || vol.secret.items.some((i) => i.path === key))), w,
            `CS_DB_PASSWORD_FILE=${file} is not a file of a mounted Secret volume`);
    }
    // TLS material and tokens: files of mounted Secret volumes too.
    for (const name of SECRET_FILE_VARS) {
      const file = env[name];
      if (!file) continue;
      const mount = (c.volumeMounts || []).find((m) => path.posix.dirname(file) === m.mountPath.replace(/\/$/, ""));
      const vol = mount && (s.spec.volumes || []).find((v) => v.name === mount.name);
      const key = path.posix.basename(file);
      check(!!(vol && vol.secret && (!vol.secret.items || vol.secret.items.some((i) => i.path === key))), w,
            `${name}=${file} is not a file of a mounted Secret volume`);
    }
    // The database URI: this service's own schema, no password inline.
    if (env.CS_DB_URI !== undefined) {
      const m = /^mysql:\/\/([^:@/]+)(:[^@]*)?@([^:/]+)(:\d+)?(\/([A-Za-z0-9_]{1,64}))?$/.exec(env.CS_DB_URI);
      if (check(!!m, w, `CS_DB_URI=${env.CS_DB_URI} is not mysql://USER@HOST[:PORT][/SCHEMA]`)) {
        check(!m[2], w, "CS_DB_URI carries a password: use CS_DB_PASSWORD_FILE");
        check(!m[6] || m[6] === `cs_${s.svc}`, w, `CS_DB_URI schema ${m[6]} is not cs_${s.svc} (one schema per service)`);
      }
    }
    const migrateOnly = (c.args || []).some((a) => /^--migrate_only(=true)?$/.test(a)) || env.CS_MIGRATE_ONLY === "true";
    if (s.role === "container" && s.owner.kind === "Deployment") {
      check(!migrateOnly, w, "a server container must not run --migrate_only");
      const grpcPort = (c.ports || []).find((p) => p.name === "grpc");
      check(!!grpcPort, w, "no container port named grpc");
      check((c.ports || []).some((p) => p.name === "metrics"), w, "no container port named metrics");
      // With CS_PROBE_LISTEN (a TLS gRPC port, which the kubelet's probes cannot
      // speak) the probes ask the plaintext probe port, a container port "probe";
      // without it, the gRPC port.
      const probePort = (c.ports || []).find((p) => p.name === "probe");
      let probeTarget = grpcPort;
      if (env.CS_PROBE_LISTEN) {
        const m = /^(.*):(\d+)$/.exec(env.CS_PROBE_LISTEN);
        check(!!m && ["0.0.0.0", "[::]", ""].includes(m[1]), w,
              `CS_PROBE_LISTEN=${env.CS_PROBE_LISTEN} must be 0.0.0.0:PORT (the kubelet probes the pod IP)`);
        check(!!probePort && !!m && probePort.containerPort === Number(m[2]), w,
              `CS_PROBE_LISTEN=${env.CS_PROBE_LISTEN} needs a container port named probe on that port`);
        probeTarget = probePort;
      } else {
        check(!probePort, w, "a container port named probe without CS_PROBE_LISTEN: nothing listens there");
      }
      if (env.CS_TLS_CERT_FILE) {
        check(!!env.CS_PROBE_LISTEN, w,
              "CS_TLS_CERT_FILE makes the gRPC port TLS-only, which native gRPC probes cannot speak: set CS_PROBE_LISTEN");
      }
      for (const p of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const probe = c[p];
        if (check(probe && probe.grpc, w, `${p} must be a native gRPC probe`)) {
          check(probeTarget && probe.grpc.port === probeTarget.containerPort, w,
                `${p} asks port ${probe.grpc.port}, the ${probeTarget === grpcPort ? "grpc" : "probe"} container port is ${probeTarget && probeTarget.containerPort}`);
          // Readiness follows the database (empty name); startup and liveness ask the
          // "liveness" service, which the binaries keep SERVING while the process works.
          const want = p === "readinessProbe" ? "" : "liveness";
          check((probe.grpc.service || "") === want, w,
                `${p} must ask the ${want ? `"${want}" service` : "server's overall status (no service name)"}`);
        }
      }
      // Grace period: preStop pause + drain timeout (+ a little to exit).
      const pre = (((c.lifecycle || {}).preStop || {}).exec || {}).command || [];
      const pause = pre.length === 2 && /sleep$/.test(pre[0]) ? Number(pre[1]) : NaN;
      check(Number.isFinite(pause) && pause > 0, w, "preStop must be [sleep, SECONDS] so endpoints drain first");
      const drain = parseDuration(env.CS_DRAIN_TIMEOUT || "20s");
      const grace = s.spec.terminationGracePeriodSeconds;
      check(Number.isFinite(pause) && drain !== null && grace >= pause + drain && grace <= pause + drain + 15, w,
            `terminationGracePeriodSeconds ${grace} should be preStop ${pause}s + drain ${drain}s (+ at most 15s)`);
      check(s.owner.spec.replicas >= 2, w, "2 or more replicas");
      check((s.spec.topologySpreadConstraints || []).length > 0 || !!((s.spec.affinity || {}).podAntiAffinity), w,
            "replicas must be spread (topologySpreadConstraints or podAntiAffinity)");
      for (const kind of ["Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceAccount"]) {
        check(objects.some((o) => o.kind === kind && (o.metadata.labels || {})["app.kubernetes.io/name"] === s.svc),
              w, `no ${kind} for ${s.svc}`);
      }
      check(objects.some((o) => o.kind === "Job" && (o.metadata.labels || {})["app.kubernetes.io/name"] === s.svc &&
                                suiteContainers([o]).some((j) => (j.container.args || []).includes("--migrate_only"))),
            w, `no migration Job (--migrate_only) for ${s.svc}`);
    }
  }

  for (const o of objects) {
    const w = `${name} ${id(o)}`;
    const podsOf = (selector) => templates.filter((t) => matches(selector, (t.template.metadata || {}).labels));
    if (o.kind === "Service") {
      const pods = podsOf({ matchLabels: o.spec.selector || {} });
      if (check(pods.length > 0, w, "selects no pod template")) {
        for (const p of o.spec.ports || []) {
          if (typeof p.targetPort !== "string") continue;
          for (const t of pods) {
            const ok = (t.template.spec.containers || []).some((c) => (c.ports || []).some((cp) => cp.name === p.targetPort));
            check(ok, w, `targetPort ${p.targetPort} is not a port of ${id(t.owner)}`);
          }
        }
      }
    } else if (o.kind === "PodDisruptionBudget") {
      const pods = podsOf(o.spec.selector);
      check(pods.length === 1 && pods[0].owner.kind !== "Job", w, `must select exactly one workload, selects ${pods.map((t) => id(t.owner)).join(", ") || "none"}`);
    } else if (o.kind === "HorizontalPodAutoscaler") {
      const t = o.spec.scaleTargetRef;
      const target = objects.find((x) => x.kind === t.kind && x.metadata.name === t.name);
      if (check(!!target, w, `scale target ${t.kind}/${t.name} missing`)) {
        check(o.spec.minReplicas >= 2 && o.spec.maxReplicas >= o.spec.minReplicas, w, "minReplicas >= 2 <= maxReplicas");
        check(target.spec.replicas === undefined || target.spec.replicas >= o.spec.minReplicas, w,
              `Deployment replicas ${target.spec.replicas} below the HPA's minReplicas ${o.spec.minReplicas}`);
      }
    } else if (o.kind === "NetworkPolicy") {
      const sel = o.spec.podSelector || {};
      const empty = !Object.keys(sel.matchLabels || {}).length && !(sel.matchExpressions || []).length;
      if (!empty) check(podsOf(sel).length > 0, w, "podSelector selects no pod template");
      for (const rule of [...(o.spec.ingress || []).map((r) => r.from || []), ...(o.spec.egress || []).map((r) => r.to || [])]) {
        for (const peer of rule) {
          if (peer.podSelector && !peer.namespaceSelector) check(podsOf(peer.podSelector).length > 0, w, "a peer podSelector selects no pod template");
        }
      }
    } else if (o.kind === "ServiceMonitor") {
      const services = objects.filter((x) => x.kind === "Service");
      // Rendered alone (deploy/monitoring): the suite's Services come from the overlays.
      if (services.length) {
        const selected = services.filter((x) => matches(o.spec.selector, x.metadata.labels));
        check(selected.length > 0, w, "selects no Service");
      }
    }
  }
}

// The suite's Services as the overlays render them, for a ServiceMonitor checked alone.
function checkServiceMonitorAgainst(monitor, renders) {
  for (const r of renders) {
    const services = r.objects.filter((x) => x.kind === "Service" && matches(monitor.spec.selector, x.metadata.labels));
    const names = new Set(services.map((s) => s.metadata.labels["app.kubernetes.io/name"]));
    for (const svc of SERVICES) check(names.has(svc), `${r.name} ServiceMonitor/${monitor.metadata.name}`, `selects no Service of ${svc}`);
    for (const e of monitor.spec.endpoints || []) {
      const withPort = services.filter((s) => (s.spec.ports || []).some((p) => p.name === e.port));
      check(withPort.length === SERVICES.length, `${r.name} ServiceMonitor/${monitor.metadata.name}`,
            `port ${e.port} found on ${withPort.length} selected Services, expected one per service`);
      if (monitor.spec.jobLabel) {
        check(withPort.every((s) => s.metadata.labels[monitor.spec.jobLabel]), `${r.name} ServiceMonitor`, `jobLabel ${monitor.spec.jobLabel} missing on a Service`);
      }
    }
  }
}

// Metric names in rules and dashboards must be exported by a binary.
function metricNames(expr) {
  const names = new Set();
  const stripped = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const m of stripped.matchAll(/\b(cs_[a-z0-9_]+)\b/g)) names.add(m[1].replace(/_(bucket|sum|count)$/, ""));
  return names;
}

function checkMetricNames(renders, binaries, dashboards) {
  const blobs = binaries.map((b) => fs.readFileSync(b));
  const exported = (name) => blobs.some((blob) => blob.includes(Buffer.from(name)));
  const uses = [];
  for (const r of renders) {
    for (const o of r.objects) {
      if (o.kind !== "PrometheusRule") continue;
      for (const g of o.spec.groups || []) {
        for (const rule of g.rules || []) {
          const placeholder = (rule.labels || {}).placeholder === "true";
          uses.push({ where: `${r.name} rule ${rule.alert || rule.record}`, expr: rule.expr, placeholder });
        }
      }
    }
  }
  for (const file of dashboards) {
    const dash = JSON.parse(fs.readFileSync(file, "utf8"));
    const walk = (panels) => {
      for (const p of panels || []) {
        const placeholder = /metric to come/i.test(p.title || "");
        for (const t of p.targets || []) uses.push({ where: `${path.basename(file)} panel "${p.title}"`, expr: t.expr || "", placeholder });
        walk(p.panels);
      }
    };
    check(typeof dash.title === "string" && Array.isArray(dash.panels), path.basename(file), "not a Grafana dashboard");
    walk(dash.panels);
  }
  for (const u of uses) {
    for (const name of metricNames(u.expr)) {
      if (PLACEHOLDER_METRICS.has(name)) {
        check(u.placeholder, u.where, `${name} is a metric to come: mark the rule (label placeholder="true") or panel ("metric to come")`);
      } else {
        check(exported(name), u.where, `metric ${name} is exported by no binary`);
      }
    }
  }
}

function schemaCommand(files, opts) {
  const renders = files.map(loadRender);
  for (const r of renders) {
    console.log(`- ${r.name}: ${r.objects.length} objects`);
    for (const o of r.objects) {
      const where = `${r.name} ${id(o)}`;
      if (o.apiVersion === "monitoring.coreos.com/v1") {
        checkMonitoringKind(o, where);
        continue;
      }
      const model = modelFor(o.apiVersion, o.kind);
      if (!check(!!model, where, `${o.apiVersion} ${o.kind} is not a known Kubernetes kind`)) continue;
      try {
        new model.Model(o).validate();
        checks++;
      } catch (e) {
        const details = (e.errors || []).map((x) => `${x.instancePath || "/"} ${x.message}`).join("; ");
        fail(where, `schema: ${details || e.message}`);
      }
      const unknown = [];
      checkInterface(o, model.typings, "", unknown);
      check(unknown.length === 0, where, unknown.join("; "));
    }
    checkSuiteRules(r);
  }
  const overlays = renders.filter((r) => r.objects.some((o) => o.kind === "Deployment"));
  for (const r of renders) {
    for (const m of r.objects.filter((o) => o.kind === "ServiceMonitor")) checkServiceMonitorAgainst(m, overlays);
  }
  if (opts.buildDir) {
    const binaries = SERVICES.map((s) => path.join(opts.buildDir, "services", s, `${s}_server`));
    checkMetricNames(renders, binaries, opts.dashboards);
  }
}

// ---------------------------------------------------------------------------
// Runtime: start the binaries with the containers' settings.

function knownFlags(binary) {
  const r = spawnSync(binary, ["--helpfull"], { encoding: "utf8" });
  const text = `${r.stdout || ""}${r.stderr || ""}`;
  const flags = new Set();
  for (const m of text.matchAll(/^\s+--([a-z0-9_]+) \(/gm)) flags.add(m[1]);
  return flags;
}

function netnsPrefix() {
  if (process.env.VALIDATE_DEPLOY_NO_NETNS) return null;
  for (const args of [["-n"], ["-rn"]]) {
    const r = spawnSync("unshare", [...args, "true"]);
    if (r.status === 0) return ["unshare", ...args];
  }
  return null;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Runs one binary; resolves to {code, signal, lines, stderr}.
async function runOnce(binary, args, env, plan, prefix) {
  const cmd = prefix ? prefix[0] : binary;
  const cmdArgs = prefix ? [...prefix.slice(1), binary, ...args] : args;
  const child = spawn(cmd, cmdArgs, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  let result = await Promise.race([exited, sleep(plan.aliveMs).then(() => null)]);
  const aliveAfter = result === null;
  if (aliveAfter) {
    child.kill("SIGTERM");
    result = await Promise.race([exited, sleep(plan.stopMs).then(() => null)]);
    if (result === null) {
      child.kill("SIGKILL");
      result = { ...(await exited), hung: true };
    }
  }
  await sleep(50);
  const lines = stdout.split("\n").filter(Boolean).map((l) => {
    try { return JSON.parse(l); } catch (e) { return { raw: l }; }
  });
  return { ...result, aliveAfter, lines, stdout, stderr };
}

async function runtimeCommand(files, opts) {
  const renders = files.map(loadRender);
  const prefix = netnsPrefix();
  console.log(prefix
    ? `- each binary runs in a network namespace of its own (${prefix.join(" ")}), on the manifests' own ports`
    : "- no network namespace (unshare unavailable): each binary listens on 127.0.0.1 with the manifests' hosts " +
      "and ports swapped for free ones, so the ports are checked as configured, not as bound");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cs-validate-"));
  const passwordFile = path.join(tmp, "password");
  fs.writeFileSync(passwordFile, "not-a-password\n");
  // The Secrets' files (TLS material, tokens) do not exist here: a test CA made by
  // scripts/make-test-ca stands in for cs-suite-tls, and generated token files for
  // the token Secrets, each found by the file's name in its mount.
  const caDir = path.join(tmp, "tls");
  const made = spawnSync(path.join(__dirname, "..", "..", "scripts", "make-test-ca"), [caDir], { encoding: "utf8" });
  check(made.status === 0, "runtime", `scripts/make-test-ca failed: ${made.stderr || made.error}`);
  const tokenFile = path.join(tmp, "token");
  fs.writeFileSync(tokenFile, "validate-deploy-token\n");
  const tokensFile = path.join(tmp, "tokens");
  fs.writeFileSync(tokensFile,
    `sha256:${require("crypto").createHash("sha256").update("validate-deploy-token").digest("hex")} validate-deploy health.read\n`);
  const standIns = { "tls.crt": path.join(caDir, "server.pem"), "tls.key": path.join(caDir, "server.key"),
                     "ca.crt": path.join(caDir, "ca.pem"), tokens: tokensFile, token: tokenFile };
  const localFile = (name, file) => {
    const local = standIns[path.posix.basename(file)];
    check(!!local, "runtime", `${name}=${file}: no local stand-in for ${path.posix.basename(file)}`);
    return local || file;
  };
  const flagsBySvc = {};
  const jobs = [];
  // One process per distinct (binary, environment, arguments): the init container
  // and the Job usually share one; each container's own checks still run.
  const runs = new Map();
  const runShared = (key, start) => {
    if (!runs.has(key)) runs.set(key, start());
    return runs.get(key);
  };
  for (const r of renders) {
    for (const s of suiteContainers(r.objects)) {
      const where = `${r.name} ${s.where}`;
      const binary = path.join(opts.buildDir, "services", s.svc, `${s.svc}_server`);
      if (!check(fs.existsSync(binary), where, `${binary} not built`)) continue;
      if (!flagsBySvc[s.svc]) flagsBySvc[s.svc] = knownFlags(binary);
      const flags = flagsBySvc[s.svc];
      if (!check(flags.size > 0, where, `${binary} --helpfull listed no flags`)) continue;
      const c = s.container;
      const env = containerEnv(c, r.objects, where);
      const before = failures;
      // Every variable and argument must be a flag of the binary: an unknown CS_*
      // variable would be ignored silently, an unknown argument exits 1.
      for (const name of Object.keys(env)) {
        const flag = name.startsWith("CS_") ? name.slice(3).toLowerCase() : null;
        check(flag !== null && flags.has(flag) && name === `CS_${flag.toUpperCase()}`, where,
              `env ${name} is not CS_<flag> for any flag of ${s.svc}_server`);
      }
      for (const a of c.args || []) {
        const m = /^--([a-z0-9_]+)(=.*)?$/.exec(a);
        check(m && flags.has(m[1]), where, `argument ${a} is not a flag of ${s.svc}_server`);
      }
      check(!c.command, where, "command overrides the image's entry point; pass args only");
      jobs.push({ r, s, where, binary, env, bad: failures !== before });
    }
  }
  const runOne = async (job) => {
    let bad = job.bad;
    const local = {
      check: (cond, where, message) => {
        if (!check(cond, where, message)) bad = true;
        return cond;
      },
      fail: (where, message) => {
        bad = true;
        fail(where, message);
      },
      ok: (text) => {
        if (!bad) console.log(`  ok   ${job.where}: ${text}`);
      },
    };
    await runContainer(job, local);
  };
  const runContainer = async ({ r, s, where, binary, env }, { check, fail, ok }) => {
    const c = s.container;
    const runEnv = { PATH: process.env.PATH || "/usr/bin:/bin", LANG: "C.UTF-8" };
    for (const [k, v] of Object.entries(env)) runEnv[k] = v;
    // An unreachable database: same user and schema, host and port replaced.
    if (runEnv.CS_DB_URI) runEnv.CS_DB_URI = runEnv.CS_DB_URI.replace(/@[^/]*/, "@127.0.0.1:1");
    else runEnv.CS_DB_URI = "mysql://root@127.0.0.1:1";
    if (runEnv.CS_DB_PASSWORD_FILE) runEnv.CS_DB_PASSWORD_FILE = passwordFile;
    for (const name of SECRET_FILE_VARS) {
      if (runEnv[name]) runEnv[name] = localFile(name, runEnv[name]);
    }
    // Without a namespace of its own, any free port on loopback; the checks below
    // then compare the configured ports instead of the bound ones.
    const configured = {};
    for (const k of ["CS_LISTEN", "CS_METRICS_LISTEN", "CS_PROBE_LISTEN"]) {
      configured[k] = runEnv[k];
      if (!prefix && runEnv[k]) runEnv[k] = "127.0.0.1:0";
    }
    const migrateOnly = (c.args || []).some((a) => /^--migrate_only(=true)?$/.test(a)) || env.CS_MIGRATE_ONLY === "true";
    const serves = !migrateOnly && env.CS_MIGRATE_ON_START === "false";
    const drain = parseDuration(env.CS_DRAIN_TIMEOUT || "20s") || 20;
    const res = await runShared(JSON.stringify([binary, runEnv, c.args || []]),
      () => runOnce(binary, c.args || [], runEnv, { aliveMs: 2500, stopMs: (drain + 5) * 1000 }, prefix));
    const tail = (res.stderr.trim() || res.stdout.trim()).split("\n").slice(-3).join(" | ");
    checks++;
    if (!res.aliveAfter) {
      const why = res.code === 2 ? "rejected its configuration (exit 2)" :
                  res.code === 1 ? "exited 1 (unknown flag, or could not start)" : `exited (${res.code ?? res.signal})`;
      fail(where, `${s.svc}_server ${why}: ${tail}`);
      return;
    }
    check(!res.hung && res.code === 0, where, `SIGTERM did not stop ${s.svc}_server cleanly (code ${res.code}, signal ${res.signal})`);
    if (migrateOnly) {
      check(res.lines.some((l) => /retrying migrations/.test(l.msg || "")), where,
            "--migrate_only should be retrying against the unreachable database");
      ok("accepted; --migrate_only waits for the database, stops on SIGTERM");
      return;
    }
    if (!check(serves, where, "CS_MIGRATE_ON_START must be false in a server container (the migration Job and init container migrate)")) return;
    let serving = res.lines.find((l) => l.msg === "serving");
    if (!check(!!serving, where, `no "serving" log line: ${tail}`)) return;
    if (!prefix) {
      const port = (a) => Number(String(a || "").replace(/^.*:/, ""));
      serving = { ...serving, listen: configured.CS_LISTEN || "", port: port(configured.CS_LISTEN),
                  metrics: configured.CS_METRICS_LISTEN || "",
                  probe_port: configured.CS_PROBE_LISTEN ? port(configured.CS_PROBE_LISTEN) : 0 };
    }
    // TLS as configured: the gRPC port is TLS (mutual with a client CA) and the
    // probes then ask the plaintext probe port.
    const wantTls = env.CS_TLS_CERT_FILE ? (env.CS_TLS_CLIENT_CA_FILE ? "mutual" : "on") : "off";
    check(serving.tls === wantTls, where, `the binary reports TLS ${serving.tls}, the settings say ${wantTls}`);
    const probesAsk = env.CS_PROBE_LISTEN ? serving.probe_port : serving.port;
    check(!env.CS_PROBE_LISTEN || serving.probe_port > 0, where, "CS_PROBE_LISTEN is set but no probe port was bound");
    const grpcPort = (c.ports || []).find((p) => p.name === "grpc");
    const metricsPort = (c.ports || []).find((p) => p.name === "metrics");
    const host = String(serving.listen || "").replace(/:\d+$/, "");
    check(["0.0.0.0", "[::]", ""].includes(host), where, `listens on ${serving.listen}: not reachable from outside the pod`);
    check(grpcPort && serving.port === grpcPort.containerPort, where,
          `gRPC listens on port ${serving.port}, container port grpc is ${grpcPort && grpcPort.containerPort}`);
    for (const p of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      if (c[p] && c[p].grpc) {
        check(c[p].grpc.port === probesAsk, where,
              `${p} asks port ${c[p].grpc.port}, the binary answers grpc.health.v1 ${env.CS_PROBE_LISTEN ? "in plaintext " : ""}on ${probesAsk}`);
      }
    }
    const mport = Number(String(serving.metrics || "").replace(/^.*:/, ""));
    check(metricsPort && mport === metricsPort.containerPort, where,
          `metrics listen on ${serving.metrics}, container port metrics is ${metricsPort && metricsPort.containerPort}`);
    const svcObj = r.objects.find((o) => o.kind === "Service" && o.metadata.name === s.svc);
    if (svcObj) {
      for (const p of svcObj.spec.ports || []) {
        const target = typeof p.targetPort === "string" ? (c.ports || []).find((cp) => cp.name === p.targetPort) : { containerPort: p.targetPort };
        check(target && [serving.port, mport].includes(target.containerPort), where,
              `Service ${s.svc} port ${p.name} leads to ${target && target.containerPort}, where nothing listens`);
      }
    }
    check(res.lines.some((l) => /signal received/.test(l.msg || "")) && res.lines.some((l) => l.msg === "stopped"), where,
          "no graceful drain logged after SIGTERM");
    ok(env.CS_PROBE_LISTEN
      ? `accepted; gRPC (TLS ${serving.tls}) on :${serving.port}, plaintext probe port :${probesAsk} where the probes ask, metrics on :${mport}, drained on SIGTERM`
      : `accepted; gRPC on :${serving.port} where the probes ask, metrics on :${mport}, drained on SIGTERM`);
  };
  // Ports never clash (a namespace each, or port 0), so all run at once.
  await Promise.all(jobs.map(runOne));
  fs.rmSync(tmp, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const opts = { dashboards: [] };
  const files = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--build-dir") opts.buildDir = rest[++i];
    else if (rest[i] === "--dashboard") opts.dashboards.push(rest[++i]);
    else files.push(rest[i]);
  }
  if (!["schema", "runtime"].includes(command) || files.length === 0 || (command === "runtime" && !opts.buildDir)) {
    console.error("usage: validate-manifests.js schema [--build-dir DIR] [--dashboard FILE]... RENDER.json...\n" +
                  "       validate-manifests.js runtime --build-dir DIR RENDER.json...");
    process.exit(64);
  }
  if (command === "schema") schemaCommand(files, opts);
  else await runtimeCommand(files, opts);
  console.log(`${command}: ${checks} checks, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
