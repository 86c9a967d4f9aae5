// Thoughts under a post, in headless Chromium, against the server e2e.mjs has set up: a guest
// leaves a thought that waits for moderation, a moderator approves it from the queue, a reader
// sees it, and the guest's reply then appears at once, nested under it. axe-core checks the
// post page, the reply page, the moderation queue and the discussion settings; the keyboard
// path through the form skips the honeypot.
// Usage: MOD_EMAIL=… MOD_PASSWORD=… ADMIN_EMAIL=… ADMIN_PASSWORD=… node thoughts.mjs BASE_URL
import { chromium } from "playwright-core";
import { assert, axe, check, finish } from "./lib.mjs";

const [base] = process.argv.slice(2);
const env = (k, d) => process.env[k] || d;
const mod = { email: env("MOD_EMAIL", "mo@example.org"), password: env("MOD_PASSWORD", "") };
const admin = { email: env("ADMIN_EMAIL", "ada@example.org"), password: env("ADMIN_PASSWORD", "correct horse battery") };
// The post e2e.mjs publishes.
const title = env("POST_TITLE", "Listening before judging: notes from a duty team");
const guest = { name: "Gwen Guest", email: "gwen@example.net", url: "https://gwen.example.net/" };
const thoughtText = "Listening first is harder on a busy shift, but it saves time later.";
const replyText = "Following up: we now start every handover with five quiet minutes.";

