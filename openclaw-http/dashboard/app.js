// The OpenClaw dashboard: one ES module, no framework, no build step.
//
// Security rules this file keeps:
// - the bearer token (an API key or a Firebase ID token) lives in sessionStorage under
//   `openclaw.token` and in memory; it is sent only in the Authorization header, never put in
//   a URL, the DOM or the console;
// - access links (they carry the gateway token) are opened, never shown;
// - every piece of server data reaches the page through textContent, never as HTML.

const TOKEN_KEY = "openclaw.token";
const PAGE_SIZE = 50;
const STATUSES = [
  "pending", "provisioning", "active", "suspending", "suspended", "unsuspending",
  "resizing", "terminating", "terminated", "rolling_back", "rolled_back", "failed",
];
const ERROR_STATUSES = new Set(["failed"]);
const ROLLBACK_STATUSES = new Set(["rolling_back", "rolled_back"]);
const MAX_ALERTS = 200;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;
// No byte at all (not even a keep-alive comment) for this long: the stream is dead.
const STREAM_SILENCE_MS = 60000;

// --- State -------------------------------------------------------------------------------

const state = {
  config: null,
  token: null,
  me: null, // whoami
  // The event stream.
  stream: { generation: 0, controller: null, lastSequence: null, connectedOnce: false,
            resumeAfter: null, resumeChecked: true, applied: 0, watchdog: null },
  // Operators' instances table.
  table: { filters: { status: "", customer_id: "", search: "" }, after: null, next: null,
           pageIndex: 0, rows: new Map(), loaded: false, generation: 0 },
  // Customers' table.
  my: { after: null, next: null, rows: new Map(), loaded: false, generation: 0 },
  // The open instance view.
  instance: { id: null, view: null, sequences: new Set(), gone: false, generation: 0 },
  alerts: [],
  unseenAlerts: 0,
  overviewTimer: null,
  refreshes: new Map(), // instance id -> { dirty }
  deleted: new Set(), // instances whose record is gone (full rollback)
  sweep: { orphans: [] },
};

// For the browser test: every sequence the page applied, in order.
window.__openclawSequences = [];

// --- Small helpers -----------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

/** Makes an element; children are nodes or strings (as text, never HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function setText(id, text) { $(id).textContent = text ?? ""; }

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

function randomId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function statusLabel(status) { return String(status ?? "").replaceAll("_", " "); }

function badge(status, id) {
  return h("span", { class: "badge", "data-status": status, id }, statusLabel(status));
}

function setBadge(el, status) {
  el.dataset.status = status;
  el.textContent = statusLabel(status);
}

/** "12 s", "3 min", "5 h", "2 d". */
function age(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}

function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

function timeEl(iso, text, cls) {
  return h("time", { datetime: iso, title: iso, class: cls }, text ?? when(iso));
}

function truncate(text, n) {
  const s = String(text ?? "");
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function percent(ratio) {
  const v = Number(ratio) * 100;
  if (!Number.isFinite(v)) return "—";
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} %`;
}

function isOperator() { return state.me && state.me.customer_id === null; }
function canManage() { return state.me && (state.me.scope === "admin" || state.me.scope === "manage"); }
function isAdmin() { return state.me && state.me.scope === "admin"; }

// --- The API -----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = `The server answered ${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error) {
      if (typeof body.error.code === "string") code = body.error.code;
      if (typeof body.error.message === "string" && body.error.message) message = body.error.message;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, code, message);
}

/**
 * Calls the API with the bearer token. Returns the parsed JSON (null for 204). A 401 signs
 * the user out with the server's message. Throws ApiError.
 */
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = randomId();
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "The server did not answer (network error).");
  }
  if (response.status === 401) {
    const error = await errorOf(response);
    if (state.token) signOut(error.message);
    throw error;
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

function instancesQuery(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  return `/v1/instances?${q}`;
}

// --- Sign-in and sign-out -----------------------------------------------------------------

function storeToken(token) {
  state.token = token;
  try { sessionStorage.setItem(TOKEN_KEY, token); } catch { /* private mode: memory only */ }
}

function dropToken() {
  state.token = null;
  try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* ignore */ }
}

function signOut(message) {
  dropToken();
  state.me = null;
  stopStream();
  stopOverview();
  state.refreshes.clear();
  state.table.rows.clear();
  state.table.loaded = false;
  state.my.rows.clear();
  state.my.loaded = false;
  state.instance = { id: null, view: null, sequences: new Set(), gone: false, generation: state.instance.generation + 1 };
  state.alerts = [];
  state.unseenAlerts = 0;
  document.querySelector("#instances tbody").replaceChildren();
  document.querySelector("#my-instances tbody").replaceChildren();
  $("alerts").replaceChildren();
  $("main-nav").hidden = true;
  $("session").hidden = true;
  setText("who", "");
  showSignIn(message);
}

function showSignIn(message) {
  showView("view-signin");
  setText("signin-message", message || "");
  setText("key-error", "");
  setText("firebase-error", "");
  const fb = state.config && state.config.firebase;
  $("firebase-fields").hidden = !fb;
  $("firebase-off").hidden = Boolean(fb);
  $("api-key").value = "";
  $("password").value = "";
  if (location.hash && location.hash !== "#/" && location.hash !== "#") {
    // Keep where the user was going; the route is shown after sign-in.
  }
  $("api-key").focus();
}

async function signInWithToken(token, errorTarget) {
  storeToken(token);
  let me;
  try {
    me = await api("GET", "/v1/whoami");
  } catch (e) {
    dropToken();
    showSignIn();
    setText(errorTarget, e.message);
    return false;
  }
  state.me = me;
  startSession();
  return true;
}

async function onKeySubmit(event) {
  event.preventDefault();
  const input = $("api-key");
  const key = input.value.trim();
  input.value = "";
  setText("key-error", "");
  setText("signin-message", "");
  if (!key) {
    setText("key-error", "Paste an API key first.");
    input.focus();
    return;
  }
  $("key-submit").disabled = true;
  try {
    if (!(await signInWithToken(key, "key-error"))) input.focus();
  } finally {
    $("key-submit").disabled = false;
  }
}

