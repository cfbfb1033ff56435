// A person's check in a real browser (headless Chromium, driven by playwright-core):
// 1. Swagger UI at /docs/ loads from the binary, and "Try it out" → "Execute" on course search
//    gets a 200 from the running server.
// 2. The buy flow: log in, buy a course (3), open pay_url (the development cashier), press Pay,
//    and the page Alipay returns to says 支付成功.
// 3. The seller's console (/admin/) as an administrator: log in, create a course with a
//    chapter and a section, upload its cover, see the course in the public course/list/;
//    refund the order paid in 2 (with the confirmation step); add a banner with its image and
//    see it in home/banner/; the sales page draws its charts (revenue, orders, courses,
//    providers, funnel) from the benchmark-sized catalog that browser_check.sh imports, and
//    the funnel per ref. Screenshots at 1366 px and on a phone (390 px) of the catalog, the
//    banners and the sales pages.
// 4. A guest buys course 3 on its buy page /buy/3 with only an email, pays at the development
//    cashier, lands on the purchase page and downloads the course's material from it.
// 5. Nothing on these pages is refused by their Content-Security-Policy.
// Usage: node browser_check.mjs http://127.0.0.1:8000 <username> <password> <screenshot dir> <admin> <admin password>
import { chromium } from 'playwright-core';

const [base, username, password, shots, admin, adminPassword] = process.argv.slice(2);
// A 1×1 PNG: the cover the seller uploads.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg==', 'base64');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// A Chinese browser, like the shop's buyers (the pages answer in the Accept-Language's tongue).
const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
// The pages' Content-Security-Policy must not block anything they need: Chromium reports
// each refusal on the console.
const cspViolations = [];
page.on('console', (m) => { if (m.text().includes('Content Security Policy')) cspViolations.push(m.text()); });
const results = [];
const check = (name, ok, detail = '') => { results.push({ name, ok, detail }); console.log(`${ok ? 'PASS' : 'FAIL'} ${name} ${detail}`); };