/** Waits until the form's script has put a stamp in, then past the server's 3 s spam limit. */
async function waitForStamp(page) {
  await page.waitForFunction(() => {
    const s = document.querySelector("form.thought-form input[name=stamp]");
    return s && s.value;
  }, null, { timeout: 10000 });
  await page.waitForTimeout(4200);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const started = Date.now();
const newPage = async () => {
  // bypassCSP lets the test inject axe-core; the pages themselves keep their strict policy.
  const ctx = await browser.newContext({ bypassCSP: true });
  const p = await ctx.newPage();
  p.setDefaultTimeout(15000);
  return p;
};

try {
  const g = await newPage();
  let postUrl, postId, parentId;

  await check("a guest leaves a thought and is told it awaits moderation", async () => {
    assert((await g.context().cookies()).length === 0, "the guest context has cookies");
    await g.goto(`${base}/`);
    await g.getByRole("link", { name: title }).first().click();
    await g.getByRole("heading", { level: 1, name: title }).waitFor();
    postUrl = g.url().split("#")[0];
    postId = await g.locator("form.thought-form").getAttribute("data-post");
    assert(/^\d+$/.test(postId || ""), `no post id on the form (${postId})`);
    const respond = g.getByRole("heading", { name: "Leave a Reply" });
    await respond.scrollIntoViewIfNeeded();
    await g.getByLabel(/^Name/).fill(guest.name);
    await g.getByLabel(/^Email/).fill(guest.email);
    await g.getByLabel("Website").fill(guest.url);
    await g.getByLabel("Your thought").fill(thoughtText);
    await waitForStamp(g);
    await g.getByRole("button", { name: "Post thought" }).click();
    await g.getByText("awaiting moderation").waitFor();
  });

  await check("a moderator signs in and approves it from the queue", async () => {
    assert(mod.password, "MOD_PASSWORD is not set");
    const m = await newPage();
    await m.goto(`${base}/admin/login`);
    await m.getByLabel("Email").fill(mod.email);
    await m.getByLabel("Password", { exact: true }).fill(mod.password);
    await m.getByRole("button", { name: "Sign in" }).click();
    await m.waitForURL((u) => !u.pathname.endsWith("/admin/login"));
    await m.goto(`${base}/admin/thoughts`);
    const row = m.locator("tbody tr", { hasText: thoughtText });
    await row.waitFor();
    const rowText = await row.innerText();
    assert(rowText.includes("first thought from this guest"), `reason not shown: ${JSON.stringify(rowText)}`);
    await row.getByRole("checkbox").check();
    await m.getByLabel("With the ticked thoughts").selectOption({ label: "Approve" });
    await m.getByRole("button", { name: "Apply" }).click();
    await m.getByText("1 thought updated.").waitFor();
    assert((await m.locator("tbody tr", { hasText: thoughtText }).count()) === 0, "still in the pending list");
    await m.context().close();
  });

  await check("a reader sees the approved thought under the post", async () => {
    const r = await newPage();
    await r.goto(postUrl);
    await r.reload();
    await r.getByRole("heading", { name: `1 thought on “${title}”` }).waitFor();
    const li = r.locator("li.thought", { hasText: thoughtText });
    await li.waitFor();
    parentId = (await li.getAttribute("id")).replace("thought-", "");
    await r.context().close();
  });

  await check("the guest replies; the reply appears at once, nested after its parent", async () => {
    await g.goto(postUrl);
    await g.locator(`#thought-${parentId}`).getByRole("link", { name: "Reply" }).click();
    await g.waitForURL(`${base}/thoughts/${parentId}/reply`);
    await g.getByRole("heading", { level: 1, name: `Reply to ${guest.name}` }).waitFor();
    await g.getByLabel(/^Name/).fill(guest.name);
    await g.getByLabel(/^Email/).fill(guest.email);
    await g.getByLabel("Your thought").fill(replyText);
    await axe(g, "reply page");
    await waitForStamp(g);
    await g.getByRole("button", { name: "Post reply" }).click();
    await g.waitForURL((u) => u.href.startsWith(postUrl) && /#thought-\d+$/.test(u.hash));
    const items = await g.locator("ol.thought-list > li").evaluateAll((els) =>
      els.map((e) => ({ id: e.id, cls: e.className, text: e.textContent })));
    const pi = items.findIndex((x) => x.id === `thought-${parentId}`);
    const ri = items.findIndex((x) => x.text.includes(replyText));
    assert(ri >= 0, `the reply is not on the page (${JSON.stringify(items.map((x) => x.id))})`);
    assert(/\bdepth-1\b/.test(items[ri].cls), `the reply's class is ${JSON.stringify(items[ri].cls)}`);
    assert(pi >= 0 && ri > pi, `the reply (index ${ri}) does not come after its parent (index ${pi})`);
    assert(/\bdepth-0\b/.test(items[pi].cls), `the parent's class is ${JSON.stringify(items[pi].cls)}`);
    await g.getByRole("heading", { name: `2 thoughts on “${title}”` }).waitFor();
  });

  await check("the post page with thoughts has no accessibility violations", async () => {
    await g.goto(postUrl);
    await g.locator("li.thought.depth-1").waitFor();
    await axe(g, "post page with thoughts");
  });

  await check("Tab through the form skips the honeypot and reaches the submit button", async () => {
    await g.goto(postUrl);
    const seen = [];
    const focused = () => g.evaluate(() => {
      const a = document.activeElement;
      return a ? { tag: a.tagName, name: a.getAttribute("name"), id: a.id, type: a.getAttribute("type"), text: a.textContent.trim() } : null;
    });
    // From the Website field (just before the honeypot in the page) to the textarea...
    await g.getByLabel("Website").focus();
    await g.keyboard.press("Tab");
    const afterUrl = await focused();
    assert(afterUrl && afterUrl.name === "body", `Tab from Website went to ${JSON.stringify(afterUrl)}, not the thought textarea`);
    // ...and from the textarea on to the submit button.
    await g.getByLabel("Your thought").focus();
    let reached = false;
    for (let i = 0; i < 6 && !reached; i++) {
      await g.keyboard.press("Tab");
      const f = await focused();
      seen.push(f);
      assert(!(f && f.name === "homepage"), "Tab focused the hidden honeypot field");
      reached = !!f && f.tag === "BUTTON" && f.type === "submit" && f.text === "Post thought";
    }
    assert(reached, `Tab from the textarea never reached "Post thought": ${JSON.stringify(seen)}`);
    const hp = g.locator("input[name=homepage]");
    assert((await hp.getAttribute("tabindex")) === "-1", "the honeypot has no tabindex=-1");
    // Kept off-screen (left: -9999px) rather than display: none, so robots still fill it in.
    const right = await hp.evaluate((e) => e.getBoundingClientRect().right);
    assert(right <= 0, `the honeypot is on screen (its right edge is at ${right}px)`);
  });

  await check("the moderation queue (with a thought in it) has no accessibility violations", async () => {
    const res = await fetch(`${base}/api/v1/posts/${postId}/thoughts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ body: "A second guest wonders how this works on nights.", author_name: "Nia Night", author_email: "nia@example.com" }),
    });
    const j = await res.json().catch(() => ({}));
    assert(res.status === 201, `API POST gave ${res.status} ${JSON.stringify(j)}`);
    assert(j.status === "pending", `the API thought is ${j.status}, not pending`);
    const m = await newPage();
    await m.goto(`${base}/admin/login`);
    await m.getByLabel("Email").fill(mod.email);
    await m.getByLabel("Password", { exact: true }).fill(mod.password);
    await m.getByRole("button", { name: "Sign in" }).click();
    await m.waitForURL((u) => !u.pathname.endsWith("/admin/login"));
    await m.goto(`${base}/admin/thoughts`);
    await m.locator("tbody tr", { hasText: "Nia Night" }).waitFor();
    await axe(m, "moderation queue");
    await m.context().close();
  });

  await check("the discussion settings have no accessibility violations", async () => {
    const a = await newPage();
    await a.goto(`${base}/admin/login`);
    await a.getByLabel("Email").fill(admin.email);
    await a.getByLabel("Password", { exact: true }).fill(admin.password);
    await a.getByRole("button", { name: "Sign in" }).click();
    await a.waitForURL(`${base}/admin/`);
    await a.goto(`${base}/admin/discussion`);
    await a.getByRole("heading", { level: 1, name: "Discussion settings" }).waitFor();
    await axe(a, "discussion settings");
    await a.context().close();
  });
} finally {
  await browser.close();
}

console.log(`thoughts: ${((Date.now() - started) / 1000).toFixed(1)} s`);
finish("thoughts");
