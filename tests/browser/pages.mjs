// Walks centinela's pages in Debian's headless Chromium, as an operator would: logs in,
// opens every page, makes a silence through the form (preview, then create), sees the
// alert held back by it, expires it, and sees the alert released. Screenshots of each page
// go to SHOTS when it is given. Prints one JSON object: every page's HTML as the browser
// ended up with it, the steps done, and the dialogs scripts opened (there must be none).
//
//   node tests/browser/pages.mjs BASE_URL USER PASSWORD [SHOTS_DIR]
import { chromium } from "playwright-core";

const [base, user, password, shots] = process.argv.slice(2);
const PAGES = [
  ["/", "overview"],
  ["/alerts", "alerts"],
  ["/silences", "silences"],
  ["/notifications", "notifications"],
  ["/rules", "rules"],
  ["/config", "configuration"],
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const out = { pages: {}, steps: [], dialogs: 0, errors: [] };
try {
  const context = await browser.newContext({
    httpCredentials: { username: user, password },
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  page.on("dialog", (d) => { out.dialogs += 1; d.dismiss(); });
  page.on("pageerror", (e) => out.errors.push(String(e)));
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  };
  const until = async (path, test, what) => {
    for (let i = 0; i < 60; i++) {
      await page.goto(base + path);
      if (test(await page.content())) return;
      await page.waitForTimeout(300);
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  for (const [path, name] of PAGES) {
    const response = await page.goto(base + path);
    if (response.status() !== 200) throw new Error(`${path} answered ${response.status()}`);
    out.pages[path] = await page.content();
    await shot(name);
  }
  out.steps.push("every page opened");

  await page.goto(base + "/silences");
  await page.fill("#matchers", 'alertname="OrdersBroken"');
  await page.fill("#duration", "1h");
  await page.fill("#comment", "fixing the orders table");
  await page.click("button:has-text('Preview')");
  await page.waitForSelector("text=It would hold back 1 alert(s) now");
  await shot("silences-preview");
  out.steps.push("previewed");
  await page.click("button:has-text('Create silence')");
  await page.waitForURL(/\/silences\?done=/);
  out.steps.push("created");
  await until("/alerts", (html) => html.includes("held back by silence"), "the alert held back");
  out.pages["/alerts (held back)"] = await page.content();
  await shot("alerts-held-back");
  out.steps.push("held back");

  await page.goto(base + "/silences");
  await page.click("button:has-text('Expire')");
  await page.waitForSelector("text=expired.");
  out.steps.push("expired");
  await until("/alerts", (html) => !html.includes("held back by silence"), "the alert released");
  out.steps.push("released");

  // A phone's width.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + "/");
  await shot("overview-phone");
} catch (e) {
  out.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