const FIREBASE_MESSAGES = {
  INVALID_PASSWORD: "Wrong email or password.",
  EMAIL_NOT_FOUND: "Wrong email or password.",
  INVALID_LOGIN_CREDENTIALS: "Wrong email or password.",
  INVALID_EMAIL: "That is not a valid email address.",
  USER_DISABLED: "This account is disabled.",
  MISSING_PASSWORD: "Enter your password.",
};

async function onFirebaseSubmit(event) {
  event.preventDefault();
  const fb = state.config && state.config.firebase;
  setText("firebase-error", "");
  setText("signin-message", "");
  if (!fb) return;
  const email = $("email").value.trim();
  const password = $("password").value;
  $("password").value = "";
  if (!email || !password) {
    setText("firebase-error", "Enter your email and password.");
    return;
  }
  $("firebase-submit").disabled = true;
  try {
    const url = `${fb.auth_url.replace(/\/+$/, "")}/v1/accounts:signInWithPassword?key=${encodeURIComponent(fb.api_key)}`;
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email, password, returnSecureToken: true }),
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
    } catch {
      setText("firebase-error", "The sign-in service did not answer.");
      return;
    }
    let body = null;
    try { body = await response.json(); } catch { /* not JSON */ }
    if (!response.ok || !body || typeof body.idToken !== "string") {
      const raw = body && body.error && typeof body.error.message === "string" ? body.error.message : "";
      const code = raw.split(":")[0].trim();
      setText("firebase-error", FIREBASE_MESSAGES[code] || (raw ? `Sign-in failed: ${raw}` : `Sign-in failed (${response.status}).`));
      return;
    }
    await signInWithToken(body.idToken, "firebase-error");
  } finally {
    $("firebase-submit").disabled = false;
  }
}

function startSession() {
  const me = state.me;
  $("session").hidden = false;
  $("main-nav").hidden = false;
  const kind = me.kind === "firebase" ? "customer" : `${me.scope} key`;
  setText("who", `${me.name} · ${kind}`);
  buildNav();
  document.body.classList.toggle("role-customer", !isOperator());
  state.stream.lastSequence = null;
  state.stream.connectedOnce = false;
  state.stream.applied = 0;
  window.__openclawSequences = [];
  const live = $("live-status");
  live.dataset.events = "0";
  startStream();
  const hash = location.hash;
  const wanted = isOperator() ? (hash.startsWith("#/my") || !hash || hash === "#/" ? "#/instances" : hash)
                              : (hash.startsWith("#/my") ? hash : "#/my");
  if (location.hash !== wanted) location.hash = wanted;
  else route();
}

function buildNav() {
  const links = isOperator()
    ? [["#/instances", "Instances"], ["#/system", "System"], ...(isAdmin() ? [["#/sweep", "Sweep"]] : [])]
    : [["#/my", "My instances"]];
  const items = links.map(([href, label]) => {
    const a = h("a", { href }, label);
    if (href === "#/system") a.append(h("span", { class: "count", id: "alert-count", hidden: true, "aria-label": "new alerts" }, "0"));
    return h("li", {}, a);
  });
  $("nav-links").replaceChildren(...items);
}

