// Approves one pending approval through the gate's web page, in headless
// Chromium, the way a person would:
//
//   node tests/ui/approve.mjs BASE_URL TOKEN APPROVAL_ID [--reach|--no-reach]
//
// BASE_URL is the gate (https://127.0.0.1:8443; its self-signed certificate
// is accepted) or the mock (tests/ui/mock.mjs).  The script signs in with
// TOKEN, waits for the approval's card, checks that the headline, the
// reason of each policy that asked for review, the impact numbers, the diff
// and (when the approval has reachability changes, or with --reach) the
// reach graph are on screen, saves a screenshot to $UI_SHOT when set, writes
// a comment, clicks Approve, and checks that the card then says approved
// and that the API agrees.
//
// Environment: UI_SHOT (screenshot path; on a failure it shows the page as
// it was then), UI_COMMENT (the comment), CHROMIUM (default
// /usr/bin/chromium), UI_DEBUG (stack traces).  Every wait is bounded
// (15 s) and the whole run too (90 s).  Exit 0 on success; 1 with the
// reason on any failure; 2 for bad usage.
import { chromium } from 'playwright-core';

const WAIT_MS = 15000;
const HARD_MS = 90000;

const args = process.argv.slice(2);
const flags = args.filter(a => a.startsWith('--'));
const [base, token, id] = args.filter(a => !a.startsWith('--'));
if (!base || !token || !id || flags.some(f => f !== '--reach' && f !== '--no-reach')) {
  console.error('usage: node tests/ui/approve.mjs BASE_URL TOKEN APPROVAL_ID [--reach|--no-reach]');
  process.exit(2);
}
const root = base.replace(/\/+$/, '');
const comment = process.env.UI_COMMENT || `approved from the UI test (${new Date().toISOString()})`;

let browser = null;
const pageErrors = [];
let page = null;
let shot = false;

class Failure extends Error {}
function check(cond, what) {
  if (!cond) throw new Failure(what);
}

const hard = setTimeout(async () => {
  console.error(`ui: FAIL: the test did not finish within ${HARD_MS / 1000} s`);
  await browser?.close().catch(() => {});
  process.exit(1);
}, HARD_MS);

const sel = what => `[data-testid="${what}-${id}"]`;

