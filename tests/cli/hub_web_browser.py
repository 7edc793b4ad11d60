#!/usr/bin/env python3
"""The hub's web page driven in headless Chromium over the DevTools protocol
(--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4, no
other dependency), for tests/cli/hub_web.sh.

    hub_web_browser.py CHROMIUM SPEC.json OUTDIR SYNCDIR

SPEC: {"url": hub URL, "pages": [{"name", "route", "want": [text...],
"selectors": {css: text or null}, "hostile": text}], "live": [{"name",
"route", "from", "to", "ready", "not_before"}]}. For each page: open the
route, wait until the page says it is drawn (main's data-renders), check
that its text has each `want` string, that each selector exists (and holds
its text), that `hostile` shows as text and no element came of it (no img,
no inline script, no handler ran); then screenshots at 1400 and 1024 px wide
in OUTDIR/NAME-1400.png, NAME-1024.png. For each live step: open the route,
wait for #task-status to say `from`, write SYNCDIR/READY (the shell then
changes the task, restarting the hub first if it likes) and, with the page
left open, wait for `to` without reloading; the states seen, with times, are
recorded into the page itself (a MutationObserver) and read back. Exit 0 when
all held; otherwise the first failure on stderr, exit 1."""
import base64, json, os, subprocess, sys, time


class Chrome:
    def __init__(self, binary, profile):
        to_chrome_r, self.w = os.pipe()
        self.r, from_chrome_w = os.pipe()

        def fds():  # the child's fd 3 reads our commands, fd 4 writes replies
            import fcntl
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)   # above 3 and 4 first
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3, inheritable=True)
            os.dup2(b, 4, inheritable=True)
        self.p = subprocess.Popen(
            [binary, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions',
             '--hide-scrollbars', '--remote-debugging-pipe', '--user-data-dir=' + profile, 'about:blank'],
            preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(profile, 'chrome.log'), 'w'))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf, self.next_id, self.session = b'', 0, None
        target = self.call('Target.createTarget', {'url': 'about:blank'})['targetId']
        self.session = self.call('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
        self.call('Page.enable')
        self.call('Runtime.enable')

    def call(self, method, params=None, timeout=30):
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params or {}}
        if self.session and not method.startswith('Target.'):
            msg['sessionId'] = self.session
        os.write(self.w, json.dumps(msg).encode() + b'\0')
        end = time.time() + timeout
        while True:
            while b'\0' in self.buf:
                raw, self.buf = self.buf.split(b'\0', 1)
                m = json.loads(raw)
                if m.get('method') == 'Runtime.exceptionThrown':
                    d = m['params']['exceptionDetails']
                    raise AssertionError('the page threw: %s' % (d.get('exception', {}).get('description') or d.get('text')))
                if m.get('id') == self.next_id:
                    if 'error' in m:
                        raise AssertionError('%s: %s' % (method, m['error']))
                    return m.get('result', {})
            if time.time() > end:
                raise AssertionError('%s: no reply from chromium' % method)
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise AssertionError('chromium exited')
            self.buf += chunk

    def js(self, expr):
        r = self.call('Runtime.evaluate', {'expression': expr, 'returnByValue': True, 'awaitPromise': True})
        if 'exceptionDetails' in r:
            raise AssertionError('js %r: %s' % (expr[:80], r['exceptionDetails'].get('text')))
        return r['result'].get('value')

    def width(self, w, h=900):
        self.call('Emulation.setDeviceMetricsOverride', {'width': w, 'height': h, 'deviceScaleFactor': 1, 'mobile': False})

    def shot(self, path, w):
        self.width(w)
        time.sleep(0.15)
        height = min(4000, int(self.js('document.documentElement.scrollHeight')))
        self.width(w, max(600, height))
        time.sleep(0.15)
        data = self.call('Page.captureScreenshot', {'format': 'png'})['data']
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call('Browser.close', timeout=5)
        except Exception:
            pass
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()


