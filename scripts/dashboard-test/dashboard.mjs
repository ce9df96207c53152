// The dashboard's browser test (run by scripts/test-dashboard, which installs what it needs).
//
// Environment: PLAYWRIGHT_CORE (path of the playwright-core package), CHROMIUM (default
// /usr/bin/chromium), SERVER_BIN (the `openclaw` binary), WORK (a private work folder),
// ARTIFACTS (where screenshots go), ROOT (the repository, for docs/dashboard.png when
// OPENCLAW_DASHBOARD_SCREENSHOT_TO_DOCS=1).
//
// It starts a fake Firebase (JWKS and the Identity Toolkit's password sign-in, signing its own
// RS256 ID tokens) and `openclaw serve` in sandbox mode, then drives headless Chromium through
// the dashboard. Prints `ok - <name>` / `not ok - <name>: <why>` per check; exits 1 when any
// failed. The admin key stays in this process's memory and in the server's 0600 stdout file;
// it is never printed, never on a command line.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";

const require = createRequire(import.meta.url);
const env = process.env;
const PLAYWRIGHT_CORE = env.PLAYWRIGHT_CORE;
const CHROMIUM = env.CHROMIUM || "/usr/bin/chromium";
const SERVER_BIN = env.SERVER_BIN;
const WORK = env.WORK;
const ARTIFACTS = env.ARTIFACTS;
const ROOT = env.ROOT || process.cwd();
for (const [name, value] of Object.entries({ PLAYWRIGHT_CORE, SERVER_BIN, WORK, ARTIFACTS })) {
  if (!value) {
    console.log(`not ok - setup: ${name} is not set`);
    process.exit(1);
  }
}
const { chromium } = require(PLAYWRIGHT_CORE);

// --- Reporting (with every secret this test knows blotted out) ------------------------------

const secrets = new Set();
function redact(text) {
  let s = String(text);
  for (const secret of secrets) if (secret) s = s.split(secret).join("[redacted]");
  return s.replace(/ock_[A-Za-z0-9._-]+/g, "ock_[redacted]").replace(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9._-]+/g, "[jwt]");
}
let passed = 0;
let failed = 0;
const started = Date.now();
function ok(name) { passed += 1; console.log(`ok - ${name}`); }
function notOk(name, why) { failed += 1; console.log(`not ok - ${name}: ${redact(why).split("\n").slice(0, 6).join(" | ")}`); }
function note(text) { console.log(`# ${redact(text)}`); }
async function check(name, fn) {
  try {
    const result = await fn();
    if (result === false) notOk(name, "the condition does not hold");
    else ok(name);
    return true;
  } catch (e) {
    notOk(name, e && e.message ? e.message : String(e));
    return false;
  }
}
function assert(condition, message) { if (!condition) throw new Error(message); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitUntil(what, fn, timeoutMs = 30000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ""}`);
}

// --- A fake Firebase: signing keys and password sign-in -------------------------------------

const PROJECT = "openclaw-test";
const FIREBASE_API_KEY = "test-api-key";
const PASSWORD = "correct horse";
const USERS = { "b@example.test": "uid-b", "c@example.test": "uid-c" };
const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "test-kid-1", alg: "RS256", use: "sig" }] });

function b64url(data) { return Buffer.from(data).toString("base64url"); }
function idToken(uid, email) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "RS256", kid: "test-kid-1", typ: "JWT" }));
  const claims = b64url(JSON.stringify({
    iss: `https://securetoken.google.com/${PROJECT}`, aud: PROJECT, sub: uid, user_id: uid,
    iat: now, exp: now + 3600, auth_time: now, email,
  }));
  const input = `${header}.${claims}`;
  const signature = crypto.sign("sha256", Buffer.from(input), privateKey);
  const token = `${input}.${b64url(signature)}`;
  secrets.add(token);
  return token;
}

