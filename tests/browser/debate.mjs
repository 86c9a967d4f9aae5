// The live-debate room, in headless Chromium, against the server e2e.mjs has set up: a host
// (an editor) schedules a debate through the API and opens the room from its page; two members
// accept the code of conduct (one with the keyboard alone) and answer the host's question; a
// reply, a moderator hiding an answer, a dropped connection that resumes without gaps or
// duplicates, pausing the stream, the screen-reader announcements, and the transcript once the
// host ends the debate. An anonymous reader watches throughout. axe-core checks the
// announcement, the post with its announcement, the live room (host and participant) and the
// transcript.
// Usage: HOST_EMAIL=… HOST_PASSWORD=… HOST_TOKEN=… A_EMAIL=… A_PASSWORD=… B_EMAIL=… B_PASSWORD=…
//        node debate.mjs BASE_URL
import { chromium } from "playwright-core";
import { assert, axe, check, finish } from "./lib.mjs";
import net from "node:net";

const [base] = process.argv.slice(2);
const env = (k, d) => process.env[k] || d;
const host = { email: env("HOST_EMAIL", "host@example.org"), password: env("HOST_PASSWORD", ""), token: env("HOST_TOKEN", "") };
const partA = { email: env("A_EMAIL", "amara@example.org"), password: env("A_PASSWORD", "") };
const partB = { email: env("B_EMAIL", "ben@example.org"), password: env("B_PASSWORD", "") };
const postTitle = "Who speaks for the client at a case review?";
const debateTitle = "Who speaks for the client? A live debate";
const zones = ["Europe/London", "America/New_York", "America/Los_Angeles"];

