// archive_check.mjs - drives Debian's chromium (headless, through
// playwright-core) over parley's archive pages and prints what it saw as one
// JSON document; tests/e2e/test_archive_browser.py decides what passes.
//
//   PARLEY_NODE_MODULES=DIR node archive_check.mjs SPEC.json > facts.json
//
// SPEC: { "chromium": "/usr/bin/chromium", "shots": "DIR",
//         "pages": [ { "name", "url", "width", "height", "scheme": "light"|"dark",
//                      "shot": true, "toggle": true, "search": "words" } ] }
// Per page it records every request the page made (so that the test can
// assert none left the archive's origin), dialogs opened and a flag any
// script from the content would set (window.__pwned), CSP violations, the
// layout's width against the viewport, the landmarks and headings, the
// messages in DOM order with their nesting, the elided-quote toggles before
// and after a click, right-to-left blocks, colours and their contrast, and
// search results. Test code only: it asserts nothing itself, and it never
// loads anything but the URLs it is given.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// playwright-core is installed by scripts/deps --test outside the tree
// (PARLEY_NODE_MODULES), so that the source tree stays read-only.
const require = createRequire(path.join(process.env.PARLEY_NODE_MODULES || 'node_modules', 'x.js'));
const { chromium } = require('playwright-core');

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

// facts: what the page shows, computed inside it.
function facts() {
  const lum = (c) => {
    const m = c.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)/);
    if (!m) return null;
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(+m[1]) + 0.7152 * f(+m[2]) + 0.0722 * f(+m[3]);
  };
  const bgOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const b = getComputedStyle(e).backgroundColor;
      if (b && !/rgba\(0, 0, 0, 0\)|transparent/.test(b)) return b;
    }
    return 'rgb(255, 255, 255)';
  };
  const contrast = (el) => {
    const a = lum(getComputedStyle(el).color), b = lum(bgOf(el));
    if (a === null || b === null) return null;
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
  const msgs = [...document.querySelectorAll('article.msg')].map((a) => {
    const up = a.parentElement ? a.parentElement.closest('article.msg') : null;
    const r = a.getBoundingClientRect();
    return { id: a.id, parent: a.dataset.parent || null, ancestor: up ? up.id : null,
             left: Math.round(r.left), width: Math.round(r.width),
             text: a.innerText.slice(0, 300) };
  });
  const worst = [...document.querySelectorAll('main p, main pre, main li, main h1, main h2, main a')]
    .map(contrast).filter((x) => x !== null);
  const rtl = [...document.querySelectorAll('[dir="auto"]')]
    .filter((e) => getComputedStyle(e).direction === 'rtl').map((e) => e.innerText.slice(0, 80));
  const overflow = [...document.querySelectorAll('main *')]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 5).map((e) => e.tagName + '.' + e.className + ': ' + (e.innerText || '').slice(0, 40));
  return {
    title: document.title,
    lang: document.documentElement.lang,
    scripts: document.scripts.length,
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    csp: window.__csp || [],
    viewport: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    overflow,
    landmarks: { header: document.querySelectorAll('header').length,
                 nav: document.querySelectorAll('nav').length,
                 main: document.querySelectorAll('main').length },
    headings: [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map((h) => +h.tagName[1]),
    unlabelled: [...document.querySelectorAll('input:not([type=hidden]):not([type=submit])')]
      .filter((i) => !(i.labels && i.labels.length) && !i.getAttribute('aria-label')).length,
    messages: msgs,
    details: [...document.querySelectorAll('details.elided')].map((d) => {
      const body = d.querySelector(':scope > :not(summary)');
      return { open: d.open, visible: body ? body.checkVisibility() : false,
               text: body ? body.textContent.slice(0, 200) : '' };
    }),
    rtl,
    bodyColor: getComputedStyle(document.body).color,
    bodyBackground: bgOf(document.body),
    minContrast: worst.length ? Math.min(...worst) : null,
    results: [...document.querySelectorAll('ol.results > li')].map((l) => l.innerText.slice(0, 200)),
    mailto: [...document.querySelectorAll('a[href^="mailto:"]')].map((a) => a.href).slice(0, 3),
    attachments: [...document.querySelectorAll('ul.attachments a')].map((a) => a.getAttribute('href')),
  };
}

const browser = await chromium.launch({ executablePath: spec.chromium, args: ['--no-sandbox'] });
const out = [];
try {
  for (const p of spec.pages) {
    const ctx = await browser.newContext({ viewport: { width: p.width || 1280, height: p.height || 900 },
                                           colorScheme: p.scheme || 'light', javaScriptEnabled: true });
    const page = await ctx.newPage();
    const requests = [], dialogs = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation',
        (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
    });
    const r = { name: p.name, url: p.url };
    try {
      const resp = await page.goto(p.url, { waitUntil: 'load', timeout: 20000 });
      r.status = resp ? resp.status() : null;
      r.headers = resp ? resp.headers() : {};
      if (p.search !== undefined) {
        await page.fill('input[name=q]', p.search);
        await Promise.all([page.waitForNavigation({ timeout: 20000 }), page.press('input[name=q]', 'Enter')]);
        r.searchUrl = page.url();
      }
      r.before = await page.evaluate(facts);
      if (p.toggle && r.before.details.length) {
        await page.click('details.elided > summary');
        r.after = await page.evaluate(facts);
      }
      if (p.shot && spec.shots) {
        fs.mkdirSync(spec.shots, { recursive: true });
        r.shot = path.join(spec.shots, p.name + '.png');
        await page.screenshot({ path: r.shot, fullPage: true });
      }
    } catch (e) {
      r.error = String(e);
    }
    r.requests = requests;
    r.dialogs = dialogs;
    out.push(r);
    await ctx.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
