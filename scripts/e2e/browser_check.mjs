// A person's check in a real browser (headless Chromium, driven by playwright-core):
// 1. Swagger UI at /docs/ loads from the binary, and "Try it out" → "Execute" on course search
//    gets a 200 from the running server.
// 2. The buy flow: log in, buy a course, open pay_url (the development cashier), press Pay,
//    and the page Alipay returns to says 支付成功.
// 3. Nothing on these pages is refused by their Content-Security-Policy.
// Usage: node browser_check.mjs http://127.0.0.1:8000 <username> <password> <screenshot dir>
import { chromium } from 'playwright-core';

const [base, username, password, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
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
  await page.goto(`${base}/api/v1/course/list/2/`);
  const login = await page.evaluate(async ([u, p]) => {
    const r = await fetch('/api/v1/user/user/mul_login/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: u, password: p }) });
    return r.json();
  }, [username, password]);
  check('login', login.code === 100);
  const order = await page.evaluate(async (token) => {
    const course = await (await fetch('/api/v1/course/list/2/')).json();
    const r = await fetch('/api/v1/order/alipay/', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `jwt ${token}` },
      body: JSON.stringify({ courses: [String(course.id)], total_amount: course.price, subject: course.name, pay_type: 1 }) });
    return r.json();
  }, login.token);
  check('order created', order.code === 100 && !!order.pay_url, order.out_trade_no || JSON.stringify(order));
  await page.goto(order.pay_url);
  await page.waitForSelector('button[type=submit]');
  check('cashier shows the amount', (await page.content()).includes('1499.00'));
  await page.screenshot({ path: `${shots}/simulator-cashier.png` });
  await Promise.all([page.waitForURL(/\/pay\/result\//, { timeout: 20000 }), page.click('button[type=submit]')]);
  const result = await page.locator('h1').innerText();
  check('return page says paid', result.includes('支付成功'), result);
  await page.screenshot({ path: `${shots}/pay-result.png` });
  const poll = await page.evaluate(async (no) => (await fetch(`/api/v1/order/success/?out_trade_no=${no}`)).json(), order.out_trade_no);
  check('the status endpoint agrees', poll.code === 100);
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
