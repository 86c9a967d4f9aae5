// A person's first hour with Colloquy, in headless Chromium: first-run setup, sign-out and
// sign-in, writing a post with tags, scheduling it a few seconds ahead, seeing it appear on
// the front page by itself, and reading it. axe-core checks each kind of page for
// accessibility violations. Usage: node e2e.mjs BASE_URL SETUP_URL
import { chromium } from "playwright-core";
import { assert, axe, check, finish } from "./lib.mjs";

const [base, setupUrl] = process.argv.slice(2);

/** "YYYY-MM-DDTHH:MM:SS" for a moment, in the given IANA zone. */
function localInput(date, timeZone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).formatToParts(date).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
// bypassCSP lets the test inject axe-core; the pages themselves keep their strict policy.
const context = await browser.newContext({ bypassCSP: true });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const title = "Listening before judging: notes from a duty team";

try {
  await check("first-run setup creates the admin and signs them in", async () => {
    await page.goto(setupUrl);
    await page.getByLabel("Publication title").fill("Care Voices");
    await page.getByLabel("Your name").fill("Ada Editor");
    await page.getByLabel("Email").fill("ada@example.org");
    await page.getByLabel("Password (at least 10 characters)").fill("correct horse battery");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${base}/admin/`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  });

  await check("sign out, then sign in again", async () => {
    await page.getByRole("button", { name: /^Sign out/ }).click();
    await page.waitForURL(`${base}/admin/login`);
    await page.getByLabel("Email").fill("ada@example.org");
    await page.getByLabel("Password", { exact: true }).fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${base}/admin/`);
  });

  await check("the editor has no accessibility violations", async () => {
    await page.goto(`${base}/admin/posts/new`);
    await axe(page, "editor");
  });

  let publishAt;
  await check("write a post with tags, see the live preview, schedule it", async () => {
    await page.getByLabel("Title", { exact: true }).fill(title);
    await page.getByLabel("Body (Markdown)").fill("## Why we listen\n\nA duty worker's first job is **listening**.\n\nThen we decide.");
    await page.locator("#preview h2", { hasText: "Why we listen" }).waitFor({ timeout: 5000 });
    await page.getByLabel("Tags (separated by commas)").fill("ethics, practice, media");
    await page.getByLabel("Categories (separated by commas)").fill("Opinion");
    await page.getByLabel("Scheduled", { exact: true }).check();
    publishAt = new Date(Date.now() + 8000);
    await page.getByLabel(/^Publish at/).fill(localInput(publishAt, "Europe/London"));
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/\/admin\/posts\/\d+\/edit\?saved=1$/);
    assert(await page.getByLabel("Scheduled", { exact: true }).isChecked(), "the post was not saved as scheduled");
  });

  await check("the post is not public before its time, then appears by itself", async () => {
    const reader = await browser.newContext({ bypassCSP: true });
    const p = await reader.newPage();
    await p.goto(`${base}/`);
    assert(!(await p.content()).includes(title), "the post showed before its time");
    const deadline = Date.now() + 60000;
    let seen = false;
    while (Date.now() < deadline) {
      await p.goto(`${base}/`);
      if ((await p.content()).includes(title)) { seen = true; break; }
      await p.waitForTimeout(1000);
    }
    assert(seen, "the scheduled post never appeared on the front page");
    assert(Date.now() >= publishAt.getTime() - 1000, "it appeared before its time");
    await axe(p, "front page");
    await p.getByRole("link", { name: title }).click();
    await p.getByRole("heading", { level: 1, name: title }).waitFor();
    for (const tag of ["ethics", "practice", "media"]) {
      await p.getByRole("link", { name: tag, exact: true }).waitFor();
    }
    await p.getByRole("heading", { name: "About Ada Editor" }).waitFor();
    await axe(p, "post page");
    await p.screenshot({ path: "/tmp/colloquy-post.png", fullPage: true });
    await p.goto(`${base}/tag/ethics/`);
    await p.getByRole("heading", { level: 1, name: "Tag: ethics" }).waitFor();
    await axe(p, "tag archive");
    await p.goto(`${base}/admin/login`);
    await axe(p, "login page");
    await p.goto(`${base}/`);
    await p.keyboard.press("Tab");
    const focused = await p.evaluate(() => document.activeElement && document.activeElement.textContent);
    assert(focused === "Skip to content", `first Tab focused ${JSON.stringify(focused)}`);
    await reader.close();
  });
} finally {
  await browser.close();
}

finish("browser");
