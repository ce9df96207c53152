// Opens a Control UI link in headless Chromium and reports what the gateway answered to the
// UI's WebSocket `connect`: "connected" (hello-ok), "pairing_required" (NOT_PAIRED) or
// "refused" (any other error), as one JSON line on stdout. Exits 0 when that is EXPECT.
//
// Environment: LINK (the URL; it carries a secret, so it never goes on a command line and is
// never printed), EXPECT, PLAYWRIGHT_CORE (the playwright-core package folder), PROFILE_DIR
// (Chromium's profile: the same folder is the same browser, with its device key), CHROMIUM
// (default /usr/bin/chromium), TIMEOUT_MS (default 30000).
import { createRequire } from "node:module";

const env = process.env;
const require = createRequire(import.meta.url);
const { chromium } = require(env.PLAYWRIGHT_CORE);
const timeoutMs = Number(env.TIMEOUT_MS || 30000);

const context = await chromium.launchPersistentContext(env.PROFILE_DIR, {
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--no-first-run", "--disable-dev-shm-usage"],
});
let result = { outcome: "timeout" };
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const answered = new Promise((resolve) => {
    page.on("websocket", (ws) => {
      ws.on("framereceived", ({ payload }) => {
        let frame;
        try {
          frame = JSON.parse(String(payload));
        } catch {
          return;
        }
        if (frame?.type !== "res") return;
        if (frame.ok && frame.payload?.type === "hello-ok") {
          resolve({ outcome: "connected", server: frame.payload.server?.version });
        } else if (frame.ok === false) {
          const code = frame.error?.details?.code || frame.error?.code;
          const pairing = frame.error?.code === "NOT_PAIRED" || code === "PAIRING_REQUIRED";
          resolve({ outcome: pairing ? "pairing_required" : "refused", code });
        }
      });
    });
  });
  await page.goto(env.LINK, { waitUntil: "domcontentloaded", timeout: timeoutMs });
  result = await Promise.race([
    answered,
    new Promise((resolve) => setTimeout(() => resolve({ outcome: "timeout" }), timeoutMs)),
  ]);
  // What the person would see: give the UI a moment to render, then read the page.
  await page.waitForTimeout(2500);
  const text = await page.evaluate(() => document.body?.innerText || "");
  result.path = new URL(page.url()).pathname;
  result.says_pairing_required = /pairing required|approve this browser/i.test(text);
  if (result.outcome === "connected" && result.says_pairing_required) {
    result.outcome = "pairing_required";
  }
} finally {
  await context.close();
}
console.log(JSON.stringify(result));
process.exit(result.outcome === (env.EXPECT || "connected") ? 0 : 1);