try {
  // 1. Swagger UI, offline, Try it out.
  await page.goto(`${base}/docs/`);
  await page.waitForSelector('.opblock-tag', { timeout: 20000 });
  check('swagger ui renders', true, await page.title());
  const op = page.locator('#operations-course-search');
  await op.locator('.opblock-summary').click();
  const tryOut = op.locator('button.try-out__btn');
  await tryOut.waitFor({ state: 'visible' });
  // Swagger UI renders the operation before it wires its buttons: click until Execute shows.
  for (let i = 0; i < 10 && !(await op.locator('button.execute').isVisible()); i++) {
    await tryOut.click();
    await page.waitForTimeout(300);
  }
  await op.locator('tr[data-param-name="search"] input').fill('linux');
  await op.locator('button.execute').click();
  await op.locator('.responses-wrapper .live-responses-table .response-col_status').first().waitFor({ timeout: 10000 });
  const status = (await op.locator('.live-responses-table tbody .response-col_status').first().innerText()).trim();
  const body = await op.locator('.live-responses-table .microlight').first().innerText();
  check('try it out: course search answers 200', status.startsWith('200'), `status=${status}`);
  check('try it out: the answer is a page of courses', body.includes('"count"') && body.includes('Linux'));
  await page.screenshot({ path: `${shots}/swagger-try-it-out.png`, fullPage: false });

  // 2. Buy in the browser, pay at the development cashier, land on the result page.
  await page.goto(`${base}/api/v1/course/list/3/`);
  const login = await page.evaluate(async ([u, p]) => {
    const r = await fetch('/api/v1/user/user/mul_login/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: u, password: p }) });
    return r.json();
  }, [username, password]);
  check('login', login.code === 100);
  const order = await page.evaluate(async (token) => {
    const course = await (await fetch('/api/v1/course/list/3/')).json();
    const r = await fetch('/api/v1/order/alipay/', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `jwt ${token}` },
      body: JSON.stringify({ courses: [String(course.id)], total_amount: course.price, subject: course.name, pay_type: 1 }) });
    return { ...(await r.json()), price: course.price };
  }, login.token);
  check('order created', order.code === 100 && !!order.pay_url, order.out_trade_no || JSON.stringify(order));
  await page.goto(order.pay_url);
  await page.waitForSelector('button[type=submit]');
  check('cashier shows the amount', (await page.content()).includes(order.price), order.price);
  await page.screenshot({ path: `${shots}/simulator-cashier.png` });
  await Promise.all([page.waitForURL(/\/pay\/result\//, { timeout: 20000 }), page.click('button[type=submit]')]);
  const result = await page.locator('h1').innerText();
  check('return page says paid', result.includes('支付成功') || result.includes('Payment received'), result);
  await page.screenshot({ path: `${shots}/pay-result.png` });
  const poll = await page.evaluate(async (no) => (await fetch(`/api/v1/order/success/?out_trade_no=${no}`)).json(), order.out_trade_no);
  check('the status endpoint agrees', poll.code === 100);

  // 4. A guest at the buy page: email, pay, purchase page, download.
  const guest = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, locale: 'zh-CN' });
  const gpage = await guest.newPage();
  gpage.on('console', (m) => { if (m.text().includes('Content Security Policy')) cspViolations.push(m.text()); });
  await gpage.goto(`${base}/buy/3?ref=browser-check`);
  check('buy page shows the course and an Alipay button', (await gpage.content()).includes('使用支付宝支付'));
  await gpage.fill('input[name=email]', 'guest@example.com');
  await gpage.screenshot({ path: `${shots}/buy-page.png` });
  await Promise.all([gpage.waitForURL(/\/dev\/alipay\//, { timeout: 20000 }), gpage.click('button[name=pay_type][value="1"]')]);
  await gpage.waitForSelector('button[type=submit]');
  await Promise.all([gpage.waitForURL(/\/p\//, { timeout: 20000 }), gpage.click('button[type=submit]')]);
  check('the cashier returns the guest to the purchase page', /\/p\/[A-Za-z0-9_-]{43}$/.test(gpage.url()));
  // The links are issued by the paid order's job: the page refreshes itself until they are.
  await gpage.waitForSelector('a.download', { timeout: 30000 });
  check('the purchase page shows the link', (await gpage.locator('.left').first().innerText()).includes('5'));
  await gpage.screenshot({ path: `${shots}/purchase-page.png`, fullPage: true });
  const [download] = await Promise.all([gpage.waitForEvent('download', { timeout: 20000 }), gpage.click('a.download')]);
  const file = `${shots}/guest-download.txt`;
  await download.saveAs(file);
  const { readFileSync } = await import('node:fs');
  check('the guest downloads the material', readFileSync(file, 'utf8').includes('the notes of course 3'));
  await gpage.reload();
  check('one download counted', (await gpage.locator('.left').first().innerText()).includes('4'));
  await guest.close();

  // 3. The seller's console.
  if (admin) {
    page.on('dialog', (d) => d.accept());
    await page.setViewportSize({ width: 1366, height: 900 });
    await page.goto(`${base}/admin/`);
    await page.waitForURL(/\/admin\/login\//);
    await page.fill('#login input[name=username]', admin);
    await page.fill('#login input[name=password]', adminPassword);
    await Promise.all([page.waitForURL(`${base}/admin/`), page.click('#login button[type=submit]')]);
    check('console login', (await page.content()).includes(admin));
    await page.screenshot({ path: `${shots}/console-home.png` });

    const name = `浏览器课程 ${Date.now()}`;
    await page.goto(`${base}/admin/catalog/`);
    await page.fill('#course-form input[name=name]', name);
    await page.fill('#course-form input[name=price]', '9.90');
    await Promise.all([page.waitForURL(/\/admin\/catalog\/courses\/\d+\//), page.click('#course-form button[type=submit]')]);
    const courseId = Number(page.url().match(/courses\/(\d+)\//)[1]);
    check('course created in the console', courseId > 0, `course ${courseId}`);
    await page.fill('#new-chapter input[name=name]', '第一章 入门');
    await Promise.all([page.waitForLoadState('load'), page.click('#new-chapter button[type=submit]')]);
    await page.waitForSelector('form.new-section');
    await page.fill('form.new-section input[name=name]', '第一节 你好');
    await page.fill('form.new-section input[name=duration]', '05:00');
    await Promise.all([page.waitForLoadState('load'), page.click('form.new-section button[type=submit]')]);
    await page.waitForSelector('form.upload');
    check('chapter and section shown', (await page.content()).includes('第一节 你好'));
    await page.setInputFiles('#cover-form input[type=file]', { name: 'cover.png', mimeType: 'image/png', buffer: PNG });
    await Promise.all([page.waitForLoadState('load'), page.click('#cover-form button[type=submit]')]);
    await page.waitForSelector('#cover-image', { timeout: 10000 });
    check('cover uploaded', true);
    await page.screenshot({ path: `${shots}/console-course.png`, fullPage: true });
    // The public API shows it within catalog.refresh_seconds.
    const listed = await page.evaluate(async (id) => {
      for (let i = 0; i < 40; i++) {
        let url = '/api/v1/course/list/?page_size=50';
        while (url) {
          const p = await (await fetch(url)).json();
          const found = (p.results || []).find((c) => c.id === id && c.course_img);
          if (found) { return found; }
          url = p.next ? new URL(p.next).pathname + new URL(p.next).search : null;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      return null;
    }, courseId);
    check('the course is in course/list/', !!listed && listed.name === name && listed.course_img.includes('/media/courses/'), JSON.stringify(listed && listed.course_img));

    await page.goto(`${base}/admin/orders/?buyer=${encodeURIComponent(username)}&status=paid`);
    await page.waitForSelector('#orders');
    await Promise.all([page.waitForURL(/\/admin\/orders\/CS/), page.click(`#orders a[href*="${order.out_trade_no}"]`)]);
    await Promise.all([page.waitForLoadState('load'), page.click('#refund button[type=submit]')]);
    await page.waitForFunction(() => document.querySelector('#order-status').textContent.includes('refunded'), null, { timeout: 15000 });
    check('order refunded from the console', true, order.out_trade_no);
    await page.screenshot({ path: `${shots}/console-order-refunded.png`, fullPage: true });

    // A banner: created, its image uploaded, then public.
    await page.goto(`${base}/admin/banners/`);
    await page.fill('#new-banner input[name=title]', '浏览器轮播图');
    await page.fill('#new-banner input[name=link]', '/free-course');
    await page.click('#new-banner button[type=submit]');
    await page.waitForSelector('section h2:has-text("浏览器轮播图")', { timeout: 10000 });
    const bannerForm = page.locator('section', { hasText: '浏览器轮播图' }).locator('form.upload');
    await bannerForm.locator('input[type=file]').setInputFiles({ name: 'banner.png', mimeType: 'image/png', buffer: PNG });
    await bannerForm.locator('button[type=submit]').click();
    // The page reloads once the upload is saved; then the banner shows its image.
    await page.locator('section', { hasText: '浏览器轮播图' }).locator('img.banner-image').waitFor({ timeout: 10000 });
    await page.waitForLoadState('load');
    const banner = await page.evaluate(async () => {
      for (let i = 0; i < 40; i++) {
        const b = await (await fetch('/api/v1/home/banner/')).json();
        const found = (b.result || []).find((x) => x.title === '浏览器轮播图');
        if (found) { return found; }
        await new Promise((r) => setTimeout(r, 250));
      }
      return null;
    });
    check('the banner is in home/banner/', !!banner && banner.image.includes('/media/banners/'), JSON.stringify(banner));
    await page.screenshot({ path: `${shots}/console-banners-1366.png`, fullPage: true });

    // The sales page, with the benchmark-sized catalog's views and orders.
    await page.goto(`${base}/admin/sales/?by_ref=true&lang=zh`);
    await page.waitForSelector('svg#chart-revenue rect');
    check('sales charts drawn', (await page.locator('svg.chart rect').count()) > 0);
    for (const id of ['chart-revenue', 'chart-orders', 'chart-courses', 'chart-providers', 'chart-funnel']) {
      check(`chart ${id} has bars`, (await page.locator(`svg#${id} rect`).count()) > 0);
    }
    const funnelText = await page.locator('#funnel').innerText();
    check('the funnel compares refs', funnelText.includes('spring-a') && funnelText.includes('spring-b'));
    check('the provider mix', (await page.locator('#providers').innerText()).includes('支付宝'));
    await page.screenshot({ path: `${shots}/console-sales-1366.png`, fullPage: true });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check('sales page fits 1366 px', (await overflow()) <= 0, `overflow ${await overflow()} px`);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/admin/sales/?lang=en&by_ref=true`);
    await page.waitForSelector('svg#chart-providers');
    check('the provider mix in English', (await page.locator('#providers').innerText()).includes('Alipay'));
    check('sales page fits a phone', (await overflow()) <= 0, `overflow ${await overflow()} px`);
    await page.screenshot({ path: `${shots}/console-sales-phone-en.png`, fullPage: true });
    await page.goto(`${base}/admin/catalog/`);
    check('catalog page fits a phone', (await overflow()) <= 0, `overflow ${await overflow()} px`);
    await page.screenshot({ path: `${shots}/console-catalog-phone.png`, fullPage: false });
    await page.goto(`${base}/admin/banners/`);
    await page.screenshot({ path: `${shots}/console-banners-phone.png`, fullPage: true });
  }
  check('no Content-Security-Policy violations', cspViolations.length === 0, cspViolations.join(' | '));
} catch (e) {
  check('no exception', false, String(e));
  await page.screenshot({ path: `${shots}/failure.png` }).catch(() => {});
} finally {
  await browser.close();
}
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