function markNav(path) {
  for (const a of document.querySelectorAll("#nav-links a")) {
    const href = a.getAttribute("href");
    const current = path === href.slice(1) || path.startsWith(`${href.slice(1)}/`)
      || (href === "#/instances" && path.startsWith("/instances"));
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// --- Routing -----------------------------------------------------------------------------

const VIEWS = ["view-signin", "view-instances", "view-instance", "view-system", "view-sweep", "view-my", "view-notfound"];

function showView(id) {
  $("boot").hidden = true;
  for (const v of VIEWS) $(v).hidden = v !== id;
}

function route() {
  if (!state.me) return;
  const path = (location.hash.replace(/^#/, "") || "/").split("?")[0];
  const parts = path.split("/").filter(Boolean);
  markNav(path);
  if (path !== "/system") stopOverview();
  if (isOperator()) {
    if (parts[0] === "instances" && parts.length === 1) return showInstances();
    if (parts[0] === "instances" && parts.length === 2) return showInstance(decodeURIComponent(parts[1]));
    if (parts[0] === "system" && parts.length === 1) return showSystem();
    if (parts[0] === "sweep" && parts.length === 1) return showSweep();
    if (parts.length === 0 || parts[0] === "my") { location.hash = "#/instances"; return; }
  } else {
    if (parts[0] === "my" && parts.length === 1) return showMy();
    if (parts[0] === "my" && parts.length === 2) return showInstance(decodeURIComponent(parts[1]));
    location.hash = "#/my";
    return;
  }
  showView("view-notfound");
}

// --- Instances table (operators) -----------------------------------------------------------

function matchesFilters(view) {
  const f = state.table.filters;
  if (f.status && view.status !== f.status) return false;
  if (f.customer_id && view.customer_id !== f.customer_id) return false;
  if (f.search && !view.subdomain.startsWith(f.search) && view.external_ref !== f.search) return false;
  return true;
}

function instanceRow(view) {
  const link = h("a", { href: `#/instances/${encodeURIComponent(view.id)}` }, view.fqdn);
  const err = view.last_error;
  const errText = err ? `${err.code}: ${err.message}` : "";
  const tr = h("tr", { "data-id": view.id, "data-status": view.status },
    h("td", {}, badge(view.status)),
    h("td", { class: "nowrap" }, view.customer_id),
    h("td", {}, view.plan),
    h("td", { class: "nowrap" }, view.region),
    h("td", { class: "fqdn" }, link),
    h("td", { class: "nowrap age", "data-at": view.created_at }, age(view.created_at)),
    h("td", { class: "error-cell", title: errText || null }, err ? truncate(errText, 80) : "—"),
  );
  return tr;
}

function onRowClick(event) {
  if (event.target.closest("a, button")) return;
  const tr = event.target.closest("tr[data-id]");
  if (!tr) return;
  const base = tr.closest("#my-instances") ? "#/my/" : "#/instances/";
  location.hash = `${base}${encodeURIComponent(tr.dataset.id)}`;
}

function readFilters() {
  state.table.filters = {
    status: $("f-status").value,
    customer_id: $("f-customer").value.trim(),
    search: $("f-search").value.trim(),
  };
}

async function loadInstances(after) {
  const t = state.table;
  const generation = ++t.generation;
  setText("instances-error", "");
  let page;
  try {
    page = await api("GET", instancesQuery({ ...t.filters, after, limit: PAGE_SIZE }));
  } catch (e) {
    if (generation === t.generation) {
      setText("instances-error", e.message);
      t.loaded = false;
    }
    return;
  }
  if (generation !== t.generation) return;
  t.after = after;
  t.next = page.next;
  t.rows.clear();
  const rows = page.items.map((view) => {
    const tr = instanceRow(view);
    t.rows.set(view.id, tr);
    return tr;
  });
  document.querySelector("#instances tbody").replaceChildren(...rows);
  t.loaded = true;
  updateTableSummary();
}

function updateTableSummary() {
  const t = state.table;
  const n = t.rows.size;
  const pageText = `Page ${t.pageIndex + 1}`;
  setText("instances-summary", n === 0 ? `${pageText}: no instances match.` : `${pageText}: ${n} instance${n === 1 ? "" : "s"}${t.next ? "; more on the next page." : "."}`);
  $("next-page").disabled = !t.next;
  $("first-page").disabled = t.after === null;
}

function showInstances() {
  showView("view-instances");
  document.title = "Instances · OpenClaw";
  if (!state.table.loaded) loadInstances(state.table.after);
}

function upsertTableRow(view) {
  const t = state.table;
  const old = t.rows.get(view.id);
  if (old) {
    const tr = instanceRow(view);
    tr.classList.add("flash");
    old.replaceWith(tr);
    t.rows.set(view.id, tr);
    return;
  }
  // Oldest first: a new instance belongs on the last page, and only when it matches.
  if (!t.loaded || t.next || !matchesFilters(view)) return;
  const tr = instanceRow(view);
  tr.classList.add("flash");
  document.querySelector("#instances tbody").append(tr);
  t.rows.set(view.id, tr);
  updateTableSummary();
}

// --- Customers' table ----------------------------------------------------------------------

function myRow(view) {
  const open = h("button", {
    type: "button", class: "open-claw", "data-open": view.id,
    "aria-label": `Open OpenClaw at ${view.fqdn}`,
    disabled: view.status !== "active",
  }, "Open OpenClaw");
  return h("tr", { "data-id": view.id, "data-status": view.status },
    h("td", {}, badge(view.status)),
    h("td", { class: "fqdn" }, view.fqdn),
    h("td", {}, view.plan),
    h("td", {}, h("a", { href: `#/my/${encodeURIComponent(view.id)}`, "aria-label": `Timeline of ${view.fqdn}` }, "Timeline")),
    h("td", {}, open),
  );
}

async function loadMy(after) {
  const m = state.my;
  const generation = ++m.generation;
  setText("my-error", "");
  let page;
  try {
    page = await api("GET", instancesQuery({ after, limit: PAGE_SIZE }));
  } catch (e) {
    if (generation === m.generation) setText("my-error", e.message);
    return;
  }
  if (generation !== m.generation) return;
  m.after = after;
  m.next = page.next;
  m.rows.clear();
  const rows = page.items.map((view) => {
    const tr = myRow(view);
    m.rows.set(view.id, tr);
    return tr;
  });
  document.querySelector("#my-instances tbody").replaceChildren(...rows);
  m.loaded = true;
  updateMySummary();
}

function updateMySummary() {
  const m = state.my;
  $("my-empty").hidden = m.rows.size > 0;
  $("my-next-page").disabled = !m.next;
  $("my-first-page").disabled = m.after === null;
}

function showMy() {
  showView("view-my");
  document.title = "My instances · OpenClaw";
  if (!state.my.loaded) loadMy(state.my.after);
}

function upsertMyRow(view) {
  const m = state.my;
  const old = m.rows.get(view.id);
  const tr = myRow(view);
  if (old) {
    old.replaceWith(tr);
  } else {
    if (!m.loaded || m.next) return;
    document.querySelector("#my-instances tbody").append(tr);
  }
  m.rows.set(view.id, tr);
  updateMySummary();
}

async function openClaw(id, resultId) {
  setText(resultId, "Opening…");
  try {
    const access = await api("GET", `/v1/instances/${encodeURIComponent(id)}/access`);
    // The URL carries a secret in its fragment: opened, never shown or logged.
    window.open(access.url, "_blank", "noopener");
    setText(resultId, "Opened OpenClaw in a new tab.");
  } catch (e) {
    setText(resultId, e.message);
  }
}

// --- One instance ---------------------------------------------------------------------------

function fact(dl, label, value) {
  dl.append(h("dt", {}, label), h("dd", {}, value ?? "—"));
}

function renderInstance(view) {
  const operator = isOperator();
  setText("instance-title", view.fqdn);
  document.title = `${view.fqdn} · OpenClaw`;
  setBadge($("instance-status"), view.status);

  const d = $("instance-details");
  d.replaceChildren();
  if (operator) fact(d, "Customer", view.customer_id);
  fact(d, "Plan", view.plan);
  fact(d, "Region", view.region);
  if (operator) fact(d, "External ref", view.external_ref || "—");
  if (operator) fact(d, "Instance id", h("code", {}, view.id));
  fact(d, "Created", timeEl(view.created_at));
  fact(d, "Activated", view.activated_at ? timeEl(view.activated_at) : "never");
  fact(d, "Status since", timeEl(view.status_changed_at));
  fact(d, "Pending request", view.pending_request || "none");
  const pc = view.plan_change;
  fact(d, "Plan change", pc ? `${pc.from} → ${pc.to}, back to ${statusLabel(pc.resume)}${pc.reverting ? " (reverting)" : ""}` : "none");
  if (view.last_error) {
    const e = view.last_error;
    fact(d, "Last error", h("span", { class: "error" }, `${e.operation}: ${e.code} — ${e.message} (${when(e.at)})`));
  }

  const r = $("instance-resources");
  r.replaceChildren();
  const res = view.resources || {};
  fact(r, "Server id", res.server_id ? h("code", {}, res.server_id) : "—");
  fact(r, "IPv4", res.ipv4 ? h("code", {}, res.ipv4) : "—");
  fact(r, "IPv6", res.ipv6 ? h("code", {}, res.ipv6) : "—");
  fact(r, "DNS record ids", res.dns_record_ids && res.dns_record_ids.length
    ? h("span", {}, ...res.dns_record_ids.map((x, i) => [i ? ", " : "", h("code", {}, x)]))
    : "—");

  const agent = view.agent;
  $("agent-card").hidden = !operator || !agent;
  if (agent) {
    const a = $("instance-agent");
    a.replaceChildren();
    fact(a, "Connected", agent.connected ? "yes" : "no");
    fact(a, "Last seen", agent.last_seen ? timeEl(agent.last_seen) : "never");
    fact(a, "Gateway", agent.gateway || "unknown");
    fact(a, "OpenClaw version", agent.openclaw_version || "unknown");
  }

  $("resources-card").hidden = !operator;
  $("actions-card").hidden = !operator || !canManage() || state.instance.gone;
  $("customer-open-card").hidden = operator;
  $("instance-open").disabled = view.status !== "active" || state.instance.gone;
  if (operator) {
    const s = view.status;
    $("act-suspend").disabled = ["terminated", "terminating", "rolled_back", "rolling_back", "suspended", "suspending"].includes(s);
    $("act-unsuspend").disabled = !["suspended", "suspending", "failed"].includes(s);
    $("act-retry").disabled = !["failed", "rolled_back"].includes(s);
    $("act-terminate").disabled = ["terminated", "terminating"].includes(s);
    $("act-rollback").disabled = ["terminated", "terminating", "rolling_back", "rolled_back"].includes(s);
    $("act-plan").disabled = !["active", "suspended"].includes(s);
    $("act-plan-select").value = view.plan;
  }
}

function eventClasses(event) {
  const k = event.kind;
  const classes = [`is-${k.type === "status_changed" ? "status" : k.type}`];
  const reason = String(event.reason || "").toLowerCase();
  let error = false;
  let rollback = /rollback|rolled back|rolling back/.test(reason);
  if (k.type === "status_changed") {
    if (ERROR_STATUSES.has(k.to)) error = true;
    if (ROLLBACK_STATUSES.has(k.to) || ROLLBACK_STATUSES.has(k.from)) rollback = true;
    if (k.to === "active") classes.push("is-ok");
  }
  if (k.type === "alert" || event.topic === "alerts") error = true;
  if (error) classes.push("is-error");
  if (rollback) classes.push("is-rollback");
  return { classes, error, rollback };
}

function eventSummary(event) {
  const k = event.kind;
  switch (k.type) {
    case "status_changed":
      return k.from ? `${statusLabel(k.from)} → ${statusLabel(k.to)}` : `created: ${statusLabel(k.to)}`;
    case "alert":
      return `alert: ${k.code}`;
    case "audit":
      return `${k.action} by ${k.actor}`;
    default:
      return k.type || "event";
  }
}

function timelineItem(event) {
  const { classes, error, rollback } = eventClasses(event);
  return h("li", { class: classes.join(" "), "data-sequence": event.sequence, "data-kind": event.kind.type },
    timeEl(event.at, new Date(event.at).toLocaleTimeString(), "when"),
    h("span", { class: "what" }, eventSummary(event)),
    error ? h("span", { class: "tag error" }, event.kind.type === "alert" ? "alert" : "error") : null,
    rollback ? h("span", { class: "tag rollback" }, "rollback") : null,
    h("span", { class: "seq" }, `#${event.sequence}`),
    event.reason ? h("span", { class: "reason" }, event.reason) : null,
  );
}

function addTimelineEvent(event) {
  const inst = state.instance;
  if (inst.sequences.has(event.sequence)) return;
  inst.sequences.add(event.sequence);
  const list = $("timeline");
  const li = timelineItem(event);
  // Oldest first; a live event may arrive before the history that precedes it.
  const later = [...list.children].find((x) => Number(x.dataset.sequence) > event.sequence);
  if (later) later.before(li);
  else list.append(li);
  $("timeline-empty").hidden = true;
}

async function showInstance(id) {
  showView("view-instance");
  const operator = isOperator();
  const inst = state.instance;
  const generation = inst.generation + 1;
  state.instance = { id, view: null, sequences: new Set(), gone: false, generation };
  $("instance-back").setAttribute("href", operator ? "#/instances" : "#/my");
  $("instance-back").textContent = operator ? "← All instances" : "← My instances";
  setText("instance-title", "Loading…");
  setBadge($("instance-status"), "");
  setText("instance-error", "");
  setText("action-result", "");
  $("action-result").classList.remove("failed");
  $("instance-gone").hidden = true;
  $("timeline").replaceChildren();
  $("timeline-empty").hidden = true;
  $("instance-details").replaceChildren();
  $("instance-resources").replaceChildren();
  $("actions-card").hidden = true;
  $("agent-card").hidden = true;
  $("resources-card").hidden = !operator;
  $("customer-open-card").hidden = true;
  setText("instance-open-result", "");
  const path = `/v1/instances/${encodeURIComponent(id)}`;
  const [view, events] = await Promise.allSettled([api("GET", path), api("GET", `${path}/events`)]);
  if (state.instance.generation !== generation) return;
  if (view.status === "rejected") {
    setText("instance-title", "Instance");
    setText("instance-error", view.reason.message);
    return;
  }
  state.instance.view = view.value;
  renderInstance(view.value);
  if (events.status === "fulfilled") {
    for (const e of events.value.items) addTimelineEvent(e);
  } else {
    setText("instance-error", `Timeline: ${events.reason.message}`);
  }
  $("timeline-empty").hidden = $("timeline").children.length > 0;
}

/** After a full rollback (or any deletion) the record is gone: keep what the page knows. */
function markInstanceGone(id) {
  state.deleted.add(id);
  const inst = state.instance;
  if (inst.id === id && !inst.gone) {
    inst.gone = true;
    const el = $("instance-gone");
    el.textContent = "This instance's record was deleted (a full rollback deletes it); the timeline below is what this page saw.";
    el.hidden = false;
    $("actions-card").hidden = true;
    $("instance-open").disabled = true;
  }
  const row = state.table.rows.get(id);
  if (row) {
    row.dataset.status = "deleted";
    const b = row.querySelector(".badge");
    if (b) setBadge(b, "deleted");
  }
  const mine = state.my.rows.get(id);
  if (mine) {
    mine.remove();
    state.my.rows.delete(id);
    updateMySummary();
  }
}

// --- Actions ------------------------------------------------------------------------------

const ACTIONS = {
  suspend: { label: "Suspend", method: "POST", path: "suspend", confirm: true, verb: "suspend (power off)" },
  unsuspend: { label: "Unsuspend", method: "POST", path: "unsuspend" },
  retry: { label: "Retry", method: "POST", path: "retry" },
  terminate: { label: "Terminate", method: "DELETE", path: "", confirm: true, verb: "terminate (delete its server and DNS records, for good)" },
  rollback: { label: "Roll back", method: "POST", path: "rollback", confirm: true },
  plan: { label: "Change plan", method: "POST", path: "plan" },
};

async function runAction(name) {
  const inst = state.instance;
  const view = inst.view;
  if (!view || inst.gone) return;
  const action = ACTIONS[name];
  let body;
  let verb = action.verb;
  if (name === "rollback") {
    const level = $("act-rollback-level").value;
    body = { level };
    verb = `roll back at level ${level}${level === "full" ? " (deletes the server, the DNS records and the instance record)" : level === "partial" ? " (deletes the server and DNS records)" : " (marks it failed and raises an alert)"}`;
  } else if (name === "plan") {
    body = { plan: $("act-plan-select").value };
  }
  if (action.confirm) {
    const ok = await confirmDialog({
      title: `${action.label} ${view.fqdn}?`,
      text: `This will ${verb} the instance ${view.fqdn}.`,
      expect: view.subdomain,
      label: `Type ${view.subdomain} to confirm`,
      button: action.label,
    });
    if (!ok) {
      showActionResult(`${action.label} cancelled.`, false);
      return;
    }
  }
  const result = $("action-result");
  result.classList.remove("failed");
  result.textContent = `${action.label}: sending…`;
  const path = `/v1/instances/${encodeURIComponent(view.id)}${action.path ? `/${action.path}` : ""}`;
  try {
    const answer = await api(action.method, path, body);
    showActionResult(`${action.label} accepted: ${view.fqdn} is ${statusLabel(answer.status)}.`, false);
    // The answer may already be older than what the stream said: read the instance afresh.
    scheduleRefresh(view.id);
  } catch (e) {
    showActionResult(`${action.label} failed: ${e.message}`, true);
  }
}

function showActionResult(text, failed) {
  const result = $("action-result");
  result.textContent = text;
  result.classList.toggle("failed", failed);
}

// The confirmation dialog: resolves true only when the expected text was typed and confirmed.
let dialogResolve = null;

function confirmDialog({ title, text, expect, label, button }) {
  const dialog = $("confirm-dialog");
  setText("confirm-title", title);
  setText("confirm-text", text);
  setText("confirm-label", label);
  setText("confirm-ok", button);
  const input = $("confirm-input");
  input.value = "";
  input.dataset.expect = expect;
  $("confirm-ok").disabled = true;
  if (dialogResolve) dialogResolve(false);
  return new Promise((resolve) => {
    dialogResolve = resolve;
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
  });
}

function closeDialog(confirmed) {
  const dialog = $("confirm-dialog");
  const resolve = dialogResolve;
  dialogResolve = null;
  if (dialog.open) dialog.close(confirmed ? "confirm" : "cancel");
  if (resolve) resolve(confirmed);
}

// --- The live event stream -------------------------------------------------------------------

/** Parses text/event-stream incrementally: any chunking, CR/LF/CRLF line ends. */
class SseParser {
  constructor(onMessage, onActivity) {
    this.buffer = "";
    this.afterCR = false;
    this.data = [];
    this.event = "";
    this.id = null;
    this.onMessage = onMessage;
    this.onActivity = onActivity;
  }

  push(text) {
    let chunk = text;
    // A CR ended the last chunk: a LF opening this one belongs to it.
    if (this.afterCR && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.afterCR = false;
    this.buffer += chunk;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i += 1) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(this.buffer.slice(start, i));
      if (c === 13) {
        if (i + 1 === this.buffer.length) this.afterCR = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i += 1;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) {
        const message = { id: this.id, event: this.event || "message", data: this.data.join("\n") };
        this.data = [];
        this.event = "";
        this.onMessage(message);
      } else {
        this.event = "";
      }
      return;
    }
    if (line.startsWith(":")) { this.onActivity(); return; }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
  }
}

function setLive(liveState, text) {
  const el = $("live-status");
  el.dataset.state = liveState;
  if (text !== undefined) el.textContent = text;
  const sys = $("system-live");
  if (sys) sys.textContent = `${el.textContent} — ${el.dataset.events} events applied since sign-in.`;
}

function stopStream() {
  const s = state.stream;
  s.generation += 1;
  if (s.controller) s.controller.abort();
  s.controller = null;
  clearTimeout(s.watchdog);
}

async function startStream() {
  stopStream();
  const s = state.stream;
  const generation = s.generation;
  // Operators start where the log stands now, so that every later event arrives in order
  // and without a hole; customers see only their instances' events and start from now.
  if (isOperator()) {
    try {
      const overview = await api("GET", "/v1/overview");
      if (generation !== s.generation) return;
      s.lastSequence = overview.last_event_sequence;
    } catch {
      // The stream starts from now instead.
    }
  }
  streamLoop(generation);
}

async function streamLoop(generation) {
  const s = state.stream;
  let delay = BACKOFF_MIN_MS;
  while (generation === s.generation && state.token) {
    const reconnect = s.connectedOnce;
    if (reconnect) setLive("reconnecting", "Reconnecting…");
    else setLive("connecting", "Connecting…");
    const controller = new AbortController();
    s.controller = controller;
    let connected = false;
    try {
      const url = s.lastSequence !== null ? `/v1/events?after=${s.lastSequence}` : "/v1/events";
      const response = await fetch(url, {
        headers: { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" },
        signal: controller.signal,
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
      if (generation !== s.generation) return;
      if (response.status === 401) {
        const error = await errorOf(response);
        signOut(error.message);
        return;
      }
      if (!response.ok || !response.body) throw await errorOf(response);
      connected = true;
      delay = BACKOFF_MIN_MS;
      if (reconnect && s.lastSequence !== null) {
        s.resumeAfter = s.lastSequence;
        s.resumeChecked = false;
        setLive("live", `Live — resumed after #${s.lastSequence}`);
        if (isOperator()) checkNothingMissed(generation, s.lastSequence);
      } else {
        setLive("live", "Live");
      }
      s.connectedOnce = true;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser(
        (message) => { if (generation === s.generation) onStreamMessage(message); },
        () => {},
      );
      const arm = () => {
        clearTimeout(s.watchdog);
        s.watchdog = setTimeout(() => controller.abort(), STREAM_SILENCE_MS);
      };
      arm();
      for (;;) {
        const { value, done } = await reader.read();
        if (done || generation !== s.generation) break;
        arm();
        parser.push(decoder.decode(value, { stream: true }));
      }
      clearTimeout(s.watchdog);
    } catch (e) {
      clearTimeout(s.watchdog);
      if (generation !== s.generation) return;
      if (!connected && e instanceof ApiError && e.status === 403) {
        setLive("reconnecting", `No event stream: ${e.message}`);
      }
    }
    if (generation !== s.generation) return;
    s.connectedOnce = s.connectedOnce || connected;
    const seconds = (delay / 1000).toLocaleString(undefined, { maximumFractionDigits: 1 });
    setLive("reconnecting", `Reconnecting in ${seconds} s…`);
    await sleep(delay);
    delay = Math.min(delay * 2, BACKOFF_MAX_MS);
  }
}

/** After a reconnect: when the log has not moved past what we saw, nothing was missed. */
async function checkNothingMissed(generation, after) {
  try {
    const overview = await api("GET", "/v1/overview");
    const s = state.stream;
    if (generation !== s.generation || s.resumeAfter !== after || s.resumeChecked) return;
    if (overview.last_event_sequence <= s.lastSequence && s.lastSequence === after) {
      s.resumeChecked = true;
      setLive("live", `Live — resumed after #${after}, no gap`);
    }
  } catch {
    // The first event decides instead.
  }
}

function onStreamMessage(message) {
  let event;
  try { event = JSON.parse(message.data); } catch { return; }
  if (!event || typeof event.sequence !== "number" || !event.kind) return;
  const s = state.stream;
  if (s.lastSequence !== null && event.sequence <= s.lastSequence) return; // seen already
  const previous = s.lastSequence;
  s.lastSequence = event.sequence;
  s.applied += 1;
  window.__openclawSequences.push(event.sequence);
  const live = $("live-status");
  live.dataset.events = String(s.applied);
  if (!s.resumeChecked && s.resumeAfter !== null) {
    s.resumeChecked = true;
    if (!isOperator() || event.sequence === s.resumeAfter + 1) {
      setLive("live", `Live — resumed after #${s.resumeAfter}, no gap`);
    } else {
      setLive("live", `Live — resumed after #${s.resumeAfter}; events #${previous + 1}–#${event.sequence - 1} were not received`);
    }
  } else {
    setLive(live.dataset.state);
  }
  applyEvent(event);
}

function applyEvent(event) {
  const id = event.instance_id;
  if (id && state.instance.id === id) {
    addTimelineEvent(event);
    if (event.kind.type === "status_changed" && !state.instance.gone) {
      setBadge($("instance-status"), event.kind.to);
    }
  }
  if (event.kind.type === "status_changed" && id) {
    const row = state.table.rows.get(id) || state.my.rows.get(id);
    if (row) {
      row.dataset.status = event.kind.to;
      const b = row.querySelector(".badge");
      if (b) setBadge(b, event.kind.to);
    }
    if (/record deleted/.test(event.reason || "")) {
      markInstanceGone(id);
    } else {
      scheduleRefresh(id);
    }
  }
  if (event.topic === "alerts" || event.kind.type === "alert") addAlert(event);
}

/** Re-reads an instance after it changed: at most one request in flight per id, ≥ 250 ms apart. */
function scheduleRefresh(id) {
  const existing = state.refreshes.get(id);
  if (existing) { existing.dirty = true; return; }
  const entry = { dirty: false };
  state.refreshes.set(id, entry);
  const run = async () => {
    entry.dirty = false;
    await refreshInstance(id);
    if (state.refreshes.get(id) !== entry) return;
    if (entry.dirty) setTimeout(run, 250);
    else state.refreshes.delete(id);
  };
  setTimeout(run, 150);
}

async function refreshInstance(id) {
  if (!state.token || state.deleted.has(id)) return;
  let view;
  try {
    view = await api("GET", `/v1/instances/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) markInstanceGone(id);
    return;
  }
  if (state.deleted.has(id)) return;
  if (isOperator()) upsertTableRow(view);
  else upsertMyRow(view);
  if (state.instance.id === id && !state.instance.gone) {
    state.instance.view = view;
    renderInstance(view);
  }
}

// --- System view (operators) ---------------------------------------------------------------

function addAlert(event) {
  if (!isOperator()) return;
  state.alerts.unshift(event);
  if (state.alerts.length > MAX_ALERTS) state.alerts.length = MAX_ALERTS;
  const list = $("alerts");
  const code = event.kind.type === "alert" ? event.kind.code : eventSummary(event);
  const li = h("li", { "data-sequence": event.sequence },
    timeEl(event.at, new Date(event.at).toLocaleTimeString(), "when"),
    h("span", { class: "code" }, code),
    event.instance_id ? h("a", { href: `#/instances/${encodeURIComponent(event.instance_id)}` }, "instance") : null,
    h("span", { class: "reason" }, event.reason || ""),
  );
  list.prepend(li);
  while (list.children.length > MAX_ALERTS) list.lastElementChild.remove();
  $("alerts-empty").hidden = true;
  if ($("view-system").hidden) {
    state.unseenAlerts += 1;
    const count = $("alert-count");
    if (count) {
      count.textContent = String(state.unseenAlerts);
      count.setAttribute("aria-label", `${state.unseenAlerts} new alerts`);
      count.hidden = false;
    }
  }
}

function stopOverview() {
  clearTimeout(state.overviewTimer);
  state.overviewTimer = null;
}

function showSystem() {
  showView("view-system");
  document.title = "System · OpenClaw";
  state.unseenAlerts = 0;
  const count = $("alert-count");
  if (count) count.hidden = true;
  $("links-card").hidden = !isAdmin();
  setLive($("live-status").dataset.state);
  refreshOverview();
  if (isAdmin()) loadLinks();
}

async function refreshOverview() {
  stopOverview();
  if ($("view-system").hidden || !state.me) return;
  if (document.visibilityState === "visible") {
    try {
      const o = await api("GET", "/v1/overview");
      renderOverview(o);
      setText("system-error", "");
      setText("system-updated", `Updated ${new Date().toLocaleTimeString()}; refreshes every 5 s.`);
    } catch (e) {
      setText("system-error", e.message);
    }
  }
  if (!$("view-system").hidden && state.me) state.overviewTimer = setTimeout(refreshOverview, 5000);
}

function countsList(dl, counts, order) {
  dl.replaceChildren();
  const keys = Object.keys(counts || {});
  keys.sort((a, b) => {
    const ia = order ? order.indexOf(a) : -1;
    const ib = order ? order.indexOf(b) : -1;
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  if (keys.length === 0) dl.append(h("dt", {}, "none"), h("dd", {}, "0"));
  for (const k of keys) dl.append(h("dt", {}, statusLabel(k)), h("dd", {}, String(counts[k])));
}

function renderOverview(o) {
  countsList($("status-counts"), o.instances_by_status, STATUSES);
  $("status-counts").append(h("dt", {}, h("strong", {}, "total")), h("dd", {}, h("strong", {}, String(o.instances_total))));
  countsList($("job-counts"), o.jobs, ["queued", "running", "retrying", "done", "failed"]);

  const r = o.rollbacks || {};
  const threshold = Number(r.alert_threshold ?? 0.05);
  const rate = Number(r.rate ?? 0);
  const rateMeter = h("meter", {
    min: 0, max: Math.max(threshold * 2, rate, 0.0001), value: rate, low: threshold * 0.8, high: threshold, optimum: 0,
    class: r.alerting ? "over" : null, "aria-label": "Rollback rate",
  });
  $("rollback-rate").replaceChildren(
    h("div", { class: `rate${r.alerting ? " alerting" : ""}` }, percent(rate)),
    rateMeter,
    h("p", { class: r.alerting ? "error" : "muted" },
      `of provisionings rolled back; alert at ${percent(threshold)}${r.alerting ? " — ALERTING" : ""}.`),
    h("dl", { class: "facts compact" },
      h("dt", {}, "started"), h("dd", {}, String(r.started ?? 0)),
      h("dt", {}, "succeeded"), h("dd", {}, String(r.succeeded ?? 0)),
      h("dt", {}, "failed"), h("dd", {}, String(r.failed ?? 0)),
      h("dt", {}, "provisionings"), h("dd", {}, String(r.provisionings ?? 0))),
  );

  const budgets = (o.providers || []).map((p) => {
    const limit = Number(p.limit) || 0;
    const used = Number(p.used) || 0;
    const warnAt = Number(p.warn_ratio ?? 0.8);
    const meter = h("meter", {
      min: 0, max: Math.max(limit, 1), value: used, low: limit * warnAt * 0.75, high: limit * warnAt, optimum: 0,
      class: p.warning ? "over" : null, "aria-label": `${p.provider} requests used in ${p.window}`,
    });
    return h("div", { class: `budget${p.warning ? " warning" : ""}`, "data-provider": p.provider },
      h("div", { class: "line" },
        h("span", { class: "name" }, `${p.provider} (${p.window})`),
        h("span", {}, `${used} / ${limit} (${percent(p.used_ratio)})`)),
      meter,
      h("div", { class: "note" },
        `warning at ${percent(warnAt)}${p.warning ? " — over it" : ""}`,
        p.reported_remaining !== null && p.reported_remaining !== undefined
          ? `; provider reports ${p.reported_remaining} remaining` : ""),
    );
  });
  $("budgets").replaceChildren(...(budgets.length ? budgets : [h("p", { class: "muted" }, "No provider calls counted yet.")]));
}

async function loadLinks() {
  try {
    const list = await api("GET", "/v1/customer-links");
    const rows = list.items.map((l) => h("tr", { "data-uid": l.uid },
      h("td", {}, h("code", {}, l.uid)),
      h("td", {}, l.customer_id),
      h("td", {}, timeEl(l.linked_at)),
      h("td", {}, h("button", { type: "button", class: "secondary unlink", "data-uid": l.uid, "aria-label": `Unlink ${l.uid}` }, "Unlink"))));
    document.querySelector("#links tbody").replaceChildren(...rows);
    if (!rows.length) document.querySelector("#links tbody").append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No links.")));
  } catch (e) {
    setText("links-result", e.message);
  }
}

async function onLinkSubmit(event) {
  event.preventDefault();
  const uid = $("link-uid").value.trim();
  const customer = $("link-customer").value.trim();
  if (!uid || !customer) return;
  try {
    await api("PUT", `/v1/customer-links/${encodeURIComponent(uid)}`, { customer_id: customer });
    setText("links-result", `Linked ${uid} to ${customer}.`);
    $("link-uid").value = "";
    $("link-customer").value = "";
    loadLinks();
  } catch (e) {
    setText("links-result", `Link failed: ${e.message}`);
  }
}

async function unlink(uid) {
  try {
    await api("DELETE", `/v1/customer-links/${encodeURIComponent(uid)}`);
    setText("links-result", `Unlinked ${uid}.`);
    loadLinks();
  } catch (e) {
    setText("links-result", `Unlink failed: ${e.message}`);
  }
}

// --- Sweep (admins) -------------------------------------------------------------------------

function showSweep() {
  showView("view-sweep");
  document.title = "Sweep · OpenClaw";
  if (!isAdmin()) {
    setText("sweep-result", "The sweep needs an admin key.");
    $("sweep-dry").disabled = true;
  } else {
    $("sweep-dry").disabled = false;
  }
}

function renderOrphans(orphans) {
  const rows = orphans.map((o) => h("tr", {}, h("td", {}, o.kind), h("td", {}, o.name), h("td", {}, h("code", {}, o.id))));
  document.querySelector("#orphans tbody").replaceChildren(...rows);
  $("orphans").hidden = orphans.length === 0;
}

async function sweepDryRun() {
  $("sweep-dry").disabled = true;
  setText("sweep-result", "Looking for orphans…");
  try {
    const report = await api("POST", "/v1/sweep", { dry_run: true });
    state.sweep.orphans = report.orphans;
    renderOrphans(report.orphans);
    const n = report.orphans.length;
    setText("sweep-result", n === 0 ? "No orphans: every resource is claimed." : `${n} orphan${n === 1 ? "" : "s"} found (nothing deleted).`);
    const del = $("sweep-delete");
    del.hidden = n === 0;
    del.textContent = `Delete ${n} orphan${n === 1 ? "" : "s"}`;
  } catch (e) {
    setText("sweep-result", `Dry run failed: ${e.message}`);
  } finally {
    $("sweep-dry").disabled = false;
  }
}

async function sweepDelete() {
  const n = state.sweep.orphans.length;
  const ok = await confirmDialog({
    title: `Delete ${n} orphan${n === 1 ? "" : "s"}?`,
    text: "The sweep deletes, at Hetzner and Cloudflare, every resource of this deployment that no live instance claims at the moment it runs (which may differ from the dry run).",
    expect: "delete",
    label: "Type delete to confirm",
    button: "Delete",
  });
  if (!ok) return;
  setText("sweep-result", "Sweeping…");
  try {
    const report = await api("POST", "/v1/sweep", { dry_run: false });
    renderOrphans(report.orphans);
    $("sweep-delete").hidden = true;
    state.sweep.orphans = [];
    setText("sweep-result", `Deleted ${report.deleted.length}${report.errors.length ? `; ${report.errors.length} failed: ${report.errors.join("; ")}` : "."}`);
  } catch (e) {
    setText("sweep-result", `Sweep failed: ${e.message}`);
  }
}

// --- Wiring -------------------------------------------------------------------------------

function wire() {
  $("key-form").addEventListener("submit", onKeySubmit);
  $("firebase-form").addEventListener("submit", onFirebaseSubmit);
  $("sign-out").addEventListener("click", () => { signOut("Signed out."); history.replaceState(null, "", location.pathname); });

  const statusSelect = $("f-status");
  for (const s of STATUSES) statusSelect.append(h("option", { value: s }, statusLabel(s)));
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    readFilters();
    state.table.pageIndex = 0;
    loadInstances(null);
  });
  $("f-clear").addEventListener("click", () => {
    $("f-status").value = "";
    $("f-customer").value = "";
    $("f-search").value = "";
    readFilters();
    state.table.pageIndex = 0;
    loadInstances(null);
  });
  $("next-page").addEventListener("click", () => {
    if (!state.table.next) return;
    state.table.pageIndex += 1;
    loadInstances(state.table.next);
  });
  $("first-page").addEventListener("click", () => {
    state.table.pageIndex = 0;
    loadInstances(null);
  });
  document.querySelector("#instances tbody").addEventListener("click", onRowClick);
  document.querySelector("#my-instances tbody").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-open]");
    if (button) { openClaw(button.dataset.open, "my-open-result"); return; }
    onRowClick(e);
  });
  $("my-next-page").addEventListener("click", () => { if (state.my.next) loadMy(state.my.next); });
  $("my-first-page").addEventListener("click", () => loadMy(null));

  $("act-suspend").addEventListener("click", () => runAction("suspend"));
  $("act-unsuspend").addEventListener("click", () => runAction("unsuspend"));
  $("act-retry").addEventListener("click", () => runAction("retry"));
  $("act-terminate").addEventListener("click", () => runAction("terminate"));
  $("act-rollback").addEventListener("click", () => runAction("rollback"));
  $("act-plan").addEventListener("click", () => runAction("plan"));
  $("instance-open").addEventListener("click", () => {
    if (state.instance.id) openClaw(state.instance.id, "instance-open-result");
  });

  const input = $("confirm-input");
  input.addEventListener("input", () => { $("confirm-ok").disabled = input.value.trim() !== input.dataset.expect; });
  $("confirm-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (input.value.trim() !== input.dataset.expect) return;
    closeDialog(true);
  });
  $("confirm-cancel").addEventListener("click", () => closeDialog(false));
  $("confirm-dialog").addEventListener("close", () => { if (dialogResolve) closeDialog(false); });

  $("sweep-dry").addEventListener("click", sweepDryRun);
  $("sweep-delete").addEventListener("click", sweepDelete);
  $("link-form").addEventListener("submit", onLinkSubmit);
  document.querySelector("#links tbody").addEventListener("click", (e) => {
    const b = e.target.closest("button.unlink");
    if (b) unlink(b.dataset.uid);
  });

  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !$("view-system").hidden) refreshOverview();
  });
  // Ages in the tables move on.
  setInterval(() => {
    for (const td of document.querySelectorAll("td.age[data-at]")) td.textContent = age(td.dataset.at);
  }, 30000);
}

async function boot() {
  wire();
  try {
    const response = await fetch("config.json", { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw await errorOf(response);
    state.config = await response.json();
  } catch (e) {
    state.config = { version: "", deployment: "", firebase: null };
    setText("signin-message", `Could not read the dashboard's settings: ${e.message}`);
  }
  if (state.config.deployment) setText("deployment", state.config.deployment);
  if (state.config.version) $("deployment").title = `openclaw ${state.config.version}`;
  let saved = null;
  try { saved = sessionStorage.getItem(TOKEN_KEY); } catch { /* ignore */ }
  if (saved) {
    await signInWithToken(saved, "signin-message");
  } else {
    const message = $("signin-message").textContent;
    showSignIn(message);
  }
}

boot();
