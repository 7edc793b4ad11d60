// The page's building blocks (loaded first; web/pages.js and web/app.js use
// them through window.CellaUI): DOM helpers, ids shortened with a copy
// button, names beside addresses, times, prices, tags, and the one mapping
// from a task to the words and colours every page shows for it.
//
// Safety rule: everything that comes from the API (names, params, errors,
// results chosen by anyone) reaches the DOM as text (text nodes) or as an
// attribute set through the DOM; HTML is never built from strings. Links are
// made only from checked hex ids, or from http(s) URLs checked by URL().
'use strict';

window.CellaUI = (function () {
  const HEX32 = /^0x[0-9a-fA-F]{64}$/;
  const ADDR = /^0x[0-9a-fA-F]{40}$/;
  const ZERO = /^0x0{40}$/;
  const TAG_NAMES = ['TEE', 'SCONE', 'Gramine', 'TDX'];   // tag bits 0..3
  let skew = 0;   // the hub's clock minus ours, in ms (from its Date header)

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

  const muted = (t) => el('span', {class: 'muted'}, t);
  const str = (v) => v === null || v === undefined ? '' : String(v);

  // ---- ids: shortened, full value on hover, a copy button ----

  function short(s) { return s.length > 18 ? s.slice(0, 8) + '…' + s.slice(-6) : s; }

  function copyButton(full) {
    return el('button', {type: 'button', class: 'copy', 'data-copy': full, title: 'Copy ' + full,
      'aria-label': 'Copy ' + full}, '❐');
  }

  // an id: `route` (deal, task, order, app, ...) makes it a link to its page
  function hash(v, route) {
    const s = str(v);
    if (!s) return muted('—');
    const ok = route && (HEX32.test(s) || ADDR.test(s));
    const text = el('code', {class: 'hash', title: s}, short(s));
    return el('span', {class: 'id'},
      ok ? el('a', {href: '#/' + route + '/' + s.toLowerCase(), title: s}, text) : text, copyButton(s));
  }

  // ---- addresses with names ----

  const names = new Map();        // lower-case address -> {kind, name}: resources never rename
  const wanted = new Set();       // addresses drawn since the last lookup

  // an address: its name (looked up after drawing) and its short form, linked
  // to the resource's page (kind known) or the account's
  function addr(a, kind) {
    const s = str(a);
    if (!s || ZERO.test(s)) return muted('none');
    if (!ADDR.test(s)) return el('code', {class: 'hash'}, s);
    const lo = s.toLowerCase();
    const known = names.get(lo);
    const route = kind || (known ? known.kind : 'account');
    const nameEl = el('span', {class: 'name', 'data-addr': lo}, known ? known.name : '');
    if (!known) wanted.add(lo);
    return el('span', {class: 'id addr'},
      el('a', {href: '#/' + route + '/' + lo, title: s, 'data-addr-link': lo}, nameEl,
        el('code', {class: 'hash'}, short(s))), copyButton(s));
  }

  async function fillNames(api) {
    const list = [...wanted].filter(a => !names.has(a));
    wanted.clear();
    for (let i = 0; i < list.length; i += 50) {
      const r = await api('/v1/names?addresses=' + list.slice(i, i + 50).join(','));
      for (const [a, v] of Object.entries(r.names || {})) names.set(a.toLowerCase(), v);
    }
    for (const n of document.querySelectorAll('span.name[data-addr]')) {
      const v = names.get(n.getAttribute('data-addr'));
      if (v && n.textContent !== v.name) n.textContent = v.name;
    }
    for (const l of document.querySelectorAll('a[data-addr-link]')) {
      const lo = l.getAttribute('data-addr-link'), v = names.get(lo);
      if (v && /#\/account\//.test(l.getAttribute('href'))) l.setAttribute('href', '#/' + v.kind + '/' + lo);
    }
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    const t = el('textarea', {class: 'offscreen', readonly: true});
    t.value = text;
    document.body.appendChild(t);
    t.select();
    try { document.execCommand('copy'); } finally { t.remove(); }
    return Promise.resolve();
  }

  // ---- time, prices, tags ----

  function setSkew(dateHeader) {
    const t = Date.parse(dateHeader || '');
    if (Number.isFinite(t)) skew = t - Date.now();
  }
  const now = () => (Date.now() + skew) / 1000;

  function span(seconds) {
    const a = Math.abs(seconds);
    return a < 90 ? Math.round(a) + ' s' : a < 5400 ? Math.round(a / 60) + ' min' :
      a < 172800 ? Math.round(a / 3600) + ' h' : Math.round(a / 86400) + ' d';
  }

  function time(t) {
    const n = Number(t);
    if (!t || !Number.isFinite(n)) return muted('—');
    const s = stamp(n);
    const dt = n - now();
    return el('time', {datetime: new Date(n * 1000).toISOString(), title: s}, s.slice(0, 16), ' ',
      muted(dt >= 0 ? '(in ' + span(dt) + ')' : '(' + span(dt) + ' ago)'));
  }

  // nRLC (a decimal string or a number) with its unit; RLC beside large ones
  function price(v) {
    const s = str(v);
    if (!/^[0-9]+$/.test(s)) return muted(s || '—');
    const n = BigInt(s);
    const rlc = n >= 1000000n ? ' (' + (Number(n) / 1e9).toLocaleString('en', {maximumFractionDigits: 9}) + ' RLC)' : '';
    return el('span', {class: 'price', title: s + ' nRLC = ' + s + ' × 10⁻⁹ RLC'}, s + ' nRLC' + rlc);
  }

  function tagBits(tag) {
    if (typeof tag === 'number') return BigInt(tag);
    const s = str(tag) || '0';
    try { return BigInt(/^0x[0-9a-fA-F]*$/.test(s) ? (s.length > 2 ? s : '0x0') : s); } catch (_) { return 0n; }
  }
  function tagNames(tag) {
    const b = tagBits(tag);
    const n = TAG_NAMES.filter((_, i) => (b >> BigInt(i)) & 1n);
    if (b >> 4n) n.push('other bits 0x' + (b >> 4n << 4n).toString(16));
    return n;
  }
  function tags(tag) {
    const n = tagNames(tag);
    return n.length ? n.map((x, i) => [i ? ' ' : '', el('span', {class: 'badge tag'}, x)]) : muted('none');
  }

  // ---- task states: one mapping, used by every page ----
  // {word, cls, why}: cls is the colour (ok, bad, warn, info, idle)
  function taskState(t) {
    const s = str(t.status), n = now();
    const fin = Number(t.finalDeadline), con = Number(t.contributionDeadline);
    if (s === 'COMPLETED') return {word: 'completed', cls: 'ok', why: 'finalized' + (t.finalTime ? ' ' + stamp(t.finalTime) : '')};
    if (s === 'FAILED') return {word: 'failed', cls: 'bad', why: 'claimed after its final deadline; the requester was refunded'};
    if (s === 'REVEALING') return {word: 'revealing', cls: 'info', why: 'a consensus was reached; workers reveal'};
    if (s !== 'ACTIVE') return {word: s.toLowerCase() || '?', cls: 'idle', why: ''};
    if (t.error) return n >= fin ? {word: 'claimable', cls: 'warn', why: 'its run failed; claimable since ' + stamp(fin)}
      : {word: 'run failed', cls: 'bad', why: 'claimable from ' + stamp(fin)};
    if (n >= fin) return {word: 'claimable', cls: 'warn', why: 'unfinished at its final deadline ' + stamp(fin)};
    if (n >= con) return {word: 'expired', cls: 'warn', why: 'no contribution by ' + stamp(con) + '; claimable from ' + stamp(fin)};
    if (t.lease && Number(t.lease.until) > n) return {word: 'running', cls: 'info', why: 'leased until ' + stamp(t.lease.until)};
    return {word: 'waiting', cls: 'idle', why: 'waiting for a worker of its pool'};
  }
  function stamp(t) { return new Date(Number(t) * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'; }

  function stateBadge(t) {
    const st = taskState(t);
    return el('span', {class: 'badge state ' + st.cls, 'data-status': str(t.status), title: 'hub status ' + str(t.status) + (st.why ? ': ' + st.why : '')}, st.word);
  }

  const LEGEND = [['waiting', 'idle'], ['running', 'info'], ['revealing', 'info'], ['completed', 'ok'],
    ['run failed', 'bad'], ['expired', 'warn'], ['claimable', 'warn'], ['failed', 'bad']];
  function legend() {
    return el('p', {class: 'legend muted'}, 'Task states: ', LEGEND.map(([w, c]) => [el('span', {class: 'badge state ' + c}, w), ' ']));
  }

  // ---- structure ----

  function table(headers, rows, opts) {
    return el('div', {class: 'scroll'}, el('table', opts || null,
      el('thead', null, el('tr', null, headers.map(h => el('th', {scope: 'col'}, h)))),
      el('tbody', null, rows.map(r => el('tr', null, r.map(c => el('td', null, c)))))));
  }

  function kv(pairs) {
    return el('dl', {class: 'kv'}, pairs.filter(p => p).map(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
  }

  // a results location: a link for http(s) URLs, text otherwise
  function results(v, label) {
    const s = str(v);
    if (!s) return muted('none yet');
    try {
      const u = new URL(s);
      if (u.protocol === 'http:' || u.protocol === 'https:')
        return [el('a', {href: u.href, rel: 'noopener noreferrer', target: '_blank', download: ''}, label || s), label ? [' ', hash(s)] : null];
    } catch (_) { /* not a URL */ }
    return el('code', {class: 'hash'}, s);
  }

  return {HEX32, ADDR, ZERO, TAG_NAMES, el, muted, str, hash, addr, fillNames, copy, setSkew, now,
    time, price, tags, tagNames, taskState, stateBadge, legend, table, kv, results};
})();
