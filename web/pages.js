// The pages of the marketplace (routed by web/app.js): lists (apps,
// datasets, workerpools, the order book, deals, a search) and one page per
// object (app, dataset, workerpool, order, deal, task, account), all over the
// hub's JSON API (docs/hub-api.md). Each view returns a node or throws.
'use strict';

window.CellaPages = (function () {
  const U = window.CellaUI;
  const {el, muted, str, hash, addr, time, price, tags, table, kv, stateBadge, taskState} = U;
  const PAGE = 25;               // rows per page
  const KINDS = ['apporder', 'datasetorder', 'workerpoolorder', 'requestorder'];
  const KIND_WORD = {apporder: 'app', datasetorder: 'dataset', workerpoolorder: 'workerpool', requestorder: 'request'};
  let api;                       // set by app.js

  function qs(params) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) p.set(k, v);
    const s = p.toString();
    return s ? '?' + s : '';
  }

  function intParam(params, key) {
    const n = Number.parseInt(params.get(key) || '0', 10);
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  function pager(route, params, offset, count, total, size) {
    const per = size || PAGE;
    return el('nav', {class: 'pager', 'aria-label': 'pages'},
      offset > 0 ? el('a', {href: '#/' + route + qs({...params, offset: Math.max(0, offset - per)})}, '← previous') : null,
      el('span', {class: 'muted'}, total ? (offset + 1) + '–' + (offset + count) + ' of ' + total : 'none'),
      offset + per < total ? el('a', {href: '#/' + route + qs({...params, offset: offset + per})}, 'next →') : null);
  }

  const section = (title, ...kids) => el('section', null, el('h2', null, title), ...kids);
  const none = (t) => el('p', {class: 'muted'}, t);

  // ---- home ----

  async function home() {
    const [apps, datasets, pools, deals, book] = await Promise.all([
      api('/v1/apps?limit=1'), api('/v1/datasets?limit=1'), api('/v1/workerpools?limit=1'),
      api('/v1/deals?limit=1'), api('/v1/orders')]);
    const card = (href, n, label) => el('a', {class: 'card', href}, el('strong', null, String(n)), label);
    const recent = deals.total ? await api('/v1/deals' + qs({offset: Math.max(0, deals.total - 5), limit: 5})) : {deals: []};
    return el('div', null, section('Marketplace',
      el('div', {class: 'cards'},
        card('#/apps', apps.total, 'apps'), card('#/datasets', datasets.total, 'datasets'),
        card('#/workerpools', pools.total, 'workerpools'), card('#/orders', book.count, 'open orders'),
        card('#/deals', deals.total, 'deals'))),
      section('Latest deals', dealTable((recent.deals || []).slice().reverse())));
  }

  // ---- registries ----

  const RES = {
    apps: {one: 'app', label: 'Apps', order: 'apporder'},
    datasets: {one: 'dataset', label: 'Datasets', order: 'datasetorder'},
    workerpools: {one: 'workerpool', label: 'Workerpools', order: 'workerpoolorder'},
  };

  async function resources(kind, params) {
    const info = RES[kind];
    const offset = intParam(params, 'offset');
    const owner = U.ADDR.test(params.get('owner') || '') ? params.get('owner') : '';
    const list = await api('/v1/' + kind + qs({offset, limit: PAGE, owner}));
    const items = list[kind] || [];
    const headers = ['Name', 'Address', 'Owner', kind === 'apps' ? 'TEE measurement' : null,
      kind === 'datasets' ? 'Checksum' : null, 'Created'].filter(h => h);
    const rows = items.map(r => [el('a', {class: 'name', href: '#/' + info.one + '/' + str(r.address).toLowerCase()}, r.name),
      hash(r.address, info.one), addr(r.owner), kind === 'apps' ? (r.measurement ? hash(r.measurement) : muted('none')) : null,
      kind === 'datasets' ? hash(r.checksum) : null, time(r.created)].filter(c => c !== null));
    return section(info.label,
      owner ? el('p', null, 'Owned by ', addr(owner), ' · ', el('a', {href: '#/' + kind}, 'all owners')) : null,
      items.length ? table(headers, rows) : none('None on this hub yet.'),
      pager(kind, owner ? {owner} : {}, offset, items.length, list.total));
  }

  function orderTable(orders) {
    return table(['Order', 'Kind', 'Resource', 'Price', 'Remaining', 'Tags', 'Restricted to', 'Signer', 'Published'],
      orders.map(e => {
        const o = e.order || {};
        return [hash(e.orderHash, 'order'), KIND_WORD[e.kind] || e.kind, orderResource(o, e.kind), price(orderPrice(o, e.kind)),
          el('span', {class: 'num'}, str(e.remaining) + ' / ' + str(o.volume)), tags(o.tag), restrictions(o, e.kind),
          addr(e.signer), time(e.publicationTimestamp)];
      }));
  }

  function orderResource(o, kind) {
    if (kind === 'datasetorder') return addr(o.dataset, 'dataset');
    if (kind === 'workerpoolorder') return addr(o.workerpool, 'workerpool');
    return addr(o.app, 'app');
  }
  function orderPrice(o, kind) {
    return kind === 'apporder' ? o.appprice : kind === 'datasetorder' ? o.datasetprice :
      kind === 'workerpoolorder' ? o.workerpoolprice : o.workerpoolmaxprice;
  }
  function restrictions(o, kind) {
    const keys = kind === 'requestorder' ? ['workerpool'] : ['apprestrict', 'datasetrestrict', 'workerpoolrestrict', 'requesterrestrict'];
    const set = keys.filter(k => o[k] !== undefined && !U.ZERO.test(str(o[k])) && str(o[k]) !== '');
    if (kind === 'requestorder' && !set.length) return muted('any pool');
    if (!set.length) return muted('anyone');
    return set.map(k => el('div', null, k.replace('restrict', '') + ' ', addr(o[k], k === 'requesterrestrict' ? 'account' : k.replace('restrict', ''))));
  }

  // whether the dataset's key is in the SMS, as the hub's cas answers (never the key)
  async function smsKey(id) {
    let k;
    try { k = await api('/v1/datasets/' + id + '/key'); } catch (e) { k = {keyInSms: null, reason: e.message}; }
    const at = k.checkedAt ? [' (cas answered ', time(k.checkedAt), ')'] : '';
    if (k.keyInSms === true)
      return el('span', {id: 'sms-key'}, el('span', {class: 'badge ok'}, 'yes'), muted([' pushed: a TEE task of this dataset gets it from cas', at]));
    if (k.keyInSms === false)
      return el('span', {id: 'sms-key'}, el('span', {class: 'badge idle'}, 'no'), muted([' not pushed: a TEE task of this dataset gets no key for it', at]));
    return el('span', {id: 'sms-key'}, el('span', {class: 'badge warn'}, 'unknown'), muted(' ' + str(k.reason || 'no answer')));
  }

  // the app's, dataset's or pool's own page: its fields, orders and deals
  async function resource(kind, id) {
    if (!U.ADDR.test(id)) throw new Error('not an address: ' + id);
    const plural = kind + 's';
    const [r, book, deals] = await Promise.all([api('/v1/' + plural + '/' + id),
      api('/v1/orders' + qs({kind: RES[plural].order, [kind]: id, all: kind === 'dataset' ? '1' : ''})),
      api('/v1/deals' + qs({[kind]: id, limit: 20}))]);
    const orders = book.orders || [];
    const fields = [['Name', el('span', {class: 'name', id: 'resource-name'}, r.name)], ['Address', hash(r.address)],
      ['Owner', addr(r.owner)], kind !== 'workerpool' ? ['Multiaddr', el('code', {class: 'text'}, r.multiaddr || '—')] : null,
      kind !== 'workerpool' ? ['Checksum', hash(r.checksum)] : null, ['Created', time(r.created)]];
    if (kind === 'app') {
      const fw = [...new Set(orders.flatMap(e => U.tagNames((e.order || {}).tag)))];
      fields.push(['TEE measurement', r.measurement ? hash(r.measurement) : muted('none: not measured for a TEE')],
        ['TEE frameworks', fw.length ? [fw.map(f => [el('span', {class: 'badge tag'}, f), ' ']), muted('(from its orders\' tags)')] : muted('none in its orders')]);
    }
    if (kind === 'dataset') fields.push(['Key in the SMS', await smsKey(id)]);
    let tasks = null;
    if (kind === 'workerpool') tasks = await api('/v1/workerpools/' + id + '/tasks?limit=20');
    return el('div', null, section(kind[0].toUpperCase() + kind.slice(1) + ' ', kv(fields)),
      section(kind === 'dataset' ? 'Orders (with closed ones) and their restrictions' : 'Open orders',
        orders.length ? orderTable(orders) : none('No orders.')),
      tasks ? section('Recent tasks', U.legend(), taskTable(tasks.tasks || [], true)) : null,
      section('Deals', dealTable(deals.deals || []), newest(deals)));
  }

  // ---- the order book ----

  async function orders(params) {
    const kind = KINDS.includes(params.get('kind')) ? params.get('kind') : '';
    const tagsOn = (params.get('tags') || '').split(',').filter(t => U.TAG_NAMES.map(x => x.toLowerCase()).includes(t));
    const maxprice = /^[0-9]{1,30}$/.test(params.get('maxprice') || '') ? params.get('maxprice') : '';
    const minremain = intParam(params, 'minremain');
    const resource = U.ADDR.test(params.get('resource') || '') ? params.get('resource').toLowerCase() : '';
    const sort = ['price', '-price', 'date', '-date'].includes(params.get('sort')) ? params.get('sort') : 'price';
    const all = params.get('all') === '1';
    const offset = intParam(params, 'offset');
    const state = {kind, tags: tagsOn.join(','), maxprice, minremain: minremain || '', resource, sort, all: all ? '1' : ''};
    const book = await api('/v1/orders' + qs({kind, mintag: state.tags, maxprice, all: state.all}));
    const match = (e) => {
      const o = e.order || {};
      if (minremain && !(Number(e.remaining) >= minremain)) return false;
      return !resource || ['app', 'dataset', 'workerpool'].some(k => str(o[k]).toLowerCase() === resource);
    };
    const by = {price: (e) => BigInt(str(orderPrice(e.order || {}, e.kind)) || '0'), date: (e) => BigInt(e.publicationTimestamp || 0)};
    const key = by[sort.replace('-', '')], sign = sort[0] === '-' ? -1 : 1;
    const list = (book.orders || []).filter(match).sort((a, b) => { const x = key(a), y = key(b); return x < y ? -sign : x > y ? sign : 0; });
    const go = (change) => { location.hash = '#/orders' + qs({...state, offset: '', ...change}); };
    const field = (label, input) => el('label', null, label, ' ', input);
    const form = el('form', {class: 'filters', id: 'order-filters', on: {submit: (e) => {
      e.preventDefault();
      const f = e.target;
      go({kind: f.kind.value, maxprice: f.maxprice.value.trim(), minremain: f.minremain.value.trim(), resource: f.resource.value.trim(),
        sort: f.sort.value, all: f.all.checked ? '1' : '', tags: U.TAG_NAMES.map(t => t.toLowerCase()).filter(t => f['tag-' + t].checked).join(',')});
    }}},
      field('Kind', el('select', {name: 'kind', id: 'order-kind'}, el('option', {value: ''}, 'all kinds'),
        KINDS.map(k => el('option', {value: k, selected: k === kind}, KIND_WORD[k] + ' orders')))),
      el('fieldset', null, el('legend', null, 'Tags'), U.TAG_NAMES.map(t =>
        el('label', null, el('input', {type: 'checkbox', name: 'tag-' + t.toLowerCase(), id: 'order-tag-' + t.toLowerCase(), checked: tagsOn.includes(t.toLowerCase())}), ' ', t))),
      field('Max price (nRLC)', el('input', {name: 'maxprice', inputmode: 'numeric', size: 8, value: maxprice, pattern: '[0-9]*'})),
      field('Min remaining', el('input', {name: 'minremain', inputmode: 'numeric', size: 5, value: minremain || '', pattern: '[0-9]*'})),
      field('Resource', el('input', {name: 'resource', size: 14, value: resource, placeholder: '0x… address', spellcheck: 'false'})),
      field('Sort', el('select', {name: 'sort', id: 'order-sort'}, [['price', 'price, lowest first'], ['-price', 'price, highest first'],
        ['-date', 'newest first'], ['date', 'oldest first']].map(([v, t]) => el('option', {value: v, selected: v === sort}, t)))),
      el('label', null, el('input', {type: 'checkbox', name: 'all', checked: all}), ' closed too'),
      el('button', {type: 'submit'}, 'Apply'), el('a', {href: '#/orders'}, 'reset'));
    const page = list.slice(offset, offset + PAGE);
    const what = [kind ? KIND_WORD[kind] : '', tagsOn.length ? tagsOn.map(t => U.TAG_NAMES.find(x => x.toLowerCase() === t)).join('+') : ''].filter(x => x).join(' ');
    return section('Order book', form,
      el('p', {class: 'muted', id: 'order-count'}, list.length + (list.length === 1 ? ' order' : ' orders') + (what ? ' (' + what + ')' : '')),
      page.length ? orderTable(page) : none('No orders match.'),
      pager('orders', state, offset, page.length, list.length));
  }

  async function order(id) {
    if (!U.HEX32.test(id)) throw new Error('not an order hash: ' + id);
    const e = await api('/v1/orders/' + id);
    const o = e.order || {};
    return el('div', null, section('Order',
      kv([['Order hash', hash(e.orderHash)], ['Kind', KIND_WORD[e.kind] || e.kind], ['Resource', orderResource(o, e.kind)],
        ['Price', price(orderPrice(o, e.kind))], ['Remaining', str(e.remaining) + ' of ' + str(o.volume)],
        ['Tags', tags(o.tag)], ['Restricted to', restrictions(o, e.kind)], ['Signer', addr(e.signer)],
        ['Published', time(e.publicationTimestamp)]])),
      section('Fields', kv(Object.entries(o).map(([k, v]) => [k, typeof v === 'object' ? el('pre', {class: 'text'}, JSON.stringify(v, null, 2))
        : U.ADDR.test(str(v)) ? addr(v) : U.HEX32.test(str(v)) ? hash(v) : el('code', {class: 'text'}, str(v))]))));
  }

  // ---- deals and tasks ----

  function dealTable(deals) {
    if (!deals.length) return none('No deals.');
    return table(['Deal', 'App', 'Dataset', 'Workerpool', 'Requester', 'Tasks', 'Price per task', 'Start'],
      deals.map(d => [hash(d.dealid, 'deal'), addr(d.app && d.app.pointer, 'app'), addr(d.dataset && d.dataset.pointer, 'dataset'),
        addr(d.workerpool && d.workerpool.pointer, 'workerpool'), addr(d.requester), el('span', {class: 'num'}, str(d.botSize)),
        price(dealPrice(d)), time(d.startTime)]));
  }
  // under a resource's or an account's first deals: how many there are in all
  function newest(list) {
    const n = (list.deals || []).length;
    return list.total > n ? none('The newest ' + n + ' of ' + list.total + '.') : null;
  }
  function dealPrice(d) {
    const p = (x) => BigInt(/^[0-9]+$/.test(str(x && x.price)) ? str(x.price) : '0');
    return String(p(d.app) + p(d.dataset) + p(d.workerpool));
  }

  async function deals(params) {
    // newest first: the API pages oldest first, so start from the end
    const head = await api('/v1/deals?limit=1');
    const total = head.total, back = intParam(params, 'offset');
    const offset = Math.max(0, total - back - PAGE), limit = Math.max(1, Math.min(PAGE, total - back));
    const list = total > back ? await api('/v1/deals' + qs({offset, limit})) : {deals: []};
    const rows = (list.deals || []).slice().reverse();
    return section('Deals', dealTable(rows), pager('deals', {}, back, rows.length, total));
  }

  function taskTable(tasks, withDeal) {
    if (!tasks.length) return none('No tasks.');
    return table(['#', 'Task', withDeal ? 'Deal' : null, 'State', 'Why', 'Final deadline', 'Lease / worker'].filter(h => h),
      tasks.map(t => [el('span', {class: 'num'}, str(t.idx)), hash(t.taskid, 'task'), withDeal ? hash(t.dealid, 'deal') : null,
        stateBadge(t), taskWhy(t), time(t.finalDeadline),
        t.worker ? addr(t.worker) : t.lease ? el('code', {class: 'hash', title: str(t.lease.holder)}, str(t.lease.holder).slice(0, 8) + '…') : muted('—')]
        .filter(c => c !== null)), {class: 'tasks'});
  }
  function taskWhy(t) {
    const st = taskState(t);
    return el('span', {class: 'why'}, t.error ? [el('span', {class: 'reason'}, str(t.error)), ' · '] : null, st.why);
  }

  async function deal(id, params) {
    if (!U.HEX32.test(id)) throw new Error('not a deal id: ' + id);
    const offset = intParam(params, 'offset');
    const [d, page] = await Promise.all([api('/v1/deals/' + id), api('/v1/deals/' + id + '/tasks' + qs({offset, limit: PAGE}))]);
    const ord = d.orders || {};
    const tasks = page.tasks || [];
    const counts = {};
    for (const t of tasks) { const w = taskState(t).word; counts[w] = (counts[w] || 0) + 1; }
    const res = (x, kind) => [addr(x && x.pointer, kind), x && x.pointer && !U.ZERO.test(str(x.pointer)) ? [' · ', price(x.price)] : null];
    return el('div', null, section('Deal',
      kv([['Deal id', hash(d.dealid)], ['App', res(d.app, 'app')], ['Dataset', res(d.dataset, 'dataset')],
        ['Workerpool', res(d.workerpool, 'workerpool')], ['Price per task', price(dealPrice(d))],
        ['Requester', addr(d.requester)], ['Beneficiary', addr(d.beneficiary)], ['Tags', tags(d.tag)],
        ['Trust', str(d.trust)], ['Category', str(d.categoryName || d.category) + ' (time ref ' + str(d.timeRef) + ' s)'],
        ['Start', time(d.startTime)], ['Tasks', str(d.botSize) + ' (' + Object.entries(counts).map(([w, n]) => n + ' ' + w).join(', ') + ')'],
        ['Params', d.params ? el('pre', {class: 'text'}, str(d.params)) : muted('none')],
        ['Orders', el('ul', {class: 'plain'}, KINDS.map(k => el('li', null, KIND_WORD[k] + ' order ', ord[k] ? hash(ord[k], 'order') : muted('none'))))]])),
      section('Tasks', U.legend(), el('div', {id: 'deal-tasks'}, taskTable(tasks, false)),
        pager('deal/' + id.toLowerCase(), {}, offset, tasks.length, Number(d.botSize))));
  }

  // a task's history: its deal's creation, then its events, then what is ahead
  const EVENT_WORDS = {
    'task-created': 'created by the match', 'task-leased': 'leased by a worker of its pool',
    'task-error': 'the run failed on the worker', 'task-contributed': 'a worker contributed a result',
    'task-consensus': 'consensus reached', 'task-revealed': 'a worker revealed its result',
    'task-reopened': 'reopened (no reveal)', 'task-completed': 'completed (finalized)', 'task-failed': 'failed (claimed)',
  };
  function timeline(t, events) {
    const items = events.map(e => [Number(e.time), e.type, EVENT_WORDS[e.type] || e.type, e.type === 'task-error' && t.error ? str(t.error) : '']);
    for (const c of t.contributions || [])
      if (!U.ZERO.test(str(c.enclaveChallenge))) items.push([Number(c.time), 'attestation', 'contribution signed by an attested enclave', str(c.enclaveChallenge)]);
    if (t.enclaveChallenge && t.finalTime)   // trust 1: checked by the hub when it finalized
      items.push([Number(t.finalTime), 'attestation', 'result signed by the enclave key the pool authorized (checked by the hub at finalize)',
        [addr(t.enclaveChallenge, 'account'), t.tee ? '; the worker reports a ' + str(t.tee) + ' enclave' : '']]);
    const n = U.now();
    if (t.status === 'ACTIVE') {
      if (Number(t.contributionDeadline) > n) items.push([Number(t.contributionDeadline), 'ahead', 'contribution deadline', '']);
      items.push([Number(t.finalDeadline), 'ahead', Number(t.finalDeadline) > n ? 'final deadline: claimable from then if unfinished' : 'final deadline passed: claimable now', '']);
    }
    items.sort((a, b) => a[0] - b[0]);
    return el('ol', {class: 'timeline', id: 'task-timeline'}, items.map(([tm, type, words, extra]) =>
      el('li', {class: 'ev-' + type, 'data-type': type}, time(tm), ' ', el('strong', null, words), extra ? [' — ', el('span', {class: 'reason'}, extra)] : null)));
  }

  async function task(id) {
    if (!U.HEX32.test(id)) throw new Error('not a task id: ' + id);
    const [t, ev] = await Promise.all([api('/v1/tasks/' + id), api('/v1/events?after=0&limit=1000&taskid=' + id)]);
    const d = await api('/v1/deals/' + t.dealid).catch(() => ({}));
    const st = taskState(t);
    const done = t.status === 'COMPLETED';
    return el('div', null, section('Task',
      el('p', {class: 'state-line'}, el('span', {id: 'task-state'}, stateBadge(t)), ' ', el('span', {id: 'task-why'}, st.why),
        t.error ? el('span', {class: 'error', id: 'task-error'}, ' Reason: ', str(t.error)) : null),
      kv([['Protocol status', el('span', {id: 'task-status', 'data-status': str(t.status), title: 'the task\'s status in iExec\'s protocol; the badge above says what it means here'}, str(t.status))], ['Task id', hash(t.taskid)],
        ['Deal', hash(t.dealid, 'deal')], ['Index', str(t.idx)], ['App', addr(d.app && d.app.pointer, 'app')],
        ['Dataset', addr(d.dataset && d.dataset.pointer, 'dataset')], ['Workerpool', addr(t.workerpool, 'workerpool')],
        done ? ['Completed', [time(t.finalTime), ' by pool ', addr(t.workerpool, 'workerpool')]] : null,
        ['Requester', addr(t.requester)], ['Beneficiary', addr(t.beneficiary)], ['Tags', tags(t.tag)],
        ['Contribution deadline', time(t.contributionDeadline)], ['Final deadline', time(t.finalDeadline)],
        ['Lease', t.lease ? [el('code', {class: 'hash'}, str(t.lease.holder)), ' until ', time(t.lease.until)] : muted('none')],
        ['Worker', addr(t.worker)], ['Result digest', hash(t.resultDigest)],
        ['Results', el('span', {id: 'task-results'}, U.results(t.results, t.results ? 'download the result (encrypted for the beneficiary when the deal asked so)' : ''))],
        t.results ? ['For the requester', el('code', {class: 'text'}, 'cella task show ' + str(t.taskid) + ' --download --decrypt')] : null])),
      section('Timeline', timeline(t, ev.events || [])));
  }

  // ---- an account ----

  async function account(id, params) {
    if (!U.ADDR.test(id)) throw new Error('not an address: ' + id);
    const offset = intParam(params, 'offset');
    const [a, mine, deals, tasks, ...owned] = await Promise.all([api('/v1/accounts/' + id), api('/v1/accounts/' + id + '/orders'),
      api('/v1/deals' + qs({account: id, limit: 20})), api('/v1/accounts/' + id + '/tasks' + qs({offset, limit: PAGE})),
      ...['apps', 'datasets', 'workerpools'].map(k => api('/v1/' + k + qs({owner: id, limit: 20})))]);
    const res = ['apps', 'datasets', 'workerpools'].flatMap((k, i) => (owned[i][k] || []).map(r => [RES[k].one, r]));
    return el('div', null, section('Account',
      kv([['Address', hash(a.address)], ['Balance', el('span', {id: 'account-balance'}, price(a.balance))], ['Locked', price(a.locked)],
        ['Owns', res.length ? el('ul', {class: 'plain'}, res.map(([k, r]) => el('li', null, k + ' ', addr(r.address, k)))) : muted('nothing')]])),
      section('Orders it signed', (mine.orders || []).length ? orderTable(mine.orders) : none('No open orders.')),
      section('Deals', dealTable(deals.deals || []), newest(deals)),
      section('Tasks it requested', U.legend(), el('div', {id: 'account-tasks'}, taskTable(tasks.tasks || [], true)),
        pager('account/' + id.toLowerCase(), {}, offset, (tasks.tasks || []).length, tasks.total)));
  }

  // ---- search ----

  async function search(params) {
    const q = (params.get('q') || '').trim();
    if (!q) return section('Search', none('Type an address, a hash or part of a name in the search box.'));
    const r = await api('/v1/search' + qs({q}));
    const hits = r.results || [];
    return section('Search', el('p', {class: 'muted', id: 'search-count'}, hits.length + ' result' + (hits.length === 1 ? '' : 's') + ' for ', el('q', null, q)),
      hits.length ? el('ul', {class: 'plain', id: 'search-results'}, hits.map(h => el('li', null, h.kind + ' ',
        U.ADDR.test(str(h.id)) ? addr(h.id, h.kind) : hash(h.id, h.kind)))) : none('Nothing found.'));
  }

  return {setApi: (f) => { api = f; }, home, resources, resource, orders, order, deals, deal, task, account, search, RES, qs};
})();
