// A stand-in for the gate's approvals API, for working on the page
// (gate/server/ui/index.html) and testing it without the C server:
//
//   node tests/ui/mock.mjs PORT [TOKEN]
//
// Plain HTTP on 127.0.0.1:PORT (0: any free port; the line
// "mock: listening on http://127.0.0.1:N" says which).  It serves
// gate/server/ui/index.html at /airlock/ui/ (read again on every request, so an edit
// shows on reload) and /airlock/v1/* in memory from fixtures/ (made by
// fixtures/make.mjs from real `gate check` runs).  TOKEN (default
// "mock-approver-token") is alice, an approver; "mock-agent-token" is the
// agent ops-bot, refused with 403 as the gate refuses agents.  Approving
// 8c21d7e0a9b3 the first time answers 409, as the gate does when the
// action's impact changed since it was requested: the approval is pending
// again with "previous".  Times are moved so the newest request is a minute old.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const PAGE = join(here, '..', '..', 'gate', 'ui', 'index.html');
const port = Number(process.argv[2] ?? 8480);
const approverToken = process.argv[3] || 'mock-approver-token';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node tests/ui/mock.mjs PORT [TOKEN]');
  process.exit(2);
}
const users = new Map([[approverToken, { name: 'alice', role: 'approver' }],
                       ['mock-agent-token', { name: 'ops-bot', role: 'agent' }]]);

const fx = JSON.parse(readFileSync(join(here, 'fixtures', 'approvals.json'), 'utf8'));
const audit = JSON.parse(readFileSync(join(here, 'fixtures', 'decisions.json'), 'utf8')).items;
const now = () => Date.now() / 1000;
const shift = now() - 60 - Math.max(...fx.approvals.map(a => a.requested_at));
const approvals = fx.approvals.map(a => {
  for (const k of ['requested_at', 'expires_at', 'decided_at']) if (k in a) a[k] += shift;
  return a;
});
const repend = fx.repend;   // id -> {impact, diff, changed}: the first approve finds the impact changed
for (const e of audit) e.time += shift;
let seq = 0;
let freeze = { frozen: false };

// An audit record's summary, as the gate lists them (fields it lacks are null).
function record(type, fields) {
  audit.unshift({ id: `mock${String(++seq).padStart(12, '0')}`, time: now(), type, agent: null, verdict: null,
                  message: null, action: { verb: null, kind: null, namespace: null, name: null }, approval_id: null,
                  ...fields });
}
const act = a => ({ verb: a.action.verb, kind: a.action.kind, namespace: a.action.namespace ?? null, name: a.action.name ?? null });

// Pending or approved past its time: expired, as the gate's store settles them.
function settle(a) {
  if ((a.state === 'pending' || a.state === 'approved') && now() > a.expires_at) a.state = 'expired';
  return a;
}

function send(res, code, doc) {
  const text = JSON.stringify(doc);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(text);
}
const REASONS = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
                  409: 'Conflict', 410: 'Gone', 413: 'RequestEntityTooLarge' };
function status(res, code, message) {
  send(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message,
                    reason: REASONS[code] || 'InternalError', code });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', c => {
      n += c.length;
      if (n > 1 << 20) { reject(Object.assign(new Error('request body too large'), { code: 413 })); req.destroy(); }
      else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text.trim()) return resolve({});
      try { resolve(JSON.parse(text)); }
      catch (e) { reject(Object.assign(new Error(`request body is not JSON: ${e.message}`), { code: 400 })); }
    });
    req.on('error', reject);
  });
}

function decide(res, user, a, approve, comment) {
  if (typeof comment !== 'string') return status(res, 400, 'comment must be a string');
  settle(a);
  if (a.state === 'expired') return status(res, 410, `approval ${a.id} expired unanswered`);
  if (a.state !== 'pending')
    return status(res, 409, `approval ${a.id} is already ${a.state}${a.decided_by ? ' by ' + a.decided_by : ''}`);
  const r = repend[a.id];
  if (approve && r) {
    delete repend[a.id];
    a.previous = { impact: a.impact, diff: a.diff };
    a.impact = r.impact;
    a.diff = r.diff;
    a.changed = r.changed;
    a.expires_at = now() + 3600;
    record('approval', { agent: user.name, verdict: 'repending', approval_id: a.id, action: act(a) });
    return status(res, 409, `airlock: the action's impact changed since it was requested (${r.changed}): ` +
                            `approval ${a.id} is pending again, with both impacts`);
  }
  a.state = approve ? 'approved' : 'denied';
  a.decided_by = user.name;
  a.decided_at = now();
  a.comment = comment;
  if (approve) a.expires_at = now() + 600;
  record('approval', { agent: user.name, verdict: a.state, approval_id: a.id, action: act(a) });
  send(res, 200, a);
}

