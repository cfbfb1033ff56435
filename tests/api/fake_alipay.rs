//! Alipay's part in the tests: a real HTTP server on a port that checks every request's
//! RSA2 signature with the app's public key and answers `alipay.trade.query` / `close` /
//! `refund` with responses signed by the test "Alipay" key (the simulator of `shop-app`,
//! which is protocol-faithful), plus switches for failures: a wrong signature, a hang
//! (timeout), a retryable system error. It also signs notifies.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shop_alipay::fake::{FakeAlipay, PaymentNotify};
use shop_alipay::{AlipayPublicKey, TradeStatus, parse_urlencoded};
use shop_app::payments::simulator::Simulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const APP_ID: &str = "2021000000000001";
pub const SELLER_ID: &str = "2088000000000001";

fn key(name: &str) -> String {
    let path = format!("{}/crates/alipay/tests/fixtures/test-only-keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// TEST-ONLY app private key (PKCS#8 base64), as the shop is configured with.
pub fn app_private_key() -> String {
    key("TEST_ONLY_app_private_key_pkcs8.b64.txt")
}

/// TEST-ONLY Alipay public key (SPKI base64), as the shop is configured with.
pub fn alipay_public_key() -> String {
    key("TEST_ONLY_alipay_public_key_spki.b64.txt")
}

/// How the gateway misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answer correctly.
    Normal,
    /// Sign answers with the wrong key.
    BadSignature,
    /// Never answer (the client times out).
    Hang,
    /// Answer `20000` service unavailable (retryable), signed.
    SystemError,
}

struct State {
    sim: Simulator,
    wrong: FakeAlipay,
    behaviour: Mutex<Behaviour>,
    truncate_statements: Mutex<bool>,
    calls: Mutex<Vec<(String, String)>>,
}

/// The fake gateway.
#[derive(Clone)]
pub struct FakeGateway {
    /// `http://127.0.0.1:PORT/gateway.do`.
    pub url: String,
    /// The "Alipay" key that signs notifies and answers.
    pub alipay: FakeAlipay,
    state: Arc<State>,
}

impl FakeGateway {
    pub async fn start() -> Self {
        let alipay =
            FakeAlipay::from_private_key(&key("TEST_ONLY_alipay_private_key_pkcs8.b64.txt")).expect("key");
        let app_public = AlipayPublicKey::parse(&key("TEST_ONLY_app_public_key_spki.b64.txt")).expect("key");
        let wrong = FakeAlipay::from_private_key(&app_private_key()).expect("key");
        let state = Arc::new(State {
            sim: Simulator::new(alipay.clone(), app_public, APP_ID.into(), SELLER_ID.into()),
            wrong,
            behaviour: Mutex::new(Behaviour::Normal),
            truncate_statements: Mutex::new(false),
            calls: Mutex::default(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/gateway.do", listener.local_addr().expect("addr"));
        state.sim.set_bill_url(format!("http://{}/bill.zip", listener.local_addr().expect("addr")));
        let serving = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&serving)));
            }
        });
        FakeGateway { url, alipay, state }
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        *self.state.behaviour.lock().expect("lock") = b;
    }

    /// Puts a trade in a state, as if the buyer had acted at Alipay.
    pub fn set_trade(&self, out_trade_no: &str, total_fen: i64, status: TradeStatus) {
        self.state.sim.set_trade(out_trade_no, total_fen, status);
    }

    pub fn trade_no(&self, out_trade_no: &str) -> String {
        self.state.sim.trade_no(out_trade_no).unwrap_or_else(|| "2026112122001000000000001".into())
    }

    /// A refund made in Alipay's merchant console (not through the API); its batch number.
    pub fn console_refund(&self, out_trade_no: &str, fen: i64) -> String {
        self.state.sim.console_refund(out_trade_no, fen).expect("a paid trade with that much left")
    }

    /// The statement zip of `day` (`yyyymmdd`) as the gateway serves it (whole).
    pub fn statement_zip(&self, day: &str) -> Vec<u8> {
        self.state.sim.statement_zip(&format!("day={day}")).expect("a statement")
    }

    /// Serves statements cut in half (a truncated zip) from now on.
    pub fn truncate_statements(&self, on: bool) {
        *self.state.truncate_statements.lock().expect("lock") = on;
    }

    pub fn refunded_fen(&self, out_trade_no: &str) -> i64 {
        self.state.sim.refunded_fen(out_trade_no)
    }

    /// `biz_content` of every call of `method` received so far.
    pub fn calls(&self, method: &str) -> Vec<serde_json::Value> {
        self.state
            .calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, biz)| serde_json::from_str(biz).unwrap_or(serde_json::Value::Null))
            .collect()
    }

    /// A realistic payment notify for an order, signed by "Alipay".
    pub fn paid_notify(
        &self,
        out_trade_no: &str,
        total_fen: i64,
        status: TradeStatus,
    ) -> Vec<(String, String)> {
        PaymentNotify {
            app_id: APP_ID.into(),
            seller_id: SELLER_ID.into(),
            out_trade_no: out_trade_no.into(),
            trade_no: self.trade_no(out_trade_no),
            notify_id: format!("notify-{out_trade_no}-{}", status.as_str()),
            trade_status: status,
            total_fen,
            subject: "Python 全栈开发".into(),
            paid_at: chrono::Utc::now(),
        }
        .to_params()
    }

    /// Signs notify parameters into a form body, as Alipay sends it.
    pub fn sign(&self, params: &[(String, String)]) -> String {
        self.alipay.notify_body(params).expect("sign")
    }
}

async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let Ok(n) = stream.read(&mut chunk).await else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let Ok(n) = stream.read(&mut chunk).await else { return };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[header_end..].to_vec();
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    if target.starts_with("/bill.zip") {
        // The statement file at `bill_download_url`: a zip, not a signed answer.
        let (status, mut zip) = match state.sim.statement_zip(query) {
            Some(zip) => ("200 OK", zip),
            None => ("404 Not Found", Vec::new()),
        };
        if *state.truncate_statements.lock().expect("lock") {
            zip.truncate(zip.len() / 2);
        }
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            zip.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&zip).await;
        return;
    }
    let mut params = parse_urlencoded(query).unwrap_or_default();
    params.extend(parse_urlencoded(&body).unwrap_or_default());
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let method = get("method");
    state.calls.lock().expect("lock").push((method.clone(), get("biz_content")));

    let behaviour = *state.behaviour.lock().expect("lock");
    let answer = match behaviour {
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        Behaviour::Normal => state.sim.gateway(query, &body),
        Behaviour::BadSignature => {
            // A correct answer, signed by somebody else.
            let good = state.sim.gateway(query, &body);
            let node = method.replace('.', "_") + "_response";
            let value: serde_json::Value = serde_json::from_str(&good).expect("json");
            state.wrong.signed_response(&method, &value[&node].to_string()).expect("sign")
        }
        Behaviour::SystemError => {
            state.sim_error(&method, "20000", "Service Currently Unavailable", "isp.unknown-error")
        }
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}

impl State {
    fn sim_error(&self, method: &str, code: &str, msg: &str, sub_code: &str) -> String {
        // Signed by the real "Alipay" key: a genuine, retryable error.
        let alipay =
            FakeAlipay::from_private_key(&key("TEST_ONLY_alipay_private_key_pkcs8.b64.txt")).expect("key");
        alipay
            .signed_response(method, &shop_alipay::fake::error_json(code, msg, sub_code, "系统繁忙"))
            .expect("sign")
    }
}
