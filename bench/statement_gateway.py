#!/usr/bin/env python3
"""The statement benchmark's Alipay (bench/statement.sh): writes the trade statement zip of
the benchmark's orders and serves it as Alipay does.

  statement_gateway.py zip  --orders N --day YYYY-MM-DD --out FILE
  statement_gateway.py serve --zip FILE --key PEM --port-file FILE

The orders are the ones bench/statement.sh inserts (order i = 1..N, number CSB%012d, amount
990 + (i % 100) * 100 fen); the statement lists them with these differences planted:
  i % 20000 == 7   unpaid here, listed as paid       -> queried (the fake says "no such trade"):
                                                        flagged not_confirmed
  i % 10000 == 3   paid here, not listed             -> flagged not_listed
  i % 10000 == 5   listed with one fen more          -> flagged amount_differs
  i % 10000 == 9   also a refund of 1.00 yuan made in the console -> applied refund
  10 trades of another system (OTHERSHOP...)       -> flagged unknown_trade
The rest match. The zip is Alipay's format (GBK detail file with comments, tab-padded values,
end marker and totals; the (汇总) summary file), as crates/alipay/src/bill.rs reads it.

`serve` answers, signed with the TEST_ONLY "Alipay" key like the real gateway:
  alipay.data.dataservice.bill.downloadurl.query -> bill_download_url = this server's /bill.zip
  alipay.trade.query                             -> ACQ.TRADE_NOT_EXIST
and serves the zip at GET /bill.zip.
"""
import argparse
import base64
import io
import json
import sys
import urllib.parse
import zipfile
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEADER = [
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称",
    "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）",
    "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）",
    "卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注",
]
PID = "2088000000000001"


def yuan(fen):
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def amount(i):
    return 990 + (i % 100) * 100


def row(trade_no, out_trade_no, kind, at, fen, refund_no=""):
    values = [trade_no, out_trade_no, kind, "Bench course", at, at, "", "", "", "", "abc***@example.com",
              yuan(fen), yuan(fen), "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", refund_no,
              "0.00", "0.00", ""]
    return ",".join(v + "\t" for v in values) + "\r\n"


def write_zip(orders, day, out, one_line_totals=False):
    start = datetime(day.year, day.month, day.day, 10, 0, 0)
    ymd = day.strftime("%Y%m%d")
    detail = io.StringIO()
    end = day + timedelta(days=1)
    span = f"#起始日期：[{day.year}年{day.month:02d}月{day.day:02d}日 00:00:00]   终止日期：[{end.year}年{end.month:02d}月{end.day:02d}日 00:00:00]\r\n"
    detail.write("#支付宝业务明细查询\r\n")
    detail.write(f"#账号：[{PID}0156]\r\n")
    detail.write(span)
    detail.write("#-----------------------------------------业务明细列表----------------------------------------\r\n")
    detail.write(",".join(HEADER) + "\r\n")
    trades = refunds = income = outgo = 0
    for i in range(1, orders + 1):
        if i % 10000 == 3:
            continue
        at = (start + timedelta(seconds=i % 36000)).strftime("%Y-%m-%d %H:%M:%S")
        fen = amount(i) + (1 if i % 10000 == 5 else 0)
        trade_no = f"{ymd}22001{i:015d}"
        detail.write(row(trade_no, f"CSB{i:012d}", "交易", at, fen))
        trades += 1
        income += fen
        if i % 10000 == 9:
            detail.write(row(trade_no, f"CSB{i:012d}", "退款", at, -100, f"BENCHR{i}"))
            refunds += 1
            outgo += 100
    for k in range(10):
        at = start.strftime("%Y-%m-%d %H:%M:%S")
        detail.write(row(f"{ymd}22009{k:015d}", f"OTHERSHOP{k:08d}", "交易", at, 1234))
        trades += 1
        income += 1234
    detail.write("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
    if one_line_totals:
        # What builds before f6ae6e8 read (they refuse Alipay's two-line totals).
        detail.write(f"#交易合计：{trades}笔，退款合计：{refunds}笔\r\n")
    else:
        detail.write(f"#交易合计：{trades}笔，商家实收共{yuan(income)}元，商家优惠共0.00元\r\n")
        detail.write(f"#退款合计：{refunds}笔，商家实收退款共{yuan(-outgo)}元，商家优惠退款共0.00元\r\n")
    detail.write(f"#导出时间：[{end.year}年{end.month:02d}月{end.day:02d}日 09:12:01]\r\n")
    summary = ("#支付宝业务汇总查询\r\n" + f"#账号：[{PID}0156]\r\n" + span
               + "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）\r\n"
               + f"合计,,{trades},{refunds},0.00,0.00\r\n")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in ((f"{PID}0156_{ymd}_业务明细.csv", detail.getvalue()),
                           (f"{PID}0156_{ymd}_业务明细(汇总).csv", summary)):
            info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 9, 12, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode("gbk"))
    print(f"{trades + refunds} lines ({trades} payments, {refunds} refunds) in {out}", file=sys.stderr)


def serve(zip_path, key_path, port_file):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    with open(zip_path, "rb") as f:
        body = f.read()

    def signed(method, node):
        text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        sign = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
        name = method.replace(".", "_") + "_response"
        return f'{{"{name}":{text},"sign":"{sign}"}}'.encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, content_type, data):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.startswith("/bill.zip"):
                self.answer(200, "application/zip", body)
            else:
                self.answer(404, "text/plain", b"not found")

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = self.rfile.read(length).decode()
            query = urllib.parse.urlparse(self.path).query
            params = dict(urllib.parse.parse_qsl(query))
            params.update(urllib.parse.parse_qsl(form))
            method = params.get("method", "")
            if method == "alipay.data.dataservice.bill.downloadurl.query":
                host = self.headers.get("Host")
                node = {"code": "10000", "msg": "Success", "bill_download_url": f"http://{host}/bill.zip?day=1"}
            elif method == "alipay.trade.query":
                node = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                        "sub_msg": "交易不存在"}
            else:
                node = {"code": "40004", "msg": "Business Failed", "sub_code": "isv.not-played",
                        "sub_msg": "not played by the benchmark's gateway"}
            self.answer(200, "text/html;charset=utf-8", signed(method or "unknown", node))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    z = sub.add_parser("zip")
    z.add_argument("--orders", type=int, required=True)
    z.add_argument("--day", required=True)
    z.add_argument("--out", required=True)
    z.add_argument("--one-line-totals", action="store_true",
                   help="the totals in one comment line, for builds before f6ae6e8")
    s = sub.add_parser("serve")
    s.add_argument("--zip", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--port-file", required=True)
    a = p.parse_args()
    if a.cmd == "zip":
        write_zip(a.orders, date.fromisoformat(a.day), a.out, a.one_line_totals)
    else:
        serve(a.zip, a.key, a.port_file)


if __name__ == "__main__":
    main()