const firebaseCalls = [];
const firebase = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const cors = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "content-type",
    "Access-Control-Max-Age": "600",
  };
  if (req.method === "GET" && url.pathname === "/keys") {
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "public, max-age=3600" });
    res.end(jwks);
    return;
  }
  if (url.pathname === "/v1/accounts:signInWithPassword") {
    if (req.method === "OPTIONS") {
      res.writeHead(204, cors);
      res.end();
      return;
    }
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      const reply = (status, value) => {
        res.writeHead(status, { ...cors, "Content-Type": "application/json" });
        res.end(JSON.stringify(value));
      };
      firebaseCalls.push(url.search.includes("key=") ? "with-key" : "no-key");
      if (req.method !== "POST" || url.searchParams.get("key") !== FIREBASE_API_KEY) {
        reply(400, { error: { code: 400, message: "API_KEY_INVALID" } });
        return;
      }
      let request;
      try { request = JSON.parse(body); } catch { reply(400, { error: { code: 400, message: "INVALID_JSON" } }); return; }
      const uid = USERS[request.email];
      if (!uid) { reply(400, { error: { code: 400, message: "EMAIL_NOT_FOUND" } }); return; }
      if (request.password !== PASSWORD) { reply(400, { error: { code: 400, message: "INVALID_PASSWORD" } }); return; }
      reply(200, { idToken: idToken(uid, request.email), refreshToken: "r", expiresIn: "3600", localId: uid, email: request.email });
    });
    return;
  }
  res.writeHead(404, { "Content-Type": "application/json" });
  res.end('{"error":{"message":"NOT_FOUND"}}');
});

// --- The server ----------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

let server = null; // { child, exited }
let adminKey = null;
let base = null;
const config = path.join(WORK, "openclaw.toml");
const serveOut = path.join(WORK, "serve.out");
const serveLog = path.join(WORK, "serve.log");

async function startServer() {
  const offset = fs.existsSync(serveOut) ? fs.statSync(serveOut).size : 0;
  const out = fs.openSync(serveOut, "a", 0o600);
  const err = fs.openSync(serveLog, "a", 0o600);
  const child = spawn(SERVER_BIN, ["serve", "--config", config], {
    stdio: ["ignore", out, err],
    env: { ...env, OPENCLAW_LOG: env.OPENCLAW_LOG || "info" },
  });
  fs.closeSync(out);
  fs.closeSync(err);
  fs.writeFileSync(path.join(WORK, "server.pid"), String(child.pid));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  server = { child, exited, done: false };
  exited.then(() => { if (server && server.child === child) server.done = true; });
  await waitUntil("openclaw serve to listen", () => {
    if (server.done) throw new Error(`openclaw serve exited; see ${serveLog}`);
    const text = fs.readFileSync(serveOut, "utf8").slice(offset);
    return text.includes(`listening on ${base}`);
  }, 60000);
  if (!adminKey) {
    const m = fs.readFileSync(serveOut, "utf8").match(/ock_[A-Za-z0-9._-]+/);
    if (!m) throw new Error("openclaw serve printed no admin API key");
    adminKey = m[0];
    secrets.add(adminKey);
  }
}

async function stopServer() {
  if (!server || server.done) return;
  server.child.kill("SIGTERM");
  const result = await Promise.race([server.exited, sleep(20000).then(() => null)]);
  if (!result) {
    server.child.kill("SIGKILL");
    await server.exited;
  }
  server.done = true;
}

/** The API with the admin key (or `token`): { status, body }. */
async function api(method, p, body, token = adminKey) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${base}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  return { status: response.status, body: json };
}
async function apiOk(method, p, body) {
  const r = await api(method, p, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${p}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

// --- The browser ---------------------------------------------------------------------------

let browser = null;
const consoleLines = [];
const pageErrors = [];
const urlsSeen = [];

async function newPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) urlsSeen.push(f.url()); });
  context.on("page", (p) => p.on("framenavigated", (f) => { if (f === p.mainFrame()) urlsSeen.push(f.url()); }));
  return { context, page };
}

let shot = 0;
async function screenshot(page, name, options = {}) {
  const file = path.join(ARTIFACTS, name.endsWith(".png") ? name : `${String(++shot).padStart(2, "0")}-${name}.png`);
  try {
    await page.screenshot({ path: file, ...options });
  } catch (e) {
    note(`screenshot ${name} failed: ${e.message}`);
  }
  return file;
}

async function signInWithKey(page, key) {
  await page.goto(`${base}/dashboard/`);
  await page.locator("#api-key").waitFor({ state: "visible" });
  await page.locator("#api-key").fill(key);
  await page.locator("#api-key").press("Enter");
  await page.waitForSelector("#view-instances:not([hidden])", { timeout: 15000 });
  await page.waitForSelector('#live-status[data-state="live"]', { timeout: 15000 });
}

async function signInWithPassword(page, email, password) {
  await page.goto(`${base}/dashboard/`);
  await page.locator("#email").waitFor({ state: "visible" });
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(password);
  await page.locator("#firebase-submit").click();
}

