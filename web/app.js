// The hub's marketplace page: a single-page app over the hub's JSON API
// (docs/hub-api.md), routed by the URL's hash (#/apps, #/app/0x..,
// #/orders?kind=..&tags=tee, #/deal/0x.., #/task/0x.., #/account/0x..,
// #/search?q=..), its views in web/pages.js, its building blocks in
// web/ui.js, and kept current by following GET /v1/events (a long poll, in
// the worker web/events.js): every page is drawn again, in place, when an
// event concerns it, and after the hub comes back from a restart.
'use strict';

(function () {
  const U = window.CellaUI, P = window.CellaPages;
  const EVENTS_SHOWN = 20;    // the live panel's length
  const view = document.getElementById('view');
  const liveEl = document.getElementById('live');
  const eventList = document.getElementById('event-list');
  const {el} = U;

  async function api(path) {
    const r = await fetch(path, {headers: {Accept: 'application/json'}, cache: 'no-store'});
    U.setSkew(r.headers.get('Date'));
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    if (!r.ok) throw new Error(body && body.error ? String(body.error) : 'HTTP ' + r.status);
    return body;
  }
  P.setApi(api);

  // ---- the router ----

  let current = {route: '', arg: ''};
  let renderSeq = 0, renders = 0;

  function parseHash() {
    const h = location.hash.replace(/^#\/?/, '');
    const q = h.indexOf('?');
    const path = q < 0 ? h : h.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
    const [route, arg] = path.split('/');
    return {route: route || '', arg: (arg || '').toLowerCase(), params};
  }

  const NAV = {app: 'apps', dataset: 'datasets', workerpool: 'workerpools', order: 'orders', deal: 'deals', task: 'deals'};

  function page(route, arg, params) {
    if (route === '') return P.home();
    if (P.RES[route]) return P.resources(route, params);
    if (route === 'app' || route === 'dataset' || route === 'workerpool') return P.resource(route, arg);
    if (route === 'orders') return P.orders(params);
    if (route === 'order') return P.order(arg);
    if (route === 'deals') return P.deals(params);
    if (route === 'deal') return P.deal(arg, params);
    if (route === 'task') return P.task(arg);
    if (route === 'account') return P.account(arg, params);
    if (route === 'search') return P.search(params);
    return Promise.resolve(el('p', {class: 'error'}, 'No such page: ', route));
  }

  // live: true when an event redraws the page the reader is on (keep focus and scroll)
  async function render(live) {
    const seq = ++renderSeq;
    const {route, arg, params} = parseHash();
    const moved = route !== current.route || arg !== current.arg;
    current = {route, arg};
    for (const a of document.querySelectorAll('#nav a')) {
      const on = a.getAttribute('data-route') === (NAV[route] || route);
      a.classList.toggle('active', on);
      if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    let node;
    try {
      node = await page(route, arg, params);
    } catch (e) {
      node = el('p', {class: 'error', role: 'alert'}, 'Error: ' + (e && e.message ? e.message : String(e)));
    }
    if (seq !== renderSeq) return;
    const focused = document.activeElement && view.contains(document.activeElement) && document.activeElement.id;
    const y = window.scrollY;
    view.replaceChildren(node);
    if (live) {
      window.scrollTo(0, y);
      if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    } else if (moved) {
      document.title = 'cella hub: ' + (route || 'marketplace') + (arg ? ' ' + arg.slice(0, 10) + '…' : '');
    }
    try { await U.fillNames(api); } catch (_) { /* names are a nicety: the short addresses stay */ }
    // drawn, names and all: what tests (and anyone scripting the page) wait for
    if (seq === renderSeq) view.setAttribute('data-renders', String(++renders));
  }

  // ---- live updates: GET /v1/events, long-polled in a worker ----

  // Redraws follow events at most every 300 ms on a task, deal or order page
  // and every 2 s on the others (a busy hub sends events all the time), and
  // wait while the reader is typing in a field of the page (a redraw would
  // drop what they typed).
  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    const quick = ['task', 'deal', 'order'].includes(current.route);
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      const a = document.activeElement;
      if (a && view.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)) refreshSoon();
      else render(true);
    }, quick ? 300 : 2000);
  }

  const same = (a, b) => String(a || '').toLowerCase() === b;
  function affects(events) {
    const {route, arg} = current;
    if (route === 'task') return events.some(e => same(e.taskid, arg));
    if (route === 'deal') return events.some(e => same(e.dealid, arg));
    if (route === 'order') return events.some(e => same(e.orderHash, arg) || (e.orders && Object.values(e.orders).some(h => same(h, arg))));
    if (route === 'workerpool') return events.some(e => same(e.workerpool, arg) || e.type === 'deal-created' || e.orderHash);
    return true;   // lists, resources and accounts: any change may show
  }

  function showEvents(events) {
    for (const e of events) {
      const what = e.taskid ? U.hash(e.taskid, 'task') : e.orderHash ? U.hash(e.orderHash, 'order') : U.hash(e.dealid, 'deal');
      eventList.prepend(el('li', null, el('span', {class: 'badge'}, String(e.type)), ' ', what, ' ', U.time(e.time)));
    }
    while (eventList.children.length > EVENTS_SHOWN) eventList.lastElementChild.remove();
    document.getElementById('event-count').textContent = String(eventList.children.length);
  }

  function setLive(text, cls) {
    liveEl.textContent = text;
    liveEl.className = 'live ' + cls;
  }

  function follow() {
    let worker;
    try {
      worker = new Worker('/ui/events.js');
    } catch (e) {
      setLive('live: unavailable', 'off');
      return;
    }
    let wasOffline = false;
    worker.addEventListener('message', m => {
      const d = m.data || {};
      if (d.status === 'live') {
        setLive('● live', 'on');
        if (wasOffline) refreshSoon();   // back after a restart: what changed meanwhile
        wasOffline = false;
      } else if (d.status === 'offline') {
        setLive('○ offline, retrying', 'off');
        liveEl.title = String(d.error);
        wasOffline = true;
      }
      if (Array.isArray(d.events) && d.events.length) {
        showEvents(d.events);
        if (!d.first && affects(d.events)) refreshSoon();
      }
    });
  }

  // ---- search, copy buttons ----

  document.getElementById('search-form').addEventListener('submit', async e => {
    e.preventDefault();
    const q = document.getElementById('search-q').value.trim();
    if (!q) return;
    try {
      const r = await api('/v1/search' + P.qs({q}));
      const hits = r.results || [];
      const h = hits.length === 1 || (hits.length === 2 && hits[1].kind === 'account') ? hits[0] : null;
      location.hash = h && (U.HEX32.test(h.id) || U.ADDR.test(h.id)) ? '#/' + h.kind + '/' + h.id.toLowerCase() : '#/search' + P.qs({q});
    } catch (err) {
      view.replaceChildren(el('p', {class: 'error', role: 'alert'}, 'Search: ' + err.message));
    }
  });

  document.addEventListener('click', e => {
    const b = e.target.closest && e.target.closest('button.copy');
    if (!b) return;
    U.copy(b.getAttribute('data-copy')).then(() => {
      b.textContent = '✓';
      b.classList.add('done');
      setTimeout(() => { b.textContent = '❐'; b.classList.remove('done'); }, 1200);
    }, () => { b.textContent = '✗'; });
  });

  window.addEventListener('hashchange', () => render(false));
  render(false);
  follow();
})();
