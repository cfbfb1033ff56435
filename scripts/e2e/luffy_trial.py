#!/usr/bin/env python3
"""A new buyer's trial of the Luffy front end's flow, call for call, against the server in its
development defaults with the README's quick start for that front end
(`api.business_errors_as_200 = true`, `alipay.return_url` = the front end's pay-success page).

The front end (Vue 2 + axios, the tutorial's) reads only 2xx bodies and shows `msg`; a Chinese
browser sends `Accept-Language: zh-CN`. This script makes the same requests in the same order
and checks what that buyer would see:
  registration by SMS (the code from the development SMS sender's log line), the refusals a
  person meets on the way (too short a password, a wrong code, a code asked for too soon, a
  wrong password: each a 200 with a Chinese `msg` and a code other than 100), both logins,
  setting and confirming an email (the code mailed under data/mail/), buying a course through
  `order/alipay/`, paying at the development cashier, the pay-success page's
  `GET order/success/` with Alipay's return query string, the purchase email under
  data/mail/ with the purchase page and a download link that works, the course in
  `course/mine/`, and buying it again refused in Chinese. Then a guest buys at /buy/<id>.

Usage: scripts/e2e/luffy_trial.py [path to the course-shop binary]
(default: $CARGO_TARGET_DIR/debug/course-shop, built when missing). Exit 0 when every check passes.
"""
import email
import html as htmlmod
import email.policy
import glob
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAILED = []
PASSED = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + (f"  [{detail}]" if detail and not ok else ""))
    (PASSED if ok else FAILED).append(name)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(base, method, path, body=None, token=None, form=None, accept="application/json"):
    """One request as axios makes it; returns (status, headers, text)."""
    url = path if path.startswith("http") else base + path
    headers = {"Accept": accept, "Accept-Language": "zh-CN,zh;q=0.9"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if token:
        headers["Authorization"] = "jwt " + token
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with OPENER.open(req, timeout=20) as res:
            return res.status, res.headers, res.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def jcall(base, method, path, **kw):
    status, _, text = call(base, method, path, **kw)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"_text": text[:300]}


def chinese(text):
    return bool(re.search(r"[\u4e00-\u9fff]", text or ""))


def refused_in_chinese(name, status, body):
    """What the front end shows for a refusal: a 2xx body with a code other than 100 and a
    Chinese msg."""
    check(name, status == 200 and body.get("code") != 100 and chinese(body.get("msg")), f"{status} {body}")


def sms_code(log_path, after):
    """The code of the development SMS sender's newest log line (the mobile is masked there)."""
    deadline = time.time() + 10
    while time.time() < deadline:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            lines = f.read()[after:]
        codes = re.findall(r"sms\.code[=:]\s*\"?(\d{4,6})", lines)
        if codes:
            return codes[-1]
        time.sleep(0.2)
    raise SystemExit("no SMS code in the server log")


def mails(workdir):
    out = []
    for path in sorted(glob.glob(os.path.join(workdir, "data", "mail", "*.eml")), key=os.path.getmtime):
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain",))
        out.append((str(msg["To"]), str(msg["Subject"]), part.get_content() if part else ""))
    return out


