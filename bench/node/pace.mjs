// The pace benchmark's comparison: Node's official Slack SDK
// (@slack/web-api WebClient) posting the same workload as bench/pace.py into
// the same mlc-slacksim (1 post/s per channel, burst 1), pointed at it with
// the documented slackApiUrl option.
//
//   node pace.mjs --url http://127.0.0.1:PORT --mode burst|loop
//                 [--channels 200] [--messages 10] [--token-env SLACK_BOT_TOKEN]
//
// burst: WebClient with its default settings (retry policy, concurrency,
//        rate-limit handling) and every post issued at once, as a program
//        that just calls chat.postMessage for each message does.
// loop:  one async loop per channel that awaits each post and sleeps 1 s
//        before the next: what a careful user writes.
// The simulator is reset first; the result (one JSON line on stdout) is read
// back from it, measured as bench/pace.py measures ours: wall time from the
// first to the last message the simulator stored, the 429s it answered, and
// how many messages arrived, distinct and duplicated. The SDK's own log is
// set to ERROR (its rate-limit warnings would flood the output); logging
// does not change its behaviour.
import { LogLevel, WebClient } from "@slack/web-api";

function die(msg) {
  console.error("pace.mjs: " + msg);
  process.exit(2);
}

const o = { channels: 200, messages: 10, tokenEnv: "SLACK_BOT_TOKEN" };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const next = () => (i + 1 < argv.length ? argv[++i] : die(argv[i] + " needs a value"));
  switch (argv[i]) {
    case "--url": o.url = next(); break;
    case "--mode": o.mode = next(); break;
    case "--channels": o.channels = Number(next()); break;
    case "--messages": o.messages = Number(next()); break;
    case "--token-env": o.tokenEnv = next(); break;
    default: die("unknown argument " + argv[i]);
  }
}
if (!o.url || !["burst", "loop"].includes(o.mode)) die("usage: --url URL --mode burst|loop");
if (!(o.channels >= 1 && o.messages >= 1)) die("--channels and --messages must be >= 1");
const token = process.env[o.tokenEnv];
if (!token) die("no token in $" + o.tokenEnv);

async function sim(path, method = "GET") {
  const r = await fetch(o.url + path, { method, headers: { "Content-Type": "application/json" }, body: method === "POST" ? "{}" : undefined });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const client = new WebClient(token, { slackApiUrl: o.url + "/api/", logLevel: LogLevel.ERROR });

function post(c, n) {
  const id = `node-${o.mode}/${c}/${n}`;
  return client.chat.postMessage({
    channel: `#pace-${c}`,
    text: `node ${o.mode} #pace-${c} ${n}`,
    metadata: { event_type: "mlc_bench", event_payload: { msg_id: id } },
  });
}

await sim("/sim/reset", "POST");
let failed = 0;
const t0 = performance.now();
if (o.mode === "burst") {
  const all = [];
  for (let n = 0; n < o.messages; n++) {
    for (let c = 0; c < o.channels; c++) all.push(post(c, n).catch(() => { failed++; }));
  }
  await Promise.all(all);
} else {
  const loops = [];
  for (let c = 0; c < o.channels; c++) {
    loops.push((async () => {
      for (let n = 0; n < o.messages; n++) {
        if (n > 0) await sleep(1000);
        await post(c, n).catch(() => { failed++; });
      }
    })());
  }
  await Promise.all(loops);
}
const clientWall = (performance.now() - t0) / 1000;

const stats = await sim("/sim/stats");
const msgs = (await sim("/sim/messages")).messages;
const ids = msgs.map((m) => m.metadata?.event_payload?.msg_id ?? m.text);
const at = msgs.map((m) => m.received_at_ms);
const want = o.channels * o.messages;
const res = {
  system: "node @slack/web-api " + o.mode,
  channels: o.channels,
  messages_per_channel: o.messages,
  delivered: msgs.length,
  distinct: new Set(ids).size,
  ratelimited: stats.ratelimited,
  failed_calls: failed,
  wall_s: msgs.length ? Math.round((Math.max(...at) - Math.min(...at))) / 1000 : null,
  client_wall_s: Math.round(clientWall * 1000) / 1000,
  floor_s: o.messages - 1,
};
console.log(JSON.stringify(res));
process.exit(res.delivered === want && res.distinct === want ? 0 : 1);
