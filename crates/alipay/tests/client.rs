//! The HTTP client against a tiny in-test HTTP server answering one canned response.

mod common;

use std::time::{Duration, Instant};

use common::{alipay_public, app_private, app_public, case};
use shop_alipay::form::parse_urlencoded;
use shop_alipay::{
    AlipayClient, ClientConfig, CloseOutcome, GatewayError, QueryOutcome, TradeStatus, request_sign_content,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// What the server saw.
#[derive(Debug)]
struct Seen {
    request_line: String,
    headers: String,
    body: Vec<u8>,
}

enum Answer {
    Body(&'static str),
    Status(u16),
    Never,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Serves exactly one connection on 127.0.0.1, returning the gateway URL and the captured
/// request.
async fn serve_once(answer: Answer) -> (String, oneshot::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head_end, content_length) = loop {
            let n = sock.read(&mut chunk).await.expect("read");
            assert!(n > 0, "client closed early");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(pos) = find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().expect("length"));
                break (pos + 4, len);
            }
        };
        while buf.len() < head_end + content_length {
            let n = sock.read(&mut chunk).await.expect("read body");
            assert!(n > 0, "client closed early");
            buf.extend_from_slice(&chunk[..n]);
        }
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let (request_line, headers) = head.split_once("\r\n").expect("request line");
        let _ = tx.send(Seen {
            request_line: request_line.to_owned(),
            headers: headers.to_owned(),
            body: buf[head_end..].to_vec(),
        });
        let response = match answer {
            Answer::Body(body) => format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
            Answer::Status(status) => {
                format!("HTTP/1.1 {status} Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            }
            Answer::Never => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
        };
        sock.write_all(response.as_bytes()).await.expect("write");
        let _ = sock.shutdown().await;
    });
    (format!("http://{addr}/gateway.do"), rx)
}

fn client(gateway_url: String, timeout: Duration) -> AlipayClient {
    AlipayClient::new(ClientConfig {
        app_id: "2021000123456789".into(),
        gateway_url,
        app_private_key: app_private(),
        alipay_public_key: alipay_public(),
        timeout,
    })
    .expect("client")
}

fn canned(name: &str) -> &'static str {
    case("response_cases", name)["body"].as_str().expect("body")
}

/// Checks the captured request is a correctly signed POST and returns its parameters.
fn check_request(seen: &Seen, method: &str) -> Vec<(String, String)> {
    assert!(seen.request_line.starts_with("POST /gateway.do?"), "{}", seen.request_line);
    assert!(
        seen.headers
            .to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded;charset=utf-8")
    );
    let target = seen.request_line.split(' ').nth(1).expect("target");
    let query = target.split_once('?').expect("query").1;
    let mut params = parse_urlencoded(query).expect("query");
    params.extend(parse_urlencoded(&seen.body).expect("body"));
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("missing {k}"))
    };
    assert_eq!(get("method"), method);
    assert_eq!(get("app_id"), "2021000123456789");
    assert_eq!(get("sign_type"), "RSA2");
    assert_eq!(get("charset"), "utf-8");
    assert!(std::str::from_utf8(&seen.body).expect("utf8").starts_with("biz_content="));
    app_public()
        .verify(&request_sign_content(&params), &get("sign"))
        .expect("request signature verifies with the app public key");
    params
}