/** A call to the JSON API as the host; returns the status and the parsed body. */
async function api(method, p, body) {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { authorization: `Bearer ${host.token}`, "content-type": "application/json", accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let j;
  try { j = JSON.parse(text); } catch { j = text; }
  return { status: res.status, body: j };
}

async function signIn(page, who, origin = base) {
  await page.goto(`${origin}/admin/login`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.endsWith("/admin/login"));
}

/** The ids of the messages in the room's stream, in page order. */
const streamIds = (p) => p.locator("#stream > li.msg").evaluateAll((els) => els.map((e) => e.id));
/** The message in the stream whose text includes `text`. */
const msg = (p, text) => p.locator("#stream > li.msg", { hasText: text });
/** A marker that a later check can use to tell the page was not reloaded in between. */
const mark = (p) => p.evaluate(() => { window.__colloquyNoReload = true; });
const notReloaded = async (p, label) =>
  assert(await p.evaluate(() => window.__colloquyNoReload === true), `${label}'s page was reloaded`);

/** What has keyboard focus, described. */
const focused = (p) => p.evaluate(() => {
  const a = document.activeElement;
  return a ? { tag: a.tagName, id: a.id, type: a.getAttribute("type"), text: a.textContent.trim().slice(0, 60) } : null;
});

/** Presses Tab until the element with `id` has focus (at most `max` times). */
async function tabTo(p, id, max = 150) {
  for (let i = 0; i < max; i++) {
    await p.keyboard.press("Tab");
    const f = await focused(p);
    if (f && f.id === id) return;
  }
  throw new Error(`Tab never reached #${id} in ${max} presses`);
}

/** The host posts a plain message through the API; returns its id. */
async function hostSays(body) {
  const r = await api("POST", `/api/v1/debates/${debateId}/messages`, { body });
  assert(r.status === 201, `posting ${JSON.stringify(body)} gave ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

/**
 * A TCP relay in front of the server, so that the test can cut a browser's connections as a
 * network would (Chromium's offline emulation fails new requests but leaves an open
 * EventSource stream alone). `cut()` resets every relayed connection and refuses new ones
 * until `restore()`. Cookies do not depend on the port, so a session works through it.
 */
function relay(target) {
  const t = new URL(target);
  const open = new Set();
  let down = false;
  const kill = (s) => (s.resetAndDestroy ? s.resetAndDestroy() : s.destroy());
  const server = net.createServer((client) => {
    if (down) { kill(client); return; }
    const up = net.connect(Number(t.port), t.hostname);
    open.add(client);
    open.add(up);
    const done = () => { open.delete(client); open.delete(up); client.destroy(); up.destroy(); };
    for (const s of [client, up]) { s.on("error", done); s.on("close", done); }
    client.pipe(up);
    up.pipe(client);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    cut() { down = true; for (const s of open) kill(s); open.clear(); },
    restore() { down = false; },
    close() { for (const s of open) s.destroy(); server.close(); },
  })));
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

let debateId, announcePath, livePath, postPath;
let qId, aAnswerId, bAnswerId, replyId;
const question = "Should the client be in the room when the plan is agreed?";
const answerA = "Yes: nothing about them without them, even when it slows the meeting down.";
const answerB = "Not always; some reviews are about the staff, and the client deserves a summary.";
const replyB = "Agreed on the principle, but who writes the summary for the client afterwards?";

// Participant A reaches the server through the relay, so that A's connection can be dropped.
const aRelay = await relay(base);
const aBase = aRelay.url;

try {
  const [h, a, b, r] = await Promise.all([newPage(), newPage(), newPage(), newPage()]);

  await check("the host schedules a debate on a new post through the API", async () => {
    assert(host.token, "HOST_TOKEN is not set");
    const p = await api("POST", "/api/v1/posts", {
      title: postTitle,
      body_markdown: "Case reviews are often held *about* people rather than *with* them.\n\nWhat should change?",
      status: "published",
    });
    assert(p.status === 201, `POST /api/v1/posts gave ${p.status} ${JSON.stringify(p.body)}`);
    postPath = new URL(p.body.url, base).pathname;
    const startsAt = new Date(Date.now() + 3600 * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const d = await api("POST", "/api/v1/debates", {
      post_id: p.body.id, title: debateTitle, starts_at: startsAt, duration_minutes: 60, zones,
    });
    assert(d.status === 201, `POST /api/v1/debates gave ${d.status} ${JSON.stringify(d.body)}`);
    debateId = d.body.id;
    announcePath = new URL(d.body.url, base).pathname;
    livePath = new URL(d.body.live_url, base).pathname;
    assert(/^\/debates\/[^/]+\/$/.test(announcePath), `the debate's address is ${announcePath}`);
    assert(livePath === `${announcePath}live`, `the room's address is ${livePath}`);
  });

  await check("the announcement names the start in each zone and has no accessibility violations", async () => {
    await r.goto(`${base}${announcePath}`);
    await r.getByRole("heading", { level: 1, name: debateTitle }).waitFor();
    const line = await r.locator("section.debate-announce strong").first().innerText();
    assert(/GMT|BST/.test(line) && line.includes(" / "), `the zone line is ${JSON.stringify(line)}`);
    assert(/E[SD]T/.test(line) && /P[SD]T/.test(line), `the zone line lacks New York or Los Angeles: ${JSON.stringify(line)}`);
    await r.getByRole("link", { name: "Add to your calendar (.ics)" }).waitFor();
    await axe(r, "announcement");
  });

  await check("the post page carries the announcement and has no accessibility violations", async () => {
    await r.goto(`${base}${postPath}`);
    await r.getByRole("heading", { level: 1, name: postTitle }).waitFor();
    await r.locator("section.debate-announce").getByRole("heading", { name: `Live debate: ${debateTitle}` }).waitFor();
    await axe(r, "post page with an announcement");
  });

  await check("everyone signs in", async () => {
    assert(host.password && partA.password && partB.password, "HOST_PASSWORD, A_PASSWORD or B_PASSWORD is not set");
    await Promise.all([signIn(h, host), signIn(a, partA, aBase), signIn(b, partB)]);
    assert(new URL(h.url()).pathname === "/admin/", `the host went to ${h.url()}`);
    assert(new URL(a.url()).pathname === "/", `participant A went to ${a.url()}`);
  });

  await check("the host opens the room from its page; a waiting reader's page follows by itself", async () => {
    await r.goto(`${base}${livePath}`);
    await r.locator("#room-state", { hasText: "Opens" }).waitFor();
    await h.goto(`${base}${livePath}`);
    await h.getByRole("heading", { name: "Run the room" }).waitFor();
    await h.getByRole("button", { name: "Open the room now" }).click();
    await h.getByRole("button", { name: "End the debate" }).waitFor();
    await h.locator("#room-state", { hasText: "Live now" }).waitFor();
    await r.locator("#room-state", { hasText: "Live now" }).waitFor({ timeout: 10000 });
    await r.getByRole("link", { name: "Sign in" }).first().waitFor();
    assert((await r.locator("#compose-form").count()) === 0, "an anonymous reader has a compose form");
  });

  await check("participant A accepts the code of conduct with the keyboard alone", async () => {
    await a.goto(`${aBase}${livePath}`);
    await a.getByRole("button", { name: "Accept and take part" }).waitFor();
    assert((await a.locator("#compose-form").count()) === 0, "the compose form shows before the code of conduct is accepted");
    await tabTo(a, "accept");
    await a.keyboard.press("Space");
    assert(await a.locator("#accept").isChecked(), "Space did not tick the box");
    await a.keyboard.press("Tab");
    const f = await focused(a);
    assert(f && f.tag === "BUTTON" && f.text === "Accept and take part", `Tab from the box went to ${JSON.stringify(f)}`);
    await a.keyboard.press("Enter");
    await a.locator("#compose-form").waitFor();
    assert((await a.locator("#accept").count()) === 0, "the code of conduct is still asked for");
  });

  await check("participant B and the host accept the code of conduct", async () => {
    for (const p of [b, h]) {
      if (p === b) await b.goto(`${base}${livePath}`);
      await p.getByLabel("I have read the code of conduct and will keep to it").check();
      await p.getByRole("button", { name: "Accept and take part" }).click();
      await p.locator("#compose-form").waitFor();
    }
    const hostKinds = await h.locator("#kind option").evaluateAll((os) => os.map((o) => o.value));
    assert(hostKinds.includes("question"), `the host cannot ask a question: ${JSON.stringify(hostKinds)}`);
    const memberKinds = await b.locator("#kind option").evaluateAll((os) => os.map((o) => o.value));
    assert(!memberKinds.includes("question"), "a member is offered to ask a question");
  });

  await check("the host asks Q1 through the form; A, B and the reader see it without reloading", async () => {
    await Promise.all([a, b, r].map(mark));
    await h.locator("#kind").selectOption("question");
    await h.getByLabel("Your message").fill(question);
    await h.getByRole("button", { name: "Send" }).click();
    await h.locator("#compose-status", { hasText: "Sent." }).waitFor();
    for (const p of [h, a, b, r]) {
      const li = msg(p, question);
      await li.waitFor({ timeout: 10000 });
      const label = await li.locator(".msg-label").innerText();
      assert(label === "Q1", `the question's label is ${JSON.stringify(label)}`);
    }
    qId = (await msg(a, question).getAttribute("id")).slice(1);
    // Drawn by the script from the page's template, it is marked as the host team's like the
    // messages the server drew.
    const badge = await msg(a, question).locator(".badge").allInnerTexts();
    assert(JSON.stringify(badge) === '["host team"]', `the host's live question is badged ${JSON.stringify(badge)}`);
    for (const [p, n] of [[a, "A"], [b, "B"], [r, "the reader"]]) await notReloaded(p, n);
    // The compose form learnt of the new question.
    const kinds = await a.locator("#kind option").evaluateAll((os) => os.map((o) => o.value));
    assert(kinds.includes("answer:1"), `A cannot answer Q1: ${JSON.stringify(kinds)}`);
    const next = await h.locator('#kind option[value="question"]').innerText();
    assert(next.includes("Q2"), `the host's next question is ${JSON.stringify(next)}`);
  });

  await check("A (keyboard) and B answer Q1; everyone sees both A1 answers live", async () => {
    await a.locator("#kind").selectOption("answer:1");
    await a.locator("#body").focus();
    await a.keyboard.type(answerA);
    await a.keyboard.press("Tab");
    const f = await focused(a);
    assert(f && f.tag === "BUTTON" && f.text === "Send", `Tab from the message went to ${JSON.stringify(f)}`);
    await a.keyboard.press("Enter");
    await a.locator("#compose-status", { hasText: "Sent." }).waitFor();
    await msg(b, answerA).waitFor();
    await b.locator("#kind").selectOption("answer:1");
    await b.getByLabel("Your message").fill(answerB);
    await b.getByRole("button", { name: "Send" }).click();
    await b.locator("#compose-status", { hasText: "Sent." }).waitFor();
    for (const p of [h, a, b, r]) {
      for (const text of [answerA, answerB]) {
        const li = msg(p, text);
        await li.waitFor({ timeout: 10000 });
        assert((await li.getAttribute("data-kind")) === "answer", `${text} is not an answer`);
        const label = li.locator(".msg-label");
        assert((await label.innerText()) === "A1", `an answer's label is ${JSON.stringify(await label.innerText())}`);
        const href = await label.getAttribute("href");
        assert(href === `#m${qId}`, `A1 links to ${href}, not the question #m${qId}`);
      }
    }
    aAnswerId = (await msg(h, answerA).getAttribute("id")).slice(1);
    bAnswerId = (await msg(h, answerB).getAttribute("id")).slice(1);
    assert(Number(aAnswerId) < Number(bAnswerId), `A's answer ${aAnswerId} is not before B's ${bAnswerId}`);
    // The host team can act on a participant's live message, and not on their own.
    for (const name of ["Hide", "Pin", "Mute Amara Adeyemi", "Ban Amara Adeyemi"]) {
      const n = await h.locator(`#m${aAnswerId}`).getByRole("button", { name, exact: name.includes(" ") }).count();
      assert(n === 1, `the host has ${n} "${name}" button(s) on A's live answer`);
    }
    assert((await h.locator(`#m${qId}`).getByRole("button", { name: /^(Mute|Ban)/ }).count()) === 0, "Mute/Ban offered on the host's own question");
    assert((await a.locator(`#m${bAnswerId}`).getByRole("button", { name: /^(Hide|Pin|Mute|Ban)/ }).count()) === 0, "a member has moderation buttons");
    for (const [p, n] of [[a, "A"], [b, "B"], [r, "the reader"]]) await notReloaded(p, n);
  });

  await check("B replies to A's answer with its Reply link; the reply shows what it answers", async () => {
    await b.locator(`#m${aAnswerId}`).getByRole("link", { name: /^Reply/ }).click();
    await b.locator("#replying").waitFor();
    assert(await b.locator("#body").evaluate((e) => e === document.activeElement), "Reply did not move focus to the message box");
    assert((await b.locator("#reply-to").inputValue()) === aAnswerId, "the reply is not addressed to A's answer");
    await b.locator("#kind").selectOption("message");
    await b.getByLabel("Your message").fill(replyB);
    await b.getByRole("button", { name: "Send" }).click();
    await b.locator("#compose-status", { hasText: "Sent." }).waitFor();
    assert(await b.locator("#replying").isHidden(), "still 'Replying to' after sending");
    for (const p of [h, a, r]) {
      const li = msg(p, replyB);
      await li.waitFor({ timeout: 10000 });
      const link = li.locator(".msg-reply a");
      await link.waitFor();
      assert((await link.getAttribute("href")) === `#m${aAnswerId}`, `the reply points at ${await link.getAttribute("href")}`);
    }
    replyId = (await msg(a, replyB).getAttribute("id")).slice(1);
  });

  await check("the host hides B's answer; A and the reader see it hidden at once", async () => {
    await h.locator(`#m${bAnswerId}`).getByRole("button", { name: /^Hide/ }).click();
    for (const p of [a, r, h]) {
      await p.locator(`#m${bAnswerId} .msg-body`, { hasText: "Hidden by a moderator" }).waitFor({ timeout: 10000 });
      assert(!(await p.locator(`#m${bAnswerId}`).innerText()).includes(answerB), "the hidden text is still on the page");
    }
    await h.locator(`#m${bAnswerId}`).getByRole("button", { name: /^Show/ }).waitFor();
    for (const [p, n] of [[a, "A"], [r, "the reader"]]) await notReloaded(p, n);
  });

  await check("A corrects A's own answer in place; everyone sees the corrected text, marked edited", async () => {
    const corrected = "Yes: nothing about them without them, even when it slows the case review down.";
    const mine = a.locator(`#m${aAnswerId}`);
    assert((await b.locator(`#m${aAnswerId} .edit-own`).count()) === 0, "B may not edit A's answer");
    await mine.locator(".edit-own summary").click();
    await mine.getByLabel("Corrected text").fill(corrected);
    await mine.getByRole("button", { name: /^Save/ }).click();
    for (const p of [a, b, r, h]) {
      await p.locator(`#m${aAnswerId} .msg-body`, { hasText: corrected }).waitFor({ timeout: 10000 });
      assert(await p.locator(`#m${aAnswerId} .msg-edited`).isVisible(), "not marked as edited");
    }
    for (const [p, n] of [[a, "A"], [r, "the reader"]]) await notReloaded(p, n);
  });

  await check("the host mutes B from B's live reply; B's next message is refused with the reason", async () => {
    const [res] = await Promise.all([
      h.waitForResponse((x) => x.url().endsWith(`${announcePath}room`) && x.request().method() === "POST"),
      h.locator(`#m${replyId}`).getByRole("button", { name: "Mute Ben Brook", exact: true }).click(),
    ]);
    assert(res.status() === 200, `muting gave ${res.status()} ${await res.text()}`);
    await b.getByLabel("Your message").fill("Can I still say something?");
    await b.getByRole("button", { name: "Send" }).click();
    await b.locator("#compose-status", { hasText: "muted" }).waitFor();
    assert((await b.getByLabel("Your message").inputValue()) !== "", "the refused text was not kept");
  });

  await check("A's connection drops; two messages sent meanwhile arrive once each, in order, after it returns", async () => {
    const ctx = a.context();
    let back, one, two;
    // The last event A had before the drop (a message's id is its event number; the hide
    // event came after B's reply), and the requests A's browser makes for the stream.
    const seen = Math.max(...(await streamIds(a)).map((id) => Number(id.slice(1))));
    const resumes = [];
    const onRequest = async (q) => {
      if (q.url().includes(`${announcePath}events`)) resumes.push((await q.allHeaders())["last-event-id"]);
    };
    a.on("request", onRequest);
    try {
      // A genuine drop: the relay resets A's open connections (the event stream among them)
      // and the browser goes offline, so its reconnection attempts fail too for a while.
      await ctx.setOffline(true);
      aRelay.cut();
      await a.locator("#conn-status", { hasText: "Connection lost" }).waitFor({ timeout: 8000 });
      assert((await a.locator("#conn-status").getAttribute("role")) === "status", "the connection notice is not a status message");
      one = await hostSays("While you were away: the first of two notes.");
      two = await hostSays("While you were away: the second of two notes.");
      await a.waitForTimeout(2500); // at least one failed reconnection attempt (retry: 2000)
      assert((await a.locator(`#m${one}`).count()) === 0, "a message arrived while offline");
    } finally {
      back = Date.now();
      aRelay.restore();
      await ctx.setOffline(false);
    }
    await a.locator(`#m${two}`).waitFor({ timeout: 10000 });
    await a.locator(`#m${one}`).waitFor({ timeout: 1000 });
    console.log(`     (A caught up ${((Date.now() - back) / 1000).toFixed(1)} s after coming back online)`);
    await a.locator("#conn-status").waitFor({ state: "hidden", timeout: 5000 });
    a.off("request", onRequest);
    // It resumed from where it was (Last-Event-ID), not from the page's first event.
    const last = resumes[resumes.length - 1];
    assert(resumes.length > 0 && Number(last) > seen, `A's browser resumed with Last-Event-ID ${JSON.stringify(resumes)} (last message seen: ${seen})`);
    const ids = await streamIds(a);
    const nums = ids.map((id) => Number(id.slice(1)));
    assert(new Set(ids).size === ids.length, `duplicate message ids: ${ids.join(" ")}`);
    assert(nums.every((n, i) => i === 0 || n > nums[i - 1]), `messages out of order: ${ids.join(" ")}`);
    assert(ids.indexOf(`m${one}`) + 1 === ids.indexOf(`m${two}`), `the two messages are not together in order: ${ids.join(" ")}`);
    const hostIds = await streamIds(h);
    assert(JSON.stringify(ids) === JSON.stringify(hostIds), `A has ${ids.join(" ")}, the host ${hostIds.join(" ")}`);
    await notReloaded(a, "A");
  });

  await check("A pauses the stream: a new message is counted, not shown, until A asks for it", async () => {
    const pause = a.locator("#pause");
    await pause.click();
    assert((await pause.getAttribute("aria-pressed")) === "true", "Pause is not pressed");
    // A toggle button keeps its name; its state is aria-pressed.
    assert((await pause.innerText()) === "Pause", `the pressed toggle is named ${JSON.stringify(await pause.innerText())}`);
    const id = await hostSays("A note that arrives while the stream is paused.");
    await a.locator("#show-new").waitFor({ timeout: 10000 });
    assert((await a.locator("#new-count").innerText()) === "1", `the counter says ${await a.locator("#new-count").innerText()}`);
    assert((await a.locator(`#m${id}`).count()) === 0, "the message is in the stream while paused");
    await a.locator("#show-new").click();
    await a.locator(`#m${id}`).waitFor();
    assert(await a.locator("#show-new").isHidden(), "the 'new' button stays after showing");
    await pause.click();
    assert((await pause.getAttribute("aria-pressed")) === "false", "Pause stays pressed after pressing it again");
    const ids = await streamIds(a);
    assert(ids[ids.length - 1] === `m${id}`, `the shown message is not last: ${ids.join(" ")}`);
  });

  await check("new messages are announced to screen readers, unless A turns that off", async () => {
    const live = a.locator("#announcer");
    assert((await live.getAttribute("aria-live")) === "polite", "#announcer is not aria-live=polite");
    // Announcements are batched for 1.5 s (a burst of more than three becomes "N new
    // messages."): let the previous steps' batch go out, then start from an empty region.
    await a.waitForTimeout(1700);
    await live.evaluate((e) => { e.textContent = ""; });
    const said = "Five minutes left on this question.";
    await hostSays(said);
    await a.waitForFunction((t) => document.getElementById("announcer").textContent.includes(t), said, { timeout: 4000 });
    const text = await live.textContent();
    assert(text.includes("Hana Host"), `the announcement does not name the author: ${JSON.stringify(text)}`);
    await a.getByLabel("Announce new messages to screen readers").uncheck();
    const quiet = "This one is not announced.";
    const id = await hostSays(quiet);
    await a.locator(`#m${id}`).waitFor();
    await a.waitForTimeout(2000);
    assert(!(await live.textContent()).includes(quiet), "announced although announcements are off");
    await a.getByLabel("Announce new messages to screen readers").check();
  });

  await check("the live room has no accessibility violations (host with moderation controls, participant, reader)", async () => {
    await h.locator(`#m${replyId}`).waitFor();
    assert((await h.locator(`#m${replyId}`).getByRole("button", { name: /^Pin/ }).count()) === 1, "no Pin button on a live message");
    await axe(h, "live room (host)");
    await axe(a, "live room (participant)");
    await axe(r, "live room (reader)");
  });

  await check("the host ends the debate; the open pages stop taking messages", async () => {
    await h.getByRole("button", { name: "End the debate" }).click();
    await h.getByRole("heading", { name: "The questions and their answers" }).waitFor();
    await a.locator("#compose-form").waitFor({ state: "hidden", timeout: 10000 });
    await a.locator("#room-state", { hasText: "Ended" }).waitFor();
  });

  await check("the transcript: no compose form, questions grouped, a chart, no accessibility violations", async () => {
    const streams = [];
    a.on("request", (q) => { if (q.url().includes(`${announcePath}events`)) streams.push(q.url()); });
    await a.reload();
    await a.getByRole("heading", { level: 1, name: `${debateTitle} – transcript` }).waitFor();
    assert((await a.locator("#compose-form").count()) === 0, "the transcript has a compose form");
    await a.getByRole("heading", { name: "The questions and their answers" }).waitFor();
    const group = a.locator("section.q-group", { has: a.getByRole("heading", { name: `Q1: ${question}` }) });
    await group.waitFor();
    const answers = await group.locator("li.msg").evaluateAll((els) => els.map((e) => e.id));
    assert(JSON.stringify(answers) === JSON.stringify([`m${aAnswerId}`, `m${bAnswerId}`]), `Q1's answers are ${answers.join(" ")}`);
    assert((await group.innerText()).includes("Hidden by a moderator"), "the hidden answer is not marked hidden");
    assert((await a.content()).includes("<svg"), "no chart on the transcript");
    await a.locator(".debate-chart svg").waitFor();
    const taking = await a.locator("#participants").innerText();
    assert(taking === "3", `${taking} taking part, not 3`);
    await axe(a, "transcript (participant)");
    // A finished debate has nothing more to send: its transcript holds no stream open.
    assert(streams.length === 0, `the transcript opened an event stream: ${streams.join(" ")}`);
    await r.reload();
    await r.getByRole("heading", { name: "The questions and their answers" }).waitFor();
    await axe(r, "transcript (reader)");
    await axe(h, "transcript (host)");
  });
} finally {
  await browser.close();
  aRelay.close();
}

console.log(`debate: ${((Date.now() - started) / 1000).toFixed(1)} s`);
finish("debate");