def wait_mail(workdir, count):
    deadline = time.time() + 20
    while time.time() < deadline:
        found = mails(workdir)
        if len(found) >= count:
            return found
        time.sleep(0.3)
    return mails(workdir)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else None
    if not binary:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        binary = os.path.join(target, "debug", "course-shop")
        if not os.path.exists(binary):
            subprocess.run(["cargo", "build", "--quiet", "--bin", "course-shop"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="luffy-trial.")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    front = "http://127.0.0.1:8080"
    env = dict(
        os.environ,
        PORT=str(port),
        COURSE_SHOP__API__BUSINESS_ERRORS_AS_200="true",
        COURSE_SHOP__ALIPAY__RETURN_URL=f"{front}/pay/success",
    )
    log_path = os.path.join(work, "server.log")
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [binary, "--config-dir", os.path.join(ROOT, "config")], cwd=work, env=env, stdout=log, stderr=log
        )
    try:
        for _ in range(120):
            try:
                if call(base, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        with open(log_path, encoding="utf-8", errors="replace") as f:
            banner = f.read()
        check("the startup banner names the front-end mode",
              "business errors answer HTTP 200" in banner and "api.business_errors_as_200 = true" in banner,
              banner[-500:])
        api = base + "/api/v1/"

        # The home page and the catalog, as the front end loads them.
        status, banners = jcall(api, "GET", "home/banner/")
        check("home/banner/ answers banners", status == 200 and banners.get("code") == 100 and banners["result"])
        status, page = jcall(api, "GET", "course/list/?ordering=-price&page=1&size=5")
        courses = page.get("results") or []
        check("course/list/ answers a page", status == 200 and len(courses) > 0, page)
        paid = next(c for c in courses if c["price"] not in ("0.00", "0"))
        status, found = jcall(api, "GET", "course/search/?search=" + urllib.parse.quote(paid["price"] + "元"))
        check("the search box finds a course by its price (元)", any(c["id"] == paid["id"] for c in found.get("results", [])), found)

        # Registration by SMS, with the refusals a person meets on the way.
        mobile = "13912345678"
        status, body = jcall(api, "GET", f"user/user/mobile/?mobile={mobile}")
        check("a new mobile is not registered (Chinese msg)", status == 200 and body.get("code") != 100 and chinese(body.get("msg")), body)
        log_mark = os.path.getsize(log_path)
        status, body = jcall(api, "GET", f"user/user/send_sms/?mobile={mobile}")
        check("send_sms: 100 发送短信成功", status == 200 and body.get("code") == 100 and body.get("msg") == "发送短信成功", body)
        code = sms_code(log_path, log_mark)
        with open(log_path, encoding="utf-8", errors="replace") as f:
            check("the log masks the mobile number", mobile not in f.read())
        status, body = jcall(api, "GET", f"user/user/send_sms/?mobile={mobile}")
        refused_in_chinese("a second code at once is refused in Chinese", status, body)
        wrong = "000000" if code != "000000" else "111111"
        status, body = jcall(api, "POST", "user/user/mobile_register/", body={"mobile": mobile, "code": wrong[: len(code)], "password": "luffy-2026-pass"})
        refused_in_chinese("a wrong SMS code is refused in Chinese", status, body)
        status, body = jcall(api, "POST", "user/user/mobile_register/", body={"mobile": mobile, "code": code, "password": "short"})
        refused_in_chinese("a password under 8 characters is refused in Chinese", status, body)
        status, body = jcall(api, "POST", "user/user/mobile_register/", body={"mobile": mobile, "code": code, "password": "luffy-2026-pass"})
        check("mobile_register: 100 注册成功", status == 200 and body.get("code") == 100 and body.get("msg") == "注册成功", body)

        status, body = jcall(api, "POST", "user/user/mul_login/", body={"username": mobile, "password": "wrong-password"})
        refused_in_chinese("a wrong password is refused in Chinese", status, body)
        status, login = jcall(api, "POST", "user/user/mul_login/", body={"username": mobile, "password": "luffy-2026-pass"})
        check("mul_login: token, username, icon", status == 200 and login.get("code") == 100 and login.get("token") and "username" in login and "icon" in login, login)
        token = login.get("token")

        # An email for the purchase email: set it, confirm it with the mailed code.
        status, body = jcall(base, "PATCH", "/api/v1/user/user/me/", body={"email": "luffy.buyer@example.com"}, token=token)
        check("PATCH user/user/me/ sets an email to confirm", status == 200 and body.get("code") == 100, body)
        sent = wait_mail(work, 1)
        check("the confirmation code is mailed under data/mail/", len(sent) == 1 and sent[0][0] == "luffy.buyer@example.com", sent)
        mail_code = re.search(r"\b(\d{6})\b", sent[0][2]).group(1) if sent else ""
        check("the confirmation mail is in Chinese", bool(sent) and chinese(sent[0][1] + sent[0][2]))
        status, body = jcall(api, "POST", "user/user/email/verify/", body={"code": mail_code}, token=token)
        check("email/verify confirms it", status == 200 and body.get("code") == 100, body)

        # The purchase, as the front end makes it (the alias order/alipay/, ids and amount as strings).
        order_body = {"courses": [str(paid["id"])], "total_amount": paid["price"], "subject": paid["name"], "pay_type": 1}
        status, order = jcall(api, "POST", "order/alipay/", body=order_body, token=token)
        check("order/alipay/: 100 and a pay_url", status == 200 and order.get("code") == 100 and order.get("pay_url"), order)
        status, _, cashier = call(base, "GET", order["pay_url"], accept="text/html")
        check("the cashier page shows the amount in Chinese", status == 200 and paid["price"] in cashier and chinese(cashier))
        q = re.search(r'name="q" value="([^"]+)"', cashier)
        status, headers, _ = call(base, "POST", "/dev/alipay/pay", form={"q": htmlmod.unescape(q.group(1)) if q else ""}, accept="text/html")
        location = headers.get("Location", "") if headers else ""
        check("paying sends the buyer to the front end's pay-success page", status == 303 and location.startswith(front + "/pay/success?"), f"{status} {location}")
        query = location.split("?", 1)[1] if "?" in location else ""
        status, result = jcall(api, "GET", "order/success/?" + query)
        check("PaySuccess.vue's order/success/: 100 支付成功", status == 200 and result.get("code") == 100 and "成功" in result.get("msg", ""), result)

        # The purchase email under data/mail/, its purchase page and link.
        sent = wait_mail(work, 2)
        purchase = sent[1] if len(sent) > 1 else ("", "", "")
        check("the purchase email is written under data/mail/ to the confirmed address", purchase[0] == "luffy.buyer@example.com", sent)
        check("the purchase email is in Chinese", chinese(purchase[1]) and chinese(purchase[2]))
        page_url = re.search(r"https?://\S+/p/[A-Za-z0-9_-]{43}", purchase[2])
        check("the purchase email carries the purchase page", bool(page_url))
        if page_url:
            status, shown = jcall(base, "GET", page_url.group(0))
            check("the purchase page lists the course", status == 200 and any(c["id"] == paid["id"] for c in shown.get("courses", [])), shown)
        status, mine = jcall(api, "GET", "course/mine/", token=token)
        check("the course is in course/mine/", status == 200 and paid["id"] in [c.get("course_id", c.get("id")) for c in mine.get("result", [])], mine)
        status, again = jcall(api, "POST", "order/alipay/", body=order_body, token=token)
        refused_in_chinese("buying an owned course again is refused in Chinese", status, again)
        status, _, _ = call(base, "GET", "/favicon.ico", accept="image/*")
        check("the cashier's /favicon.ico is served", status == 200)

        # A guest at the hosted buy page (the form posts order/pay/ with only an email).
        status, _, buy_page = call(base, "GET", f"/buy/{paid['id']}", accept="text/html")
        check("/buy/<id> shows the course in Chinese", status == 200 and chinese(buy_page) and paid["price"] in buy_page)
        status, guest = jcall(api, "POST", "order/pay/", body={"courses": [paid["id"]], "total_amount": paid["price"], "subject": paid["name"], "pay_type": 1, "email": "guest.buyer@example.com"})
        check("a guest order with only an email: pay_url and purchase_url", status == 200 and guest.get("code") == 100 and guest.get("pay_url") and guest.get("purchase_url"), guest)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"luffy_trial: {len(PASSED)} passed, {len(FAILED)} failed")
    if FAILED:
        print("server log:", log_path)
        sys.exit(1)
    subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