// What the page says, for the failure message: notices, connection, login errors.
async function pageSays() {
  if (!page) return '';
  try {
    return await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid^="notice-"], [data-testid="conn-error"], [data-testid="login-error"]')]
        .filter(e => !e.hidden && e.textContent.trim()).map(e => `${e.dataset.testid}: ${e.textContent.trim()}`).join('; '));
  } catch { return ''; }
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: WAIT_MS,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 1000 } });
  context.setDefaultTimeout(WAIT_MS);

  // What the page should show, from the API itself.
  const auth = { Authorization: `Bearer ${token}` };
  const getApproval = async () => {
    const r = await context.request.get(`${root}/airlock/v1/approvals/${encodeURIComponent(id)}`, { headers: auth, timeout: WAIT_MS });
    const text = await r.text();
    let doc = null;
    try { doc = JSON.parse(text); } catch { /* said below */ }
    check(r.ok(), `GET /airlock/v1/approvals/${id}: ${r.status()} ${doc?.message || text.slice(0, 200)}`);
    check(doc && typeof doc === 'object', `GET /airlock/v1/approvals/${id}: not JSON`);
    return doc;
  };
  const a = await getApproval();
  check(a.state === 'pending', `approval ${id} is ${a.state}, not pending`);
  const reach = a.impact?.reachability || {};
  const hasReach = flags.includes('--reach') || (!flags.includes('--no-reach') &&
                   ((reach.added || []).length > 0 || (reach.removed || []).length > 0));

  page = await context.newPage();
  page.on('pageerror', e => pageErrors.push(e.message));
  // console errors but the browser's note of each non-2xx answer (the page shows those itself)
  page.on('console', m => {
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
  });

  const res = await page.goto(`${root}/airlock/ui/`, { timeout: WAIT_MS });
  check(res && res.ok(), `GET /airlock/ui/: ${res ? res.status() : 'no answer'}`);
  check(/text\/html/.test(res.headers()['content-type'] || ''), `GET /airlock/ui/: Content-Type ${res.headers()['content-type']}`);

  await page.getByTestId('token').fill(token);
  await page.getByTestId('sign-in').click();
  const card = page.locator(sel('approval'));
  try {
    await card.waitFor({ state: 'visible', timeout: WAIT_MS });
  } catch {
    throw new Failure(`the card of approval ${id} did not appear within ${WAIT_MS / 1000} s`);
  }

  // The headline: who wants to do what to which object.
  const headline = (await page.locator(sel('headline')).innerText()).replace(/\s+/g, ' ');
  const direct = (a.diff || []).find(c => c.cause !== 'cascade');
  const name = a.action?.name || direct?.name || a.request?.body?.metadata?.name;
  for (const part of [a.agent, a.action?.kind, name, a.action?.namespace].filter(Boolean))
    check(headline.includes(part), `the headline "${headline}" does not name ${part}`);

  // Each policy that asked for review, with its reason.
  const reasons = page.locator(sel('reasons'));
  check(await reasons.isVisible(), 'the policy reasons are not visible');
  const reasonText = (await reasons.innerText()).replace(/\s+/g, ' ');
  const asks = (a.results || []).filter(r => r.verdict && r.verdict !== 'allow');
  check(asks.length > 0, `approval ${id} has no policy that asked for review`);
  for (const r of asks) {
    check(reasonText.includes(r.policy), `the reasons do not name policy ${r.policy}: "${reasonText}"`);
    const words = (r.reason || '').replace(/\s+/g, ' ').slice(0, 60);
    check(reasonText.includes(words), `the reasons do not show ${r.policy}'s reason "${words}"`);
  }

  // The impact numbers, as the API gives them.
  check(await page.locator(sel('impact')).isVisible(), 'the impact is not visible');
  const num = v => (typeof v === 'number' ? v : 0);
  const im = a.impact || {};
  const expect = {
    pods: Math.max(num(im.pods_disrupted), num(im.instant?.pods_disrupted), num(im.settled?.pods_disrupted)),
    cost: num(im.cost?.delta),
  };
  for (const key of ['pods', 'cost', 'services', 'workloads', 'namespaces']) {
    const m = page.locator(`[data-testid="metric-${key}-${id}"]`);
    check(await m.isVisible(), `the impact number "${key}" is not visible`);
    check((await m.innerText()).trim() !== '', `the impact number "${key}" is empty`);
    if (key in expect) {
      const shown = Number(await m.getAttribute('data-value'));
      check(Math.abs(shown - expect[key]) < 1e-9, `the impact number "${key}" is ${shown}, the API says ${expect[key]}`);
    }
  }

  // The diff: every direct change (the first few) by kind and name.
  const diff = page.locator(sel('diff'));
  check(await diff.isVisible(), 'the diff is not visible');
  const diffText = (await diff.innerText()).replace(/\s+/g, ' ');
  check(diffText.toLowerCase().includes(`changes (${(a.diff || []).length})`), `the diff does not count ${(a.diff || []).length} changes`);
  for (const c of (a.diff || []).filter(c => c.cause !== 'cascade').slice(0, 5))
    check(diffText.includes(c.kind) && diffText.includes(c.namespace ? `${c.namespace}/${c.name}` : c.name),
          `the diff does not show ${c.op} ${c.kind} ${c.namespace || ''}/${c.name}`);

  // The reach graph, when paths open or close.
  const graph = page.locator(sel('reach-graph'));
  if (hasReach) {
    check(await graph.isVisible(), 'the reach graph is not visible');
    check(await graph.locator('svg').count() === 1, 'the reach graph has no SVG');
    if ((reach.added || []).length)
      check(await graph.locator('svg [data-edge="added"]').count() > 0, 'the reach graph shows no added path');
    if ((reach.removed || []).length)
      check(await graph.locator('svg [data-edge="removed"]').count() > 0, 'the reach graph shows no removed path');
  } else {
    check(await graph.count() === 0, 'a reach graph is shown for an approval without reachability changes');
  }

  if (process.env.UI_SHOT) {
    await page.evaluate(() => window.scrollTo(0, 0));   // the sticky header at the top of the full page
    await page.screenshot({ path: process.env.UI_SHOT, fullPage: true, timeout: WAIT_MS });
    shot = true;
  }

  // Decide.
  await page.locator(sel('comment')).fill(comment);
  await page.locator(sel('approve')).click();
  try {
    await page.locator(sel('state')).filter({ hasText: /^approved/ }).waitFor({ state: 'visible', timeout: WAIT_MS });
  } catch {
    const now = await page.locator(sel('state')).innerText().catch(() => '?');
    throw new Failure(`after Approve the card says "${now}", not approved`);
  }
  check(await page.locator(sel('approve')).count() === 0, 'the Approve button is still there after approving');
  const after = await getApproval();
  check(after.state === 'approved', `the API says approval ${id} is ${after.state} after approving`);
  check(after.comment === comment, `the API has the comment "${after.comment}", not "${comment}"`);
  check(pageErrors.length === 0, `the page reported errors: ${pageErrors.join('; ')}`);
  return after;
}

try {
  const after = await main();
  console.log(`ui: ok: approval ${id} approved through the page by ${after.decided_by}` +
              (process.env.UI_SHOT ? ` (screenshot ${process.env.UI_SHOT})` : ''));
  await browser.close();
  clearTimeout(hard);
  process.exit(0);
} catch (e) {
  const says = await pageSays();
  if (page && process.env.UI_SHOT && !shot)   // what the page looked like when it failed
    await page.screenshot({ path: process.env.UI_SHOT, fullPage: true, timeout: 5000 }).catch(() => {});
  const why = e instanceof Failure ? e.message
            : process.env.UI_DEBUG ? e.stack : `${e.name}: ${String(e.message).split('\n')[0]}`;
  console.error(`ui: FAIL: ${why}` + (says ? `\nui: the page says: ${says}` : '') +
                (pageErrors.length ? `\nui: page errors: ${pageErrors.join('; ')}` : ''));
  await browser?.close().catch(() => {});
  clearTimeout(hard);
  process.exit(1);
}
