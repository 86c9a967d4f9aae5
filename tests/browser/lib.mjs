// What the browser tests share: a named check that records its outcome, assert, the
// axe-core run that must find no violations, and the final tally and exit code.
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const axePath = path.join(here, "node_modules/axe-core/axe.min.js");
const results = [];

export async function check(name, fn) {
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}\n     ${String(e && e.stack || e).split("\n").slice(0, 4).join("\n     ")}`);
  }
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

export async function axe(page, label) {
  await page.addScriptTag({ path: axePath });
  const res = await page.evaluate(async () => await window.axe.run(document));
  const v = res.violations;
  for (const x of v) {
    for (const n of x.nodes.slice(0, 3)) {
      console.log(`     axe ${label} (${page.url()}): ${x.id} (${x.impact}) ${x.help}: ${n.target.join(" ")}: ${n.failureSummary.replace(/\s+/g, " ")}`);
    }
  }
  assert(v.length === 0, `${v.length} axe violation(s) on ${label}: ${v.map((x) => x.id).join(", ")}`);
}

/** Prints the tally and exits non-zero if any check failed. */
export function finish(label) {
  const passed = results.filter((r) => r[1]).length;
  const failed = results.length - passed;
  console.log(`${label}: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