#[tokio::test]
async fn query_success_with_valid_signature() {
    let (url, seen) = serve_once(Answer::Body(canned("query_success"))).await;
    let out = client(url, Duration::from_secs(5)).trade_query("ORD_2001").await.expect("query");
    let QueryOutcome::Found(t) = out else { panic!("{out:?}") };
    assert_eq!(t.trade_status, TradeStatus::TradeSuccess);
    assert_eq!(t.total_amount_fen, 8880);
    let params = check_request(&seen.await.expect("seen"), "alipay.trade.query");
    let biz = &params.iter().find(|(k, _)| k == "biz_content").expect("biz").1;
    assert_eq!(biz, r#"{"out_trade_no":"ORD_2001"}"#);
}

#[tokio::test]
async fn bad_signature_is_rejected() {
    let (url, _seen) = serve_once(Answer::Body(canned("query_bad_signature"))).await;
    let err = client(url, Duration::from_secs(5)).trade_query("ORD_2001").await.expect_err("bad signature");
    assert_eq!(err, GatewayError::BadSignature);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn unsigned_success_is_rejected() {
    let (url, _seen) = serve_once(Answer::Body(canned("query_unsigned_success"))).await;
    let err =
        client(url, Duration::from_secs(5)).trade_query("ORD_2001").await.expect_err("unsigned success");
    assert_eq!(err, GatewayError::BadSignature);
}

#[tokio::test]
async fn unsigned_app_level_error_is_an_error() {
    let (url, _seen) = serve_once(Answer::Body(canned("query_unsigned_app_error"))).await;
    let err = client(url, Duration::from_secs(5)).trade_query("ORD_2001").await.expect_err("app error");
    match &err {
        GatewayError::Business { code, sub_code, sub_msg, signed, .. } => {
            assert_eq!(code, "40002");
            assert_eq!(sub_code.as_deref(), Some("isv.invalid-app-id"));
            assert_eq!(sub_msg.as_deref(), Some("无效的AppID参数"));
            assert!(!signed);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("isv.invalid-app-id"), "{err}");
}

#[tokio::test]
async fn trade_not_exist_is_an_outcome() {
    let (url, _seen) = serve_once(Answer::Body(canned("query_trade_not_exist"))).await;
    let out = client(url, Duration::from_secs(5)).trade_query("ORD_404").await.expect("query");
    assert_eq!(out, QueryOutcome::NotExist);

    let (url, _seen) = serve_once(Answer::Body(canned("close_trade_not_exist"))).await;
    let out = client(url, Duration::from_secs(5)).trade_close("ORD_404").await.expect("close");
    assert_eq!(out, CloseOutcome::NotExist);
}

#[tokio::test]
async fn escaped_slashes_verify() {
    let body = canned("query_escaped_slash");
    assert!(body.contains("\\/"));
    let (url, _seen) = serve_once(Answer::Body(body)).await;
    let out = client(url, Duration::from_secs(5)).trade_query("ORD_2001").await.expect("query");
    let QueryOutcome::Found(t) = out else { panic!("{out:?}") };
    assert_eq!(t.buyer_logon_id.as_deref(), Some("a/b***@example.com"));
}

#[tokio::test]
async fn timeout_is_typed_and_retryable() {
    let (url, _seen) = serve_once(Answer::Never).await;
    let started = Instant::now();
    let err = client(url, Duration::from_millis(300)).trade_query("ORD_2001").await.expect_err("timeout");
    assert_eq!(err, GatewayError::Timeout);
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn connection_refused_is_transport_and_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = client(format!("http://{addr}/gateway.do"), Duration::from_secs(5))
        .trade_query("ORD_2001")
        .await
        .expect_err("refused");
    assert!(matches!(err, GatewayError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn http_5xx_is_retryable() {
    let (url, _seen) = serve_once(Answer::Status(502)).await;
    let err = client(url, Duration::from_secs(5)).trade_close("ORD_2001").await.expect_err("502");
    assert_eq!(err, GatewayError::HttpStatus { status: 502 });
    assert!(err.is_retryable());
}

#[tokio::test]
async fn close_and_refund() {
    let (url, seen) = serve_once(Answer::Body(canned("close_status_error"))).await;
    let out = client(url, Duration::from_secs(5)).trade_close("ORD_2001").await.expect("close");
    assert!(matches!(out, CloseOutcome::StatusError { .. }), "{out:?}");
    check_request(&seen.await.expect("seen"), "alipay.trade.close");

    let (url, seen) = serve_once(Answer::Body(canned("refund_success"))).await;
    let out = client(url, Duration::from_secs(5))
        .trade_refund("ORD_2001", 1000, "RF_1", Some("用户申请 a+b&c"))
        .await
        .expect("refund");
    assert!(out.fund_change);
    assert_eq!(out.refund_fee_fen, 1000);
    let params = check_request(&seen.await.expect("seen"), "alipay.trade.refund");
    let biz = &params.iter().find(|(k, _)| k == "biz_content").expect("biz").1;
    assert_eq!(
        biz,
        r#"{"out_trade_no":"ORD_2001","refund_amount":"10.00","out_request_no":"RF_1","refund_reason":"用户申请 a+b&c"}"#
    );

    let (url, _seen) = serve_once(Answer::Body(canned("refund_not_equal_total"))).await;
    let err = client(url, Duration::from_secs(5))
        .trade_refund("ORD_2001", 999_999, "RF_2", None)
        .await
        .expect_err("business error");
    assert!(matches!(err, GatewayError::Business { .. }) && !err.is_retryable());
}

#[tokio::test]
async fn invalid_arguments_and_config_are_rejected_without_io() {
    let c = client("http://127.0.0.1:9/gateway.do".into(), Duration::from_secs(1));
    assert!(matches!(c.trade_refund("ORD_1", 0, "RF_1", None).await, Err(GatewayError::InvalidRequest(_))));
    assert!(matches!(c.trade_query("").await, Err(GatewayError::InvalidRequest(_))));
    let bad = AlipayClient::new(ClientConfig {
        app_id: "2021".into(),
        gateway_url: "not a url".into(),
        app_private_key: app_private(),
        alipay_public_key: alipay_public(),
        timeout: Duration::from_secs(1),
    });
    assert!(matches!(bad, Err(GatewayError::InvalidRequest(_))));
}
