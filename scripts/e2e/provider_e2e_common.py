"""What the WeChat Pay and Stripe end-to-end checks share (standard library only): the
`RESULT <step> PASS|FAIL <text>` lines the shell scripts summarise, HTTP calls, starting and
stopping the server binary, an account and an order. Nothing from the Rust code is used.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

PASSWORD = "correct horse battery"
FAILED = []


def result(step, ok, text):
    print("RESULT {} {} {}".format(step, "PASS" if ok else "FAIL", text), flush=True)
    if not ok:
        FAILED.append(step)


def info(text):
    print("  " + text, flush=True)


class Failed(Exception):
    pass


def require(cond, what):
    if not cond:
        raise Failed(what)
    info("ok: " + what)


def run_step(step, title, fn):
    print("--- step {}: {}".format(step, title), flush=True)
    try:
        result(step, True, fn())
        return True
    except Failed as e:
        result(step, False, str(e))
    except Exception as e:  # noqa: BLE001 - any error fails the step, with its text
        result(step, False, "{}: {}".format(type(e).__name__, e))
    return False


def http(method, url, body=None, headers=None, timeout=30):
    data = body if body is None or isinstance(body, bytes) else body.encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def as_json(raw):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def get_json(url, token=None):
    headers = {"Authorization": "jwt " + token} if token else {}
    status, raw = http("GET", url, headers=headers)
    return status, as_json(raw) or {}


def post_json(url, obj, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "jwt " + token
    status, raw = http("POST", url, json.dumps(obj).encode("utf-8"), headers)
    return status, as_json(raw) or {}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """The course-shop binary, serving on a free port with a fresh SQLite database in `workdir`,
    the development profile and `settings` (COURSE_SHOP__... variables) on top."""

    def __init__(self, binary, workdir, settings):
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        os.makedirs(os.path.join(workdir, "media"), exist_ok=True)
        self.env = dict(os.environ)
        self.env.update({
            "COURSE_SHOP_PROFILE": "development",
            "DATABASE_URL": "sqlite://{}/shop.db?mode=rwc".format(workdir),
            "PORT": str(self.port),
            "COURSE_SHOP__MEDIA__ROOT": os.path.join(workdir, "media"),
            "COURSE_SHOP__WORKERS__ENABLED": "false",
        })
        self.env.update(settings)
        self.base = "http://127.0.0.1:{}".format(self.port)
        self.api = self.base + "/api/v1"
        self.log_path = os.path.join(workdir, "server.log")
        self.proc = None

    def start(self):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.binary, "serve"], cwd=self.workdir, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if self.proc.poll() is not None:
                break
            try:
                status, _ = http("GET", self.base + "/readyz", timeout=2)
                if status == 200:
                    return "serving on 127.0.0.1:{} (gateway mode), /readyz ok".format(self.port)
            except OSError:
                pass
            time.sleep(0.2)
        raise Failed("server not ready; last log lines:\n" + self.log_tail())

    def log_tail(self, n=20):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def log_text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def add_user(self, username):
        done = subprocess.run([self.binary, "user", "add", username], cwd=self.workdir, env=self.env,
                              input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
        require(done.returncode == 0, "course-shop user add {} ({})".format(username, done.stderr.strip()[-200:]))

    def login_and_buy(self, username, pay_type):
        """Logs in, buys course 2 at its price with `pay_type`; (token, order answer)."""
        status, login = post_json(self.api + "/user/user/mul_login/", {"username": username, "password": PASSWORD})
        require(status == 200 and login.get("token"), "login answers a token (got {})".format(status))
        token = login["token"]
        status, course = get_json(self.api + "/course/list/2/")
        require(status == 200 and isinstance(course.get("price"), str), "course 2 has a price")
        body = {"courses": [2], "total_amount": course["price"], "subject": "Python 全栈开发", "pay_type": pay_type}
        status, order = post_json(self.api + "/order/alipay/", body, token)
        require(status == 200 and order.get("code") == 100 and order.get("out_trade_no"),
                "order with pay_type {}: 200, code 100 (got {} {})".format(pay_type, status, order))
        order["price"] = course["price"]
        return token, order

    def status_code(self, no):
        status, body = get_json(self.api + "/order/success/?out_trade_no=" + no)
        require(status == 200, "status endpoint answers 200")
        return body.get("code")

    def owns(self, token, course_id):
        status, mine = get_json(self.api + "/course/mine/", token)
        return status == 200 and any(c.get("course_id") == course_id and c.get("active") for c in mine.get("result", []))


def finish():
    sys.exit(1 if FAILED else 0)