def wait(what, cond, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError('timed out (%d s) waiting for %s' % (timeout, what))


def open_route(c, url, route):
    before = c.js("+(document.getElementById('view') && document.getElementById('view').dataset.renders || 0)") or 0
    if c.js('location.origin') != url:
        c.call('Page.navigate', {'url': url + '/#/' + route})
        wait('the page to load', lambda: c.js("document.readyState === 'complete' && !!document.getElementById('view')"), 30)
        before = 0
    else:
        c.js('location.hash = %s' % json.dumps('#/' + route))
    wait('#/%s to be drawn' % route, lambda: (c.js("+(document.getElementById('view').dataset.renders || 0)") or 0) > before, 30)


CHECK = r'''(() => {
  const v = document.getElementById('view');
  const scripts = [...document.scripts].filter(s => !s.src).length;
  return {text: v.textContent, html: document.documentElement.outerHTML, imgs: document.images.length,
          scripts, pwned: !!window.pwned, error: (v.querySelector('.error[role=alert]') || {}).textContent || ''};
})()'''


def check_page(c, p):
    d = c.js(CHECK)
    name = p['name']
    if d['error'] and not p.get('error_ok'):
        raise AssertionError('%s: the page shows an error: %s' % (name, d['error']))
    for w in p.get('want', []):
        if w not in d['text'] and w not in d['html']:
            raise AssertionError('%s: the page lacks %r' % (name, w))
    for sel, text in (p.get('selectors') or {}).items():
        got = c.js('(() => { const e = document.querySelector(%s); return e ? e.textContent : null; })()' % json.dumps(sel))
        if got is None:
            raise AssertionError('%s: no element %s' % (name, sel))
        if text is not None and text not in got:
            raise AssertionError('%s: %s says %r, not %r' % (name, sel, got, text))
    for a in p.get('absent', []):
        if a in d['html']:
            raise AssertionError('%s: the page holds %r' % (name, a[:12] + '...'))
    h = p.get('hostile')
    if h is not None:
        if h not in d['text']:
            raise AssertionError('%s: the hostile name is not shown as text' % name)
        if d['imgs'] or d['scripts'] or d['pwned']:
            raise AssertionError('%s: the hostile name became markup (%d img, %d inline scripts, pwned %s)'
                                 % (name, d['imgs'], d['scripts'], d['pwned']))


RECORD = r'''(() => {
  window.__seen = [];
  const note = () => { const s = document.getElementById('task-status');
    const v = s ? s.dataset.status : null;
    if (v && (!window.__seen.length || window.__seen[window.__seen.length - 1][0] !== v)) window.__seen.push([v, Date.now()]); };
  note();
  new MutationObserver(note).observe(document.getElementById('view'), {childList: true, subtree: true});
  window.__loads = performance.getEntriesByType('navigation').length;
  window.__marker = Math.random();
  return window.__marker;
})()'''


def live(c, url, step, syncdir):
    if step.get('not_before'):
        time.sleep(max(0, step['not_before'] - time.time()))
    open_route(c, url, step['route'])
    status = lambda: c.js("(document.getElementById('task-status') || {dataset: {}}).dataset.status")
    wait('%s: status %s' % (step['name'], step['from']), lambda: status() == step['from'], 20)
    for w in step.get('want_before', []):
        if w not in c.js("document.getElementById('view').textContent"):
            raise AssertionError('%s: before the change, the page lacks %r' % (step['name'], w))
    marker = c.js(RECORD)
    open(os.path.join(syncdir, step['ready']), 'w').close()
    wait('%s: status %s while the page stays open' % (step['name'], step['to']), lambda: status() == step['to'], step.get('timeout', 45))
    if c.js('window.__marker') != marker:
        raise AssertionError('%s: the page was reloaded, not updated' % step['name'])
    seen = c.js('window.__seen')
    if [s for s, _ in seen][:1] != [step['from']] or seen[-1][0] != step['to']:
        raise AssertionError('%s: states seen %r' % (step['name'], seen))
    print('%s: %s' % (step['name'], ' -> '.join('%s at +%.1f s' % (s, (t - seen[0][1]) / 1000) for s, t in seen)))
    for w in step.get('want_after', []):
        if w not in c.js("document.getElementById('view').textContent"):
            raise AssertionError('%s: after the change, the page lacks %r' % (step['name'], w))


def keyboard(c, url):
    """Tab goes through the page in order, each stop with a visible focus ring;
    Enter on a link follows it."""
    open_route(c, url, 'deals')
    c.js('document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)')
    stops = []
    for _ in range(12):
        for t in ('keyDown', 'keyUp'):
            c.call('Input.dispatchKeyEvent', {'type': t, 'key': 'Tab', 'code': 'Tab', 'windowsVirtualKeyCode': 9})
        stops.append(c.js('''(() => { const a = document.activeElement, st = getComputedStyle(a);
            return [a.tagName + (a.id ? '#' + a.id : '') + ':' + (a.textContent || a.placeholder || '').trim().slice(0, 20),
                    st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2]; })()'''))
    if stops[0][0] != 'A:Skip to the page':
        raise AssertionError('keyboard: the first stop is %r, not the skip link' % stops[0][0])
    unseen = [n for n, ring in stops if not ring]
    if unseen:
        raise AssertionError('keyboard: no visible focus on %r' % unseen)
    if not any(n.startswith('A:0x') for n, _ in stops):
        raise AssertionError('keyboard: the deals table was not reached in 12 stops: %r' % stops)
    print('keyboard: %s' % ' > '.join(n for n, _ in stops))


def main():
    binary, spec_path, out, syncdir = sys.argv[1:5]
    spec = json.load(open(spec_path))
    os.makedirs(out, exist_ok=True)
    profile = os.path.join(syncdir, 'chrome')
    os.makedirs(profile, exist_ok=True)
    c = Chrome(binary, profile)
    try:
        c.width(1400)
        for p in spec['pages']:
            open_route(c, spec['url'], p['route'])
            check_page(c, p)
            if p.get('shots', True):
                for w in (1400, 1024):
                    c.shot(os.path.join(out, '%s-%d.png' % (p['name'], w)), w)
                c.width(1400)
            print('page %s: ok' % p['name'])
        for p in spec.get('narrow', []):   # a phone's width: nothing wider than the screen
            c.width(p['width'], 800)
            open_route(c, spec['url'], p['route'])
            sw = c.js('document.documentElement.scrollWidth')
            if sw > p['width'] + 1:
                raise AssertionError('%s at %d px: the page is %d px wide' % (p['name'], p['width'], sw))
            c.shot(os.path.join(out, '%s-%d.png' % (p['name'], p['width'])), p['width'])
            print('narrow %s: %d px wide, ok' % (p['name'], sw))
        for p in spec.get('dark', []):     # prefers-color-scheme: dark
            c.call('Emulation.setEmulatedMedia', {'features': [{'name': 'prefers-color-scheme', 'value': 'dark'}]})
            open_route(c, spec['url'], p['route'])
            bg = c.js("getComputedStyle(document.body).backgroundColor")
            if bg in ('rgb(255, 255, 255)', 'rgb(244, 246, 249)'):
                raise AssertionError('dark mode: the background stays %s' % bg)
            c.shot(os.path.join(out, '%s-dark-1024.png' % p['name']), 1024)
            c.call('Emulation.setEmulatedMedia', {'features': [{'name': 'prefers-color-scheme', 'value': 'light'}]})
            print('dark %s: background %s, ok' % (p['name'], bg))
        c.width(1400)
        keyboard(c, spec['url'])
        for step in spec.get('live', []):
            live(c, spec['url'], step, syncdir)
    except AssertionError as e:
        print('hub_web_browser: %s' % e, file=sys.stderr)
        return 1
    finally:
        c.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
