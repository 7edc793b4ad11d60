// The hub's marketplace page: a single-page app over the hub's JSON API
// (docs/hub-api.md), routed by the URL's hash (#/apps, #/orders?kind=..&tee=1,
// #/deal/0x.., #/task/0x..), kept current by following GET /v1/events (a
// long poll, in the worker web/events.js).
//
// Safety rule: everything that comes from the API (names, params, errors,
// results chosen by anyone) reaches the DOM as text (text nodes) or as an
// attribute set through the DOM; HTML is never built from strings. Links are
// made only from checked hex ids, or from http(s) URLs checked by URL().
'use strict';

(function () {
  const PAGE = 50;            // rows per page
  const TASKS_SHOWN = 100;    // tasks of a deal fetched for its page
  const EVENTS_SHOWN = 20;    // the live panel's length
  const HEX32 = /^0x[0-9a-fA-F]{64}$/;
  const ADDR = /^0x[0-9a-fA-F]{40}$/;
  const KINDS = ['apporder', 'datasetorder', 'workerpoolorder', 'requestorder'];
  const TAG_BITS = ['tee', 'scone', 'gramine', 'tdx'];
  const TEE_MINTAG = '0x' + '0'.repeat(63) + '1';

  const view = document.getElementById('view');
  const liveEl = document.getElementById('live');
  const eventList = document.getElementById('event-list');

  // ---- DOM helpers (text only) ----

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    append(e, kids);
    return e;
  }

  function append(e, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === null || k === undefined || k === false) continue;
      e.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
    }
  }

  function code(text) { return el('code', {class: 'hash'}, text === null || text === undefined ? '—' : String(text)); }

  // an internal link: only for ids that passed a hex check
  function idLink(kind, id) {
    const s = String(id || '');
    if (!HEX32.test(s)) return code(s || '—');
    return el('a', {href: '#/' + kind + '/' + s.toLowerCase()}, code(s));
  }

  function addrText(a) {
    const s = a === null || a === undefined ? '' : String(a);
    if (!s || /^0x0{40}$/.test(s)) return el('span', {class: 'muted'}, 'none');
    return code(s);
  }

  function badge(text, cls) { return el('span', {class: 'badge ' + (cls || '')}, text); }

  function time(t) {
    const n = Number(t);
    if (!t || !Number.isFinite(n)) return el('span', {class: 'muted'}, '—');
    const d = new Date(n * 1000);
    const s = d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
    const dt = Math.round(n - Date.now() / 1000);
    const a = Math.abs(dt);
    const span = a < 90 ? a + ' s' : a < 5400 ? Math.round(a / 60) + ' min' :
      a < 172800 ? Math.round(a / 3600) + ' h' : Math.round(a / 86400) + ' d';
    return el('span', {title: s}, s, ' ', el('span', {class: 'muted'}, dt >= 0 ? '(in ' + span + ')' : '(' + span + ' ago)'));
  }

  function table(headers, rows) {
    return el('table', null,
      el('thead', null, el('tr', null, headers.map(h => el('th', null, h)))),
      el('tbody', null, rows.map(r => el('tr', null, r.map(c => el('td', null, c))))));
  }

  function kv(pairs) {
    return el('dl', {class: 'kv'}, pairs.filter(p => p).map(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
  }

  function errorBox(e) { return el('p', {class: 'error'}, 'Error: ' + (e && e.message ? e.message : String(e))); }

  // tag: a bytes32 hex string (or a number); bit 0 is TEE
  function tagBits(tag) {
    if (typeof tag === 'number') return BigInt(tag);
    const s = String(tag || '0');
    try { return BigInt(/^0x[0-9a-fA-F]*$/.test(s) ? (s.length > 2 ? s : '0x0') : s); } catch (_) { return 0n; }
  }
  function tagView(tag) {
    const b = tagBits(tag);
    if (b === 0n) return el('span', {class: 'muted'}, 'none');
    const names = TAG_BITS.filter((_, i) => (b >> BigInt(i)) & 1n);
    const known = TAG_BITS.reduce((m, _, i) => m | (1n << BigInt(i)), 0n);
    if (b & ~known) names.push('0x' + b.toString(16));
    return names.map((n, i) => [i ? ' ' : '', badge(n, n === 'tee' ? 'tee' : '')]);
  }

  // a results location: a link for http(s) URLs, text otherwise
  function resultsView(v) {
    if (v === null || v === undefined || v === '') return el('span', {class: 'muted'}, 'none yet');
    const s = String(v);
    try {
      const u = new URL(s);
      if (u.protocol === 'http:' || u.protocol === 'https:')
        return el('a', {href: u.href, rel: 'noopener noreferrer', target: '_blank'}, s);
    } catch (_) { /* not a URL */ }
    return code(s);
  }

  // ---- the API ----

  async function api(path) {
    const r = await fetch(path, {headers: {Accept: 'application/json'}, cache: 'no-store'});
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    if (!r.ok) throw new Error(body && body.error ? String(body.error) : 'HTTP ' + r.status);
    return body;
  }

  function qs(params) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
    const s = p.toString();
    return s ? '?' + s : '';
  }

  function pager(route, params, offset, count, total) {
    const prev = Math.max(0, offset - PAGE), next = offset + PAGE;
    return el('div', {class: 'pager'},
      offset > 0 ? el('a', {href: '#/' + route + qs({...params, offset: prev})}, '← previous') : null,
      el('span', {class: 'muted'}, total ? (offset + 1) + '–' + (offset + count) + ' of ' + total : 'none'),
      next < total ? el('a', {href: '#/' + route + qs({...params, offset: next})}, 'next →') : null);
  }

  function intParam(params, key) {
    const n = Number.parseInt(params.get(key) || '0', 10);
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  // ---- views: each returns a node (or throws) ----

  async function homeView() {
    const [apps, datasets, pools, deals, book] = await Promise.all([
      api('/v1/apps?limit=1'), api('/v1/datasets?limit=1'), api('/v1/workerpools?limit=1'),
      api('/v1/deals?limit=1'), api('/v1/orders')]);
    const card = (href, n, label) => el('a', {class: 'card', href}, el('strong', null, String(n)), label);
    return el('section', null, el('h2', null, 'Marketplace'),
      el('div', {class: 'cards'},
        card('#/apps', apps.total, 'apps'), card('#/datasets', datasets.total, 'datasets'),
        card('#/workerpools', pools.total, 'workerpools'), card('#/orders', book.count, 'open orders'),
        card('#/deals', deals.total, 'deals')));
  }

  const RESOURCES = {
    apps: {label: 'Apps', order: 'apporder', filter: 'app'},
    datasets: {label: 'Datasets', order: 'datasetorder', filter: 'dataset'},
    workerpools: {label: 'Workerpools', order: 'workerpoolorder', filter: 'workerpool'},
  };

  async function resourcesView(kind, params) {
    const info = RESOURCES[kind];
    const offset = intParam(params, 'offset');
    const owner = params.get('owner') || '';
    const list = await api('/v1/' + kind + qs({offset, limit: PAGE, owner: ADDR.test(owner) ? owner : ''}));
    const items = list[kind] || [];
    const headers = ['Name', 'Address', 'Owner', kind === 'workerpools' ? null : 'Multiaddr',
      kind === 'apps' ? 'TEE measurement' : null, 'Created', 'Orders'].filter(h => h);
    const rows = items.map(r => [
      el('span', {class: 'name'}, r.name), code(r.address), code(r.owner),
      kind === 'workerpools' ? null : el('span', {class: 'hash'}, r.multiaddr || '—'),
      kind === 'apps' ? (r.measurement ? [badge('tee', 'tee'), ' ', code(r.measurement)] : el('span', {class: 'muted'}, 'none')) : null,
      time(r.created),
      ADDR.test(String(r.address)) ? el('a', {href: '#/orders' + qs({kind: info.order, [info.filter]: r.address})}, 'orders') : '—',
    ].filter(c => c !== null));
    return el('section', null, el('h2', null, info.label),
      owner ? el('p', {class: 'muted'}, 'Owner ', code(owner), ' · ', el('a', {href: '#/' + kind}, 'all owners')) : null,
      items.length ? table(headers, rows) : el('p', {class: 'muted'}, 'No ' + kind + ' on this hub yet.'),
      pager(kind, owner ? {owner} : {}, offset, items.length, list.total));
  }

  function orderResource(o, kind) {
    if (kind === 'apporder') return ['app ', code(o.app)];
    if (kind === 'datasetorder') return ['dataset ', code(o.dataset)];
    if (kind === 'workerpoolorder') return ['pool ', code(o.workerpool)];
    return ['app ', code(o.app)];
  }

  function orderPrice(o, kind) {
    if (kind === 'apporder') return o.appprice;
    if (kind === 'datasetorder') return o.datasetprice;
    if (kind === 'workerpoolorder') return o.workerpoolprice;
    return o.workerpoolmaxprice;
  }

  async function ordersView(params) {
    const kind = KINDS.includes(params.get('kind')) ? params.get('kind') : '';
    const tee = params.get('tee') === '1';
    const all = params.get('all') === '1';
    const filters = {};
    for (const k of ['app', 'dataset', 'workerpool', 'requester'])
      if (ADDR.test(params.get(k) || '')) filters[k] = params.get(k);
    const book = await api('/v1/orders' + qs({kind, mintag: tee ? TEE_MINTAG : '', all: all ? '1' : '', ...filters}));
    const go = (change) => {
      const p = {kind, tee: tee ? '1' : '', all: all ? '1' : '', ...filters, ...change};
      location.hash = '#/orders' + qs(p);
    };
    const kindSel = el('select', {id: 'order-kind', on: {change: e => go({kind: e.target.value})}},
      el('option', {value: ''}, 'all kinds'), KINDS.map(k => el('option', {value: k, selected: k === kind}, k)));
    const teeBox = el('input', {type: 'checkbox', id: 'order-tee', checked: tee, on: {change: e => go({tee: e.target.checked ? '1' : ''})}});
    const allBox = el('input', {type: 'checkbox', id: 'order-all', checked: all, on: {change: e => go({all: e.target.checked ? '1' : ''})}});
    const orders = book.orders || [];
    const rows = orders.map(e => {
      const o = e.order || {};
      return [idLink('order', e.orderHash), e.kind, orderResource(o, e.kind), String(orderPrice(o, e.kind) ?? '—'),
        String(e.remaining) + ' / ' + String(o.volume ?? '?'), tagView(o.tag),
        o.category !== undefined ? String(o.category) : '—', code(e.signer), time(e.publicationTimestamp)];
    });
    return el('section', null, el('h2', null, 'Order book'),
      el('div', {class: 'filters'},
        el('label', null, 'Kind ', kindSel),
        el('label', null, teeBox, ' TEE only (tag bit 0)'),
        el('label', null, allBox, ' include closed'),
        Object.keys(filters).length ? el('span', null, Object.entries(filters).map(([k, v]) => [k, ' ', code(v), ' ']),
          el('a', {href: '#/orders' + qs({kind, tee: tee ? '1' : ''})}, 'clear')) : null),
      el('p', {class: 'muted', id: 'order-count'}, book.count + (book.count === 1 ? ' order' : ' orders') + (tee ? ' (TEE only)' : '')),
      orders.length ? table(['Order hash', 'Kind', 'Resource', 'Price (max)', 'Remaining', 'Tag', 'Category', 'Signer', 'Published'], rows)
        : el('p', {class: 'muted'}, 'No open orders match.'));
  }

  async function orderView(id) {
    if (!HEX32.test(id)) throw new Error('not an order hash: ' + id);
    const e = await api('/v1/orders/' + encodeURIComponent(id));
    const o = e.order || {};
    return el('section', null, el('h2', null, 'Order'),
      kv([['Order hash', code(e.orderHash)], ['Kind', e.kind], ['Signer', code(e.signer)],
        ['Remaining', String(e.remaining)], ['Published', time(e.publicationTimestamp)], ['Tag', tagView(o.tag)]]),
      el('h2', null, 'Fields'),
      kv(Object.entries(o).map(([k, v]) => [k, typeof v === 'object' ? el('pre', {class: 'text'}, JSON.stringify(v, null, 2)) : code(v)])));
  }

  async function dealsView(params) {
    // newest first: the API pages oldest first, so start from the end
    const head = await api('/v1/deals?limit=1');
    const total = head.total;
    const back = intParam(params, 'offset');       // deals skipped from the newest
    const offset = Math.max(0, total - back - PAGE);
    const limit = Math.max(1, Math.min(PAGE, total - back));
    const list = total > back ? await api('/v1/deals' + qs({offset, limit})) : {deals: []};
    const deals = (list.deals || []).slice().reverse();
    const rows = deals.map(d => [idLink('deal', d.dealid), code(d.app && d.app.pointer), addrText(d.dataset && d.dataset.pointer),
      code(d.workerpool && d.workerpool.pointer), code(d.requester), String(d.botSize),
      tagView(d.tag), String(d.categoryName || d.category), time(d.startTime)]);
    return el('section', null, el('h2', null, 'Deals'),
      deals.length ? table(['Deal', 'App', 'Dataset', 'Workerpool', 'Requester', 'Tasks', 'Tag', 'Category', 'Start'], rows)
        : el('p', {class: 'muted'}, 'No deals yet.'),
      el('div', {class: 'pager'},
        back > 0 ? el('a', {href: '#/deals' + qs({offset: Math.max(0, back - PAGE)})}, '← newer') : null,
        el('span', {class: 'muted'}, total ? total + ' deals' : ''),
        back + PAGE < total ? el('a', {href: '#/deals' + qs({offset: back + PAGE})}, 'older →') : null));
  }

  function taskRow(t) {
    return [String(t.idx), idLink('task', t.taskid), badge(t.status, t.status), time(t.contributionDeadline), time(t.finalDeadline),
      t.lease ? code(t.lease.holder) : el('span', {class: 'muted'}, 'none'), t.error ? el('span', {class: 'error'}, t.error) : '—'];
  }

  async function dealView(id) {
    if (!HEX32.test(id)) throw new Error('not a deal id: ' + id);
    const d = await api('/v1/deals/' + encodeURIComponent(id));
    const ids = Object.entries(d.tasks || {}).sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([, t]) => String(t)).filter(t => HEX32.test(t)).slice(0, TASKS_SHOWN);
    const tasks = await Promise.all(ids.map(t => api('/v1/tasks/' + t).catch(e => ({taskid: t, status: '?', error: e.message}))));
    const ord = d.orders || {};
    return el('section', null, el('h2', null, 'Deal'),
      kv([['Deal id', code(d.dealid)], ['App', [code(d.app && d.app.pointer), ' price ', String(d.app && d.app.price)]],
        ['Dataset', [addrText(d.dataset && d.dataset.pointer), ' price ', String(d.dataset && d.dataset.price)]],
        ['Workerpool', [code(d.workerpool && d.workerpool.pointer), ' price ', String(d.workerpool && d.workerpool.price)]],
        ['Requester', code(d.requester)], ['Beneficiary', addrText(d.beneficiary)], ['Tag', tagView(d.tag)],
        ['Trust', String(d.trust)], ['Category', String(d.categoryName || d.category)], ['Start', time(d.startTime)],
        ['Tasks', String(d.botSize)], ['Params', d.params ? el('pre', {class: 'text'}, String(d.params)) : el('span', {class: 'muted'}, 'none')],
        ['Orders', el('ul', null, KINDS.map(k => el('li', null, k + ' ', ord[k] ? idLink('order', ord[k]) : el('span', {class: 'muted'}, 'none'))))]]),
      el('h2', null, 'Tasks'),
      table(['#', 'Task', 'Status', 'Contribution deadline', 'Final deadline', 'Lease', 'Error'], tasks.map(taskRow)),
      ids.length < Number(d.botSize) ? el('p', {class: 'muted'}, 'First ' + ids.length + ' tasks shown.') : null);
  }

  async function taskView(id) {
    if (!HEX32.test(id)) throw new Error('not a task id: ' + id);
    const t = await api('/v1/tasks/' + encodeURIComponent(id));
    return el('section', {id: 'task'}, el('h2', null, 'Task ', badge(t.status, t.status)),
      kv([['Status', el('span', {id: 'task-status'}, t.status)], ['Task id', code(t.taskid)], ['Deal', idLink('deal', t.dealid)],
        ['Index', String(t.idx)], ['Workerpool', code(t.workerpool)], ['Requester', code(t.requester)],
        ['Beneficiary', addrText(t.beneficiary)], ['Tag', tagView(t.tag)], ['Start', time(t.startTime)],
        ['Contribution deadline', time(t.contributionDeadline)], ['Final deadline', time(t.finalDeadline)],
        ['Lease', t.lease ? [code(t.lease.holder), ' until ', time(t.lease.until)] : el('span', {class: 'muted'}, 'none')],
        ['Error', t.error ? el('pre', {class: 'text error', id: 'task-error'}, String(t.error)) : el('span', {class: 'muted'}, 'none')],
        ['Results', el('span', {id: 'task-results'}, resultsView(t.results))],
        ['Worker', addrText(t.worker)], ['Result digest', code(t.resultDigest)],
        t.resultHash ? ['Result hash', code(t.resultHash)] : null, t.resultSeal ? ['Result seal', code(t.resultSeal)] : null,
        t.finalTime ? ['Final time', time(t.finalTime)] : null]));
  }

  // ---- the router ----

  let current = {route: '', arg: ''};
  let renderSeq = 0;

  function parseHash() {
    const h = location.hash.replace(/^#\/?/, '');
    const q = h.indexOf('?');
    const path = q < 0 ? h : h.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
    const [route, arg] = path.split('/');
    return {route: route || '', arg: arg || '', params};
  }

  async function render() {
    const seq = ++renderSeq;
    const {route, arg, params} = parseHash();
    current = {route, arg};
    for (const a of document.querySelectorAll('#nav a'))
      a.classList.toggle('active', a.getAttribute('data-route') === route);
    let node;
    try {
      if (route === '') node = await homeView();
      else if (RESOURCES[route]) node = await resourcesView(route, params);
      else if (route === 'orders') node = await ordersView(params);
      else if (route === 'order') node = await orderView(arg);
      else if (route === 'deals') node = await dealsView(params);
      else if (route === 'deal') node = await dealView(arg);
      else if (route === 'task') node = await taskView(arg);
      else node = el('p', {class: 'error'}, 'No such page: ', route);
    } catch (e) {
      node = errorBox(e);
    }
    if (seq === renderSeq) view.replaceChildren(node);
  }

  // ---- live updates: GET /v1/events, long-polled ----

  let refreshTimer = null;
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(render, 300);
  }

  function affects(events) {
    const {route, arg} = current;
    if (route === 'task') return events.some(e => String(e.taskid).toLowerCase() === arg.toLowerCase());
    if (route === 'deal') return events.some(e => String(e.dealid).toLowerCase() === arg.toLowerCase());
    if (route === 'order') return events.some(e => String(e.orderHash).toLowerCase() === arg.toLowerCase());
    return route === '' || route === 'deals' || route === 'orders';
  }

  function showEvents(events) {
    for (const e of events) {
      const what = e.taskid ? idLink('task', e.taskid) : e.orderHash ? idLink('order', e.orderHash) : idLink('deal', e.dealid);
      eventList.prepend(el('li', null, badge(e.type, ''), ' ', what, ' ', time(e.time)));
    }
    while (eventList.children.length > EVENTS_SHOWN) eventList.lastElementChild.remove();
  }

  function setLive(text, cls) {
    liveEl.textContent = text;
    liveEl.className = 'live ' + cls;
  }

  // the long poll runs in a worker (web/events.js), which posts each batch
  function follow() {
    let worker;
    try {
      worker = new Worker('/ui/events.js');
    } catch (e) {
      setLive('live: unavailable (' + (e && e.message ? e.message : e) + ')', 'off');
      return;
    }
    worker.addEventListener('message', m => {
      const d = m.data || {};
      if (d.status === 'live') setLive('live', 'on');
      else if (d.status === 'offline') setLive('live: offline (' + String(d.error) + '), retrying', 'off');
      if (Array.isArray(d.events) && d.events.length) {
        showEvents(d.events);
        if (!d.catchup && affects(d.events)) refreshSoon();
      }
    });
  }

  document.getElementById('task-form').addEventListener('submit', e => {
    e.preventDefault();
    const v = document.getElementById('task-id').value.trim();
    if (HEX32.test(v)) location.hash = '#/task/' + v.toLowerCase();
    else view.replaceChildren(el('p', {class: 'error'}, 'A task id is 0x and 64 hex digits.'));
  });
  window.addEventListener('hashchange', render);
  render();
  follow();
})();