async function api(req, res, url) {
  const auth = req.headers.authorization || '';
  const user = auth.startsWith('Bearer ') ? users.get(auth.slice(7)) : undefined;
  if (!user) return status(res, 401, 'Unauthorized: a valid bearer token is required');
  const path = url.pathname.slice('/airlock/v1/'.length).split('/');
  const m = req.method;
  if (path[0] === 'whoami' && path.length === 1 && m === 'GET') return send(res, 200, user);
  if (user.role !== 'approver')
    return status(res, 403, `airlock: ${user.name} is an agent: only an approver's token may use ${url.pathname} ` +
                            '(an agent can never approve)');

  if (path[0] === 'approvals') {
    if (path.length === 1 && m === 'GET') {
      const state = url.searchParams.get('state') || 'all';
      if (!['pending', 'approved', 'denied', 'expired', 'used', 'all'].includes(state))
        return status(res, 400, `unknown state "${state}": pending, approved, denied, expired, used or all`);
      const items = approvals.map(settle).filter(a => state === 'all' || a.state === state)
                             .sort((x, y) => y.requested_at - x.requested_at);
      return send(res, 200, { items });
    }
    const a = approvals.find(x => x.id === path[1]);
    if (!a) return status(res, 404, `approval ${path[1]} not found`);
    if (path.length === 2 && m === 'GET') return send(res, 200, settle(a));
    if (path.length === 3 && (path[2] === 'approve' || path[2] === 'deny')) {
      if (m !== 'POST') return status(res, 405, `${m} is not allowed here: POST`);
      const body = await readBody(req);
      return decide(res, user, a, path[2] === 'approve', body.comment ?? '');
    }
  }
  if (path[0] === 'decisions' && path.length === 1 && m === 'GET') {
    const n = Number(url.searchParams.get('limit') ?? 50);
    const limit = n > 0 && n <= 200 ? n : 200;
    return send(res, 200, { items: audit.slice(0, limit) });
  }
  if (path[0] === 'freeze' && path.length === 1 && m === 'GET') return send(res, 200, freeze);
  if ((path[0] === 'freeze' || path[0] === 'thaw') && path.length === 1 && m === 'POST') {
    const body = await readBody(req);
    if (path[0] === 'freeze') {
      if (body.reason != null && typeof body.reason !== 'string') return status(res, 400, '"reason" must be a string');
      freeze = { frozen: true, reason: body.reason || 'frozen by an approver', by: user.name, since: now() };
      record('freeze', { agent: user.name, verdict: 'frozen' });
    } else {
      freeze = { frozen: false };
      record('thaw', { agent: user.name, verdict: 'thawed' });
    }
    return send(res, 200, freeze);
  }
  return status(res, 404, `no such API: ${m} ${url.pathname}`);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://mock');
  if (process.env.MOCK_LOG) console.log(req.method, req.url);
  try {
    if (url.pathname === '/airlock/ui' || url.pathname === '/') {
      res.writeHead(302, { Location: '/airlock/ui/' });
      return res.end();
    }
    if (url.pathname === '/airlock/ui/') {
      if (req.method !== 'GET') return status(res, 405, 'GET only');
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      return res.end(readFileSync(PAGE));
    }
    if (url.pathname.startsWith('/airlock/v1/')) return await api(req, res, url);
    return status(res, 404, `not found: ${url.pathname}`);
  } catch (e) {
    return status(res, e.code >= 400 && e.code < 500 ? e.code : 500, e.message);
  }
});
server.listen(port, '127.0.0.1', () => {
  console.log(`mock: listening on http://127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
