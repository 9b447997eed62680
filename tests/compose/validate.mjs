// Validates a compose file against the Compose Specification JSON schema, as
// `docker compose config` would before running it, for machines without a
// Docker engine. Used by tests/e2e/test_compose.py.
//
//   node validate.mjs --compose compose.yaml --schema compose-spec.json
//                     [--env NAME=VALUE ...] [--json OUT]
//
// The file is parsed as YAML 1.2 with merge keys (<<: *anchor, which compose
// accepts), then validated twice: as written, and after compose's variable
// interpolation (${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err},
// ${VAR?err}, $VAR, $$) with the process environment plus --env. --json
// writes the interpolated document, so the Python test reads the exact
// structure without a YAML parser of its own. Exit 0 when valid, 1 when not
// (each error printed with its JSON path), 2 on usage or I/O errors.
import { readFileSync, writeFileSync } from "node:fs";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";

function die(msg) {
  console.error("validate: " + msg);
  process.exit(2);
}

const opts = { env: { ...process.env } };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => (i + 1 < argv.length ? argv[++i] : die(a + " needs a value"));
  if (a === "--compose") opts.compose = next();
  else if (a === "--schema") opts.schema = next();
  else if (a === "--json") opts.json = next();
  else if (a === "--env") {
    const kv = next();
    const eq = kv.indexOf("=");
    if (eq < 1) die("--env wants NAME=VALUE, got " + kv);
    opts.env[kv.slice(0, eq)] = kv.slice(eq + 1);
  } else die("unknown argument " + a);
}
if (!opts.compose || !opts.schema) die("usage: --compose FILE --schema FILE [--env K=V] [--json OUT]");

let schema, doc;
try {
  schema = JSON.parse(readFileSync(opts.schema, "utf8"));
} catch (e) {
  die("cannot read the schema " + opts.schema + ": " + e.message);
}
try {
  doc = parse(readFileSync(opts.compose, "utf8"), { merge: true, prettyErrors: true });
} catch (e) {
  console.error(opts.compose + ": not valid YAML: " + e.message);
  process.exit(1);
}

// Compose interpolation of one string; throws on ${VAR:?err} when unset.
function interpolate(s, env, where) {
  return s.replace(/\$(\$|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (m, all, braced, bare) => {
    if (all === "$") return "$";
    if (bare !== undefined) return env[bare] ?? "";
    const r = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$/s.exec(braced);
    if (!r) throw new Error(where + ": invalid interpolation " + m);
    const [, name, op, arg] = r;
    const v = env[name];
    const unsetOrEmpty = v === undefined || (op && op.startsWith(":") && v === "");
    switch (op) {
      case undefined: return v ?? "";
      case ":-": case "-": return unsetOrEmpty ? interpolate(arg, env, where) : v;
      case ":+": case "+": return unsetOrEmpty ? "" : interpolate(arg, env, where);
      case ":?": case "?":
        if (unsetOrEmpty) throw new Error(where + ": required variable " + name + " is missing: " + arg);
        return v;
    }
    throw new Error(where + ": invalid interpolation " + m);
  });
}

function walk(node, env, path) {
  if (typeof node === "string") return interpolate(node, env, path);
  if (Array.isArray(node)) return node.map((x, i) => walk(x, env, path + "/" + i));
  if (node && typeof node === "object") {
    const out = {};
    for (const [k, v] of Object.entries(node)) out[k] = walk(v, env, path + "/" + k);
    return out;
  }
  return node;
}

delete schema.$schema; // draft-07 in an https spelling ajv does not know by that key
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);

let ok = true;
function check(what, d) {
  if (validate(d)) return;
  ok = false;
  for (const e of validate.errors) {
    console.error(`${opts.compose} (${what}): ${e.instancePath || "/"} ${e.message}` +
      (e.params && Object.keys(e.params).length ? " " + JSON.stringify(e.params) : ""));
  }
}

check("as written", doc);
let resolved;
try {
  resolved = walk(doc, opts.env, "");
} catch (e) {
  console.error(opts.compose + ": " + e.message);
  process.exit(1);
}
check("interpolated", resolved);
if (opts.json) writeFileSync(opts.json, JSON.stringify(resolved, null, 2));
if (!ok) process.exit(1);
console.log(`${opts.compose}: valid against the Compose Specification (${Object.keys(resolved.services || {}).length} services)`);
