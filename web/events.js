// The page's live feed, in a dedicated worker (new Worker('/ui/events.js')):
// follows GET /v1/events, first catching up (the newest events for the
// panel), then long-polling (?after=LAST&wait=S), and posts each batch to the
// page: {events: [...], first} or {status: 'live'|'offline', error}. After an
// error (the hub restarting) it tries again every RETRY ms from the last
// event it saw, so nothing is missed; `first` marks the first catch-up only
// (the page was just drawn). A hub whose event log went back (a new
// database) is followed from its newest event. A worker keeps
// the long poll off the page's thread (and out of headless Chromium's
// virtual time, which waits for the page's own pending requests).
'use strict';

const WAIT = 25;      // seconds a long poll waits (the hub allows 30)
const PAGE = 1000;    // events per catch-up request (the hub's maximum)
const RETRY = 3000;   // ms before retrying after an error

async function get(after, wait) {
  const q = new URLSearchParams({after: String(after)});
  if (wait) q.set('wait', String(wait)); else q.set('limit', String(PAGE));
  const r = await fetch('/v1/events?' + q.toString(), {cache: 'no-store', headers: {Accept: 'application/json'}});
  let body = null;
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok || !body || !Array.isArray(body.events)) throw new Error(body && body.error ? String(body.error) : 'HTTP ' + r.status);
  return body;
}

let after = 0;
let first = true;

async function follow() {
  for (;;) { // catch up
    const r = await get(after, 0);
    if (r.last < after) after = 0;   // a new event log: start it over
    if (r.events.length) postMessage({events: r.events, first});
    after = r.last;
    if (r.events.length < PAGE) break;
  }
  first = false;
  postMessage({status: 'live'});
  for (;;) {
    const r = await get(after, WAIT);
    after = r.last;
    if (r.events.length) postMessage({events: r.events});
  }
}

function run() {
  follow().catch(e => {
    postMessage({status: 'offline', error: e && e.message ? e.message : String(e)});
    setTimeout(run, RETRY);
  });
}
run();
