// Accounts in headless Chromium: the sign-in, registration and password pages pass axe-core;
// a visitor signs in through the "Sign in with Example ID" button of a real OpenID Connect
// provider on loopback (its own login form), lands back signed in, and the account and
// devices pages pass axe-core too.
// Usage: node accounts.mjs BASE_URL
import { chromium } from "playwright-core";
import { assert, axe, check, finish } from "./lib.mjs";

const [base] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const started = Date.now();

try {
  const ctx = await browser.newContext({ bypassCSP: true });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);

  for (const [path, heading] of [["/sign-in", "Sign in"], ["/register", "Create an account"], ["/password/forgot", "Forgot your password?"]]) {
    await check(`${path} is labelled and passes axe-core`, async () => {
      await page.goto(`${base}${path}`);
      await page.getByRole("heading", { level: 1, name: heading }).waitFor();
      await axe(page, path);
    });
  }

  await check("a visitor signs in with the provider's button and comes back signed in", async () => {
    await page.goto(`${base}/sign-in`);
    await page.getByRole("link", { name: "Sign in with Example ID" }).click();
    // The provider's own page.
    await page.getByLabel("Email").fill("chroma@example.org");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((u) => u.toString().startsWith(base), { timeout: 15000 });
    await page.goto(`${base}/account`);
    await page.getByRole("heading", { level: 1, name: "Your account" }).waitFor();
    const text = await page.textContent("main");
    assert(text.includes("chroma@example.org"), "the account page does not show the address");
    assert(text.includes("Example ID"), "the provider is not listed among the ways to sign in");
  });

  await check("the account page passes axe-core and works from the keyboard", async () => {
    await axe(page, "/account");
    await page.getByLabel("Name").focus();
    await page.keyboard.press("Control+A");
    await page.keyboard.type("Chroma Reader");
    await page.keyboard.press("Enter");
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  });

  await check("the devices page lists this browser and passes axe-core", async () => {
    await page.goto(`${base}/account/sessions`);
    await page.getByRole("table", { name: "Where you are signed in" }).waitFor();
    assert((await page.textContent("table")).includes("(this device)"), "this device is not marked");
    await axe(page, "/account/sessions");
  });
} finally {
  await browser.close();
}
console.log(`accounts: ${((Date.now() - started) / 1000).toFixed(1)} s`);
finish("accounts");