const rowIds = (page, table = "instances") =>
  page.$$eval(`#${table} tbody tr[data-id]`, (rows) => rows.map((r) => r.dataset.id));

async function confirmInDialog(page, subdomain) {
  await page.waitForSelector("#confirm-dialog[open]", { timeout: 5000 });
  assert(await page.locator("#confirm-ok").isDisabled(), "the confirm button is enabled before the name is typed");
  const text = await page.locator("#confirm-text").textContent();
  assert(text.includes(subdomain), `the dialog does not name the instance: ${text}`);
  await page.locator("#confirm-input").fill(`${subdomain}x`);
  assert(await page.locator("#confirm-ok").isDisabled(), "a wrong name enables the confirm button");
  await page.locator("#confirm-input").fill(subdomain);
  assert(await page.locator("#confirm-ok").isEnabled(), "the typed name does not enable the confirm button");
  await page.locator("#confirm-ok").click();
  await page.waitForSelector("#confirm-dialog", { state: "hidden", timeout: 5000 });
}

// --- The tests -----------------------------------------------------------------------------

async function main() {
  await new Promise((resolve) => firebase.listen(0, "127.0.0.1", resolve));
  const keyPort = firebase.address().port;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  fs.writeFileSync(config, [
    "# The dashboard test: sandbox providers, a fake Firebase on loopback.",
    'mode = "sandbox"',
    `listen = "127.0.0.1:${port}"`,
    `database_url = "sqlite://${WORK}/openclaw.db"`,
    `secrets_file = "${WORK}/openclaw.secrets"`,
    "",
    "[http]",
    "shutdown_timeout = 5",
    "",
    "[sandbox]",
    "boot_delay = 1",
    "",
    "[firebase]",
    `project_id = "${PROJECT}"`,
    `keys_url = "http://127.0.0.1:${keyPort}/keys"`,
    `api_key = "${FIREBASE_API_KEY}"`,
    `auth_url = "http://127.0.0.1:${keyPort}"`,
    "",
  ].join("\n"), { mode: 0o600 });

  await startServer();
  ok(`openclaw serve listens on ${base} (sandbox, Firebase keys on 127.0.0.1:${keyPort})`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });

  const ids = {};
  const operator = await newPage();
  const page = operator.page;

  // a. Sign-in with an API key.
  await check("a. a wrong key shows the server's error", async () => {
    const expected = await api("GET", "/v1/whoami", undefined, "ock_wrong.nope");
    assert(expected.status === 401, `GET /v1/whoami with a bad key answered ${expected.status}`);
    await page.goto(`${base}/dashboard/`);
    await page.locator("#api-key").fill("ock_wrong.nope");
    await page.locator("#key-submit").click();
    await page.waitForFunction(() => document.getElementById("key-error").textContent.trim() !== "", null, { timeout: 10000 });
    const shown = (await page.locator("#key-error").textContent()).trim();
    assert(shown === expected.body.error.message, `shown "${shown}", the server said "${expected.body.error.message}"`);
    assert(await page.locator("#view-signin").isVisible(), "the sign-in form is gone");
  });
  await check("a. the admin key signs in through the form; sessionStorage holds it, localStorage is empty", async () => {
    await page.locator("#api-key").fill(adminKey);
    await page.locator("#key-submit").click();
    await page.waitForSelector("#view-instances:not([hidden])", { timeout: 15000 });
    await page.waitForSelector('#live-status[data-state="live"]', { timeout: 15000 });
    const stored = await page.evaluate(() => ({
      token: sessionStorage.getItem("openclaw.token"),
      local: localStorage.length,
      who: document.getElementById("who").textContent,
    }));
    assert(stored.token === adminKey, "sessionStorage does not hold the key");
    assert(stored.local === 0, `localStorage has ${stored.local} entries`);
    const text = await page.evaluate(() => document.body.innerText);
    assert(!text.includes("ock_"), "the key shows on the page");
  });
  await check("a. the page's URL never contains the key", async () => {
    assert(!page.url().includes("ock_"), "the URL has it");
    assert(urlsSeen.every((u) => !u.includes("ock_")), "a navigation carried it");
  });
  await screenshot(page, "signed-in");

  // b. Orders appear live and turn active.
  const orders = [
    { name: "alpha", body: { customer_id: "cust-a", external_ref: "whmcs-101", subdomain: "alpha", plan: "starter", region: "eu-west" } },
    { name: "beta", body: { customer_id: "cust-a", external_ref: "whmcs-102", subdomain: "beta", plan: "professional", region: "us-east" } },
    { name: "gamma", body: { customer_id: "cust-b", external_ref: "whmcs-201", subdomain: "gamma", plan: "starter", region: "eu-west" } },
  ];
  await check("b. orders created through the API appear in the open table and turn active, without a reload", async () => {
    await page.evaluate(() => { window.__marker = 1; });
    for (const o of orders) {
      const created = await apiOk("POST", "/v1/instances", o.body);
      ids[o.name] = created.id;
    }
    for (const o of orders) {
      await page.waitForSelector(`#instances tr[data-id="${ids[o.name]}"][data-status="active"]`, { timeout: 60000 });
    }
    const marker = await page.evaluate(() => window.__marker);
    assert(marker === 1, "the page was reloaded");
    const rows = await rowIds(page);
    for (const o of orders) assert(rows.includes(ids[o.name]), `${o.name} is not in the table`);
  });
  await screenshot(page, "live-table");

  // c. Suspend and roll back from the instance view.
  await check("c. suspend through the confirmation dialog; the badge reaches suspended live", async () => {
    await page.locator(`#instances tr[data-id="${ids.alpha}"] a`).click();
    await page.waitForSelector(`#instance-status[data-status="active"]`, { timeout: 15000 });
    assert((await page.locator("#instance-title").textContent()).startsWith("alpha."), "the header does not show the fqdn");
    await page.locator("#act-suspend").click();
    await confirmInDialog(page, "alpha");
    await page.waitForSelector('#instance-status[data-status="suspended"]', { timeout: 60000 });
    const result = await page.locator("#action-result").textContent();
    assert(/accepted/i.test(result), `action result: ${result}`);
  });
  await screenshot(page, "suspended");
  await check("c. a rollback the server refuses (suspended) shows its message", async () => {
    const expected = await api("POST", `/v1/instances/${ids.alpha}/rollback`, { level: "full" });
    assert(expected.status === 409, `the API answered ${expected.status} to a rollback of a suspended instance`);
    await page.selectOption("#act-rollback-level", "full");
    await page.locator("#act-rollback").click();
    await confirmInDialog(page, "alpha");
    await page.waitForFunction(() => /failed/.test(document.getElementById("action-result").textContent), null, { timeout: 10000 });
    const shown = await page.locator("#action-result").textContent();
    assert(shown.includes(expected.body.error.message), `shown "${shown}", the server said "${expected.body.error.message}"`);
  });
  await check("c. unsuspend; then a full rollback through the dialog reaches rolled_back, and the timeline shows it", async () => {
    await page.locator("#act-unsuspend").click();
    await page.waitForSelector('#instance-status[data-status="active"]', { timeout: 60000 });
    await page.selectOption("#act-rollback-level", "full");
    await page.locator("#act-rollback").click();
    await confirmInDialog(page, "alpha");
    await page.waitForSelector('#instance-status[data-status="rolled_back"]', { timeout: 60000 });
    await page.waitForSelector("#timeline li.is-rollback", { timeout: 10000 });
    const items = await page.$$eval("#timeline li", (lis) => lis.map((li) => ({
      text: li.textContent, classes: li.className, seq: Number(li.dataset.sequence),
    })));
    const texts = items.map((i) => i.text).join("\n");
    for (const want of ["created: pending", "pending → provisioning", "provisioning → active", "active → suspending",
      "suspending → suspended", "active → rolling back", "rolling back → rolled back"]) {
      assert(texts.includes(want), `the timeline lacks "${want}"`);
    }
    const rollbackItems = items.filter((i) => i.classes.includes("is-rollback"));
    assert(rollbackItems.length >= 2, `${rollbackItems.length} rollback items`);
    for (let i = 1; i < items.length; i += 1) assert(items[i].seq > items[i - 1].seq, "the timeline is not in order");
    const gone = await api("GET", `/v1/instances/${ids.alpha}`);
    note(`after the full rollback GET /v1/instances/{alpha} answers ${gone.status}`);
    if (gone.status === 404) await page.waitForSelector("#instance-gone:not([hidden])", { timeout: 10000 });
  });
  await screenshot(page, "rolled-back", { fullPage: true });

  // d. Customers.
  await check("d. a Firebase user linked to cust-b sees exactly cust-b's instances", async () => {
    await apiOk("PUT", "/v1/customer-links/uid-b", { customer_id: "cust-b" });
    const custB = (await apiOk("GET", "/v1/instances?customer_id=cust-b&limit=500")).items.map((i) => i.id).sort();
    const custA = (await apiOk("GET", "/v1/instances?customer_id=cust-a&limit=500")).items.map((i) => i.id);
    const { context, page: p } = await newPage();
    try {
      await signInWithPassword(p, "b@example.test", PASSWORD);
      await p.waitForSelector("#view-my:not([hidden])", { timeout: 15000 });
      await p.waitForSelector("#my-instances tbody tr[data-id]", { timeout: 15000 });
      const seen = (await rowIds(p, "my-instances")).sort();
      assert(JSON.stringify(seen) === JSON.stringify(custB), `sees ${seen.length} rows, cust-b has ${custB.length}`);
      assert(custA.every((id) => !seen.includes(id)), "sees an instance of cust-a");
      const who = await p.evaluate(() => fetch("/v1/whoami", { headers: { Authorization: `Bearer ${sessionStorage.getItem("openclaw.token")}` } }).then((r) => r.json()));
      assert(who.customer_id === "cust-b" && who.kind === "firebase", `whoami says ${JSON.stringify(who)}`);
      const status = await p.evaluate((id) => fetch(`/v1/instances/${id}`, {
        headers: { Authorization: `Bearer ${sessionStorage.getItem("openclaw.token")}` },
      }).then((r) => r.status), ids.beta);
      assert(status === 404, `GET /v1/instances/<cust-a's beta> with the customer's token answered ${status}`);
      const nav = await p.$$eval("#nav-links a", (as) => as.map((a) => a.getAttribute("href")));
      assert(JSON.stringify(nav) === '["#/my"]', `the customer's nav is ${nav}`);
      const local = await p.evaluate(() => localStorage.length);
      assert(local === 0, "localStorage is used");
      const openEnabled = await p.locator(`#my-instances tr[data-id="${ids.gamma}"] button.open-claw`).isEnabled();
      assert(openEnabled, "Open OpenClaw is disabled for an active instance");
      await screenshot(p, "customer");
      // Open OpenClaw: a new tab, or the server's reason shown; the link itself never shown.
      const popup = context.waitForEvent("page", { timeout: 8000 }).catch(() => null);
      await p.locator(`#my-instances tr[data-id="${ids.gamma}"] button.open-claw`).click();
      const opened = await popup;
      const result = (await p.locator("#my-open-result").textContent()).trim();
      if (opened) await opened.close();
      note(`Open OpenClaw: ${opened ? "a new tab opened" : "no tab"}; the page says "${result}"`);
      const body = await p.evaluate(() => document.body.innerText);
      assert(!body.includes("#token=") && !body.includes("token="), "the access link shows on the page");
      assert(opened || result.length > 0, "Open OpenClaw did nothing visible");
      await p.locator(`#my-instances tr[data-id="${ids.gamma}"] a`).click();
      await p.waitForSelector(`#instance-status[data-status="active"]`, { timeout: 10000 });
      await p.waitForSelector("#timeline li", { timeout: 10000 });
      assert(await p.locator("#actions-card").isHidden(), "a customer sees operator actions");
    } finally {
      await context.close();
    }
  });
  await check("d. a Firebase user with no link sees no instances", async () => {
    const { context, page: p } = await newPage();
    try {
      await signInWithPassword(p, "c@example.test", PASSWORD);
      await p.waitForSelector("#view-my:not([hidden])", { timeout: 15000 });
      await p.waitForSelector("#my-empty:not([hidden])", { timeout: 15000 });
      assert((await rowIds(p, "my-instances")).length === 0, "rows shown");
      const who = await p.evaluate(() => fetch("/v1/whoami", { headers: { Authorization: `Bearer ${sessionStorage.getItem("openclaw.token")}` } }).then((r) => r.json()));
      assert(who.customer_id === "uid-c", `whoami says customer ${who.customer_id}`);
      await screenshot(p, "customer-empty");
    } finally {
      await context.close();
    }
  });
  await check("d. a wrong password shows an error and signs nobody in", async () => {
    const { context, page: p } = await newPage();
    try {
      await signInWithPassword(p, "b@example.test", "wrong horse");
      await p.waitForFunction(() => document.getElementById("firebase-error").textContent.trim() !== "", null, { timeout: 10000 });
      const shown = await p.locator("#firebase-error").textContent();
      assert(/wrong email or password/i.test(shown), `shown: ${shown}`);
      assert(await p.evaluate(() => sessionStorage.getItem("openclaw.token") === null), "a token was stored");
    } finally {
      await context.close();
    }
  });

  // e. The stream resumes across a restart with no gap.
  await check("e. after a server restart the stream resumes with no gap and the new order appears", async () => {
    await page.goto(`${base}/dashboard/#/instances`);
    await page.waitForSelector("#view-instances:not([hidden])", { timeout: 15000 });
    await page.waitForSelector('#live-status[data-state="live"]', { timeout: 15000 });
    const before = Number(await page.locator("#live-status").getAttribute("data-events"));
    const seqBefore = await page.evaluate(() => window.__openclawSequences.length);
    await stopServer();
    await page.waitForSelector('#live-status[data-state="reconnecting"]', { timeout: 15000 });
    await screenshot(page, "reconnecting");
    await startServer();
    const created = await apiOk("POST", "/v1/instances", { customer_id: "cust-a", external_ref: "whmcs-103", subdomain: "delta", plan: "enterprise", region: "asia-pacific" });
    ids.delta = created.id;
    await page.waitForSelector('#live-status[data-state="live"]', { timeout: 30000 });
    await page.waitForFunction(() => /resumed after #\d+, no gap/.test(document.getElementById("live-status").textContent), null, { timeout: 30000 });
    await page.waitForSelector(`#instances tr[data-id="${ids.delta}"][data-status="active"]`, { timeout: 60000 });
    note(`live-status: "${await page.locator("#live-status").textContent()}"; events applied ${before} before the restart`);
    const last = await waitUntil("the page to apply the last event", async () => {
      const overview = await apiOk("GET", "/v1/overview");
      const seqs = await page.evaluate(() => window.__openclawSequences);
      return seqs.length && seqs[seqs.length - 1] === overview.last_event_sequence ? overview.last_event_sequence : null;
    }, 20000, 500);
    const seqs = await page.evaluate(() => window.__openclawSequences);
    for (let i = 1; i < seqs.length; i += 1) {
      assert(seqs[i] === seqs[i - 1] + 1, `applied #${seqs[i - 1]} then #${seqs[i]}`);
    }
    const events = Number(await page.locator("#live-status").getAttribute("data-events"));
    assert(events === seqs.length && events > before && seqs.length > seqBefore, `data-events ${events}, sequences ${seqs.length}, before ${before}`);
    note(`the page applied #${seqs[0]}..#${last} (${seqs.length} events), each exactly once`);
  });
  await screenshot(page, "reconnected");

  // g. Screenshots: narrow and wide.
  await check("g. at 360 px the table scrolls inside its container and the page does not", async () => {
    const { context, page: p } = await newPage({ width: 360, height: 740 });
    try {
      await signInWithKey(p, adminKey);
      await p.waitForSelector("#instances tbody tr[data-id]", { timeout: 15000 });
      const widths = await p.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        wrap: document.querySelector("#view-instances .table-wrap").clientWidth,
        table: document.getElementById("instances").scrollWidth,
      }));
      await screenshot(p, "narrow.png");
      assert(widths.page <= 360, `the page is ${widths.page} px wide`);
      assert(widths.wrap <= 360, `the table's container is ${widths.wrap} px wide`);
      await p.locator(`#instances tr[data-id="${ids.gamma}"] a`).click();
      await p.waitForSelector('#instance-status[data-status="active"]', { timeout: 10000 });
      await p.waitForSelector("#timeline li", { timeout: 10000 });
      const pageWidth = await p.evaluate(() => document.documentElement.scrollWidth);
      await screenshot(p, "narrow-instance.png", { fullPage: true });
      assert(pageWidth <= 360, `the instance view is ${pageWidth} px wide`);
    } finally {
      await context.close();
    }
  });
  await check("g. a 1280x800 screenshot of the instances table", async () => {
    const { context, page: p } = await newPage({ width: 1280, height: 800 });
    try {
      await signInWithKey(p, adminKey);
      await p.waitForSelector("#instances tbody tr[data-id]", { timeout: 15000 });
      await sleep(300);
      const file = await screenshot(p, "wide.png");
      if (env.OPENCLAW_DASHBOARD_SCREENSHOT_TO_DOCS === "1") {
        fs.copyFileSync(file, path.join(ROOT, "docs", "dashboard.png"));
        note("copied to docs/dashboard.png");
      }
      // The System view, for the artifacts.
      await p.locator('#nav-links a[href="#/system"]').click();
      await p.waitForSelector("#status-counts dt", { timeout: 10000 });
      await p.waitForSelector("#budgets .budget, #budgets p", { timeout: 10000 });
      await screenshot(p, "system", { fullPage: true });
      // The sweep's dry run answers.
      await p.locator('#nav-links a[href="#/sweep"]').click();
      await p.locator("#sweep-dry").click();
      await p.waitForFunction(() => /found|No orphans|failed/i.test(document.getElementById("sweep-result").textContent), null, { timeout: 30000 });
      note(`sweep dry run: ${await p.locator("#sweep-result").textContent()}`);
      await screenshot(p, "sweep");
    } finally {
      await context.close();
    }
  });

  // h. Keyboard.
  await check("h. Tab from the key field reaches the sign-in button; Enter in the key field submits", async () => {
    const { context, page: p } = await newPage();
    try {
      await p.goto(`${base}/dashboard/`);
      await p.locator("#api-key").focus();
      await p.keyboard.press("Tab");
      const focused = await p.evaluate(() => document.activeElement && document.activeElement.id);
      assert(focused === "key-submit", `Tab goes to #${focused}`);
      await p.locator("#api-key").focus();
      await p.keyboard.type(adminKey, { delay: 0 });
      await p.keyboard.press("Enter");
      await p.waitForSelector("#view-instances:not([hidden])", { timeout: 15000 });
      await p.waitForSelector("#instances tbody tr[data-id] a", { timeout: 15000 });
      // The rows are links reachable by keyboard.
      await p.locator("#instances tbody tr[data-id] a").first().focus();
      await p.keyboard.press("Enter");
      await p.waitForSelector("#view-instance:not([hidden])", { timeout: 10000 });
      await screenshot(p, "keyboard");
      await p.locator("#sign-out").click();
      await p.waitForSelector("#view-signin:not([hidden])", { timeout: 5000 });
      assert(await p.evaluate(() => sessionStorage.getItem("openclaw.token") === null), "Sign out left the token");
    } finally {
      await context.close();
    }
  });

  // f. 10,000 instances.
  await check("f. the first page with 10,000 more stored instances shows in under a second; Next page shows others", async () => {
    await stopServer();
    const template = ids.gamma;
    const py = [
      "import json, os, sqlite3, sys, time",
      "db, template = sys.argv[1], sys.argv[2]",
      "con = sqlite3.connect(db)",
      "con.row_factory = sqlite3.Row",
      "cols = [r[1] for r in con.execute('PRAGMA table_info(instances)')]",
      "row = con.execute('SELECT * FROM instances WHERE id = ?', (template,)).fetchone()",
      "assert row is not None, 'no template row'",
      "zone = row['fqdn'].split('.', 1)[1]",
      "ms = int(time.time() * 1000)",
      "rows = []",
      "for i in range(10000):",
      "    r = dict(row)",
      "    rnd = int.from_bytes(os.urandom(10), 'big')",
      "    value = ((ms + i) << 80) | (0x7 << 76) | ((rnd >> 68) & 0xfff) << 64 | (0b10 << 62) | (rnd & ((1 << 62) - 1))",
      "    h = '%032x' % value",
      "    r['id'] = '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])",
      "    sub = 'bulk-%05d' % i",
      "    r['fqdn'] = sub + '.' + zone",
      "    r['external_ref'] = 'bulk-ref-%05d' % i",
      "    if 'subdomain' in r: r['subdomain'] = sub",
      "    d = json.loads(r['details'])",
      "    d['subdomain'] = sub",
      "    r['details'] = json.dumps(d)",
      "    rows.append(tuple(r[c] for c in cols))",
      "with con:",
      "    con.executemany('INSERT INTO instances (%s) VALUES (%s)' % (', '.join(cols), ', '.join('?' * len(cols))), rows)",
      "print(con.execute('SELECT count(*) FROM instances').fetchone()[0])",
    ].join("\n");
    const count = await new Promise((resolve, reject) => {
      const child = spawn("python3", ["-c", py, path.join(WORK, "openclaw.db"), template], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (c) => { out += c; });
      child.stderr.on("data", (c) => { err += c; });
      child.on("exit", (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`python3: ${err.trim()}`))));
    });
    note(`${count} instances stored`);
    assert(count >= 10000, `only ${count} instances`);
    await startServer();
    const { context, page: p } = await newPage();
    try {
      await signInWithKey(p, adminKey);
      await p.goto("about:blank");
      const t0 = Date.now();
      await p.goto(`${base}/dashboard/#/instances`);
      await p.locator("#instances tbody tr[data-id]").first().waitFor({ state: "visible", timeout: 15000 });
      const ms = Date.now() - t0;
      console.log(`# first page with 10,000 stored: ${ms} ms`);
      const first = await rowIds(p);
      await screenshot(p, "10k-first-page");
      assert(first.length === 50, `the first page has ${first.length} rows`);
      assert(ms < 1000, `took ${ms} ms`);
      await p.locator("#next-page").click();
      await p.waitForFunction((firstId) => {
        const r = document.querySelector("#instances tbody tr[data-id]");
        return r && r.dataset.id !== firstId;
      }, first[0], { timeout: 10000 });
      const second = await rowIds(p);
      await screenshot(p, "10k-next-page");
      assert(second.length > 0 && second.every((id) => !first.includes(id)), "Next page shows rows of the first page");
    } finally {
      await context.close();
    }
  });
  await check("f. the status filter narrows the table", async () => {
    const { context, page: p } = await newPage();
    try {
      await signInWithKey(p, adminKey);
      await p.waitForSelector("#instances tbody tr[data-id]", { timeout: 15000 });
      await p.selectOption("#f-status", "suspended");
      await p.locator("#f-apply").click();
      await p.waitForSelector("#instances tbody tr[data-id]", { state: "detached", timeout: 10000 });
      await p.selectOption("#f-status", "active");
      await p.locator("#f-customer").fill("cust-b");
      await p.locator("#f-customer").press("Enter");
      await p.waitForFunction(() => {
        const rows = [...document.querySelectorAll("#instances tbody tr[data-id]")];
        return rows.length > 0 && rows.every((r) => r.dataset.status === "active" && r.textContent.includes("cust-b"));
      }, null, { timeout: 10000 });
    } finally {
      await context.close();
    }
  });
  await check("f. the search (subdomain prefix, or exact external ref) narrows the table", async () => {
    const { context, page: p } = await newPage();
    try {
      await signInWithKey(p, adminKey);
      await p.waitForSelector("#instances tbody tr[data-id]", { timeout: 15000 });
      await p.locator("#f-search").fill("bulk-0999");
      await p.locator("#f-search").press("Enter");
      await p.waitForFunction(() => {
        const rows = [...document.querySelectorAll("#instances tbody tr[data-id]")];
        return rows.length === 10 && rows.every((r) => r.textContent.includes("bulk-0999"));
      }, null, { timeout: 10000 }).catch(async (e) => {
        throw new Error(`${e.message.split("\n")[0]}; the page says: ${await p.locator("#instances-error").textContent()}`);
      });
      await p.locator("#f-search").fill("whmcs-201");
      await p.locator("#f-apply").click();
      await p.waitForFunction((id) => {
        const rows = [...document.querySelectorAll("#instances tbody tr[data-id]")];
        return rows.length === 1 && rows[0].dataset.id === id;
      }, ids.gamma, { timeout: 10000 });
      await screenshot(p, "search");
    } finally {
      await context.close();
    }
  });

  await check("no JavaScript error, no CSP violation, no secret in the console", async () => {
    assert(pageErrors.length === 0, `page errors: ${pageErrors.join("; ")}`);
    const csp = consoleLines.filter((l) => /Content Security Policy|Refused to/i.test(l));
    assert(csp.length === 0, `CSP: ${csp.join("; ")}`);
    const leaked = consoleLines.filter((l) => l.includes("ock_") || /eyJ[A-Za-z0-9_-]{10,}\./.test(l) || l.includes("#token="));
    assert(leaked.length === 0, "a secret reached the console");
    assert(urlsSeen.every((u) => !u.includes("ock_") && !u.includes("eyJ")), "a secret reached a URL");
  });
}

// Stopped from outside: stop what this test started, then go.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (server && !server.done) server.child.kill("SIGTERM");
    if (browser) browser.close().catch(() => {});
    setTimeout(() => process.exit(130), 500);
  });
}

let exitCode = 1;
try {
  await main();
  exitCode = failed === 0 ? 0 : 1;
} catch (e) {
  notOk("the test ran to its end", e && e.stack ? e.stack : String(e));
  exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  await stopServer().catch(() => {});
  await new Promise((resolve) => firebase.close(resolve));
  console.log(`${passed} passed, ${failed} failed in ${Math.round((Date.now() - started) / 1000)} s`);
}
process.exit(exitCode);
