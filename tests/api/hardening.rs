//! The edges of the server (issue 14): no HTTP/2 on plain TCP, security headers on every
//! answer, request logs without personal or signed values, amounts held to the documented
//! rule.
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use shop_db::entities::order;

use crate::helpers::{Backend, TempDir, TestApp};
use crate::on_both_backends;

on_both_backends!(order_amounts_follow_the_documented_rule);

/// An h2c client with prior knowledge opens with the HTTP/2 preface and a SETTINGS frame. A
/// server that speaks HTTP/2 answers with its own SETTINGS frame (type 4); ours must answer
/// as HTTP/1 (an error) or close.
#[tokio::test]
async fn http2_is_not_spoken_on_plain_tcp() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
        let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // an empty SETTINGS frame
        stream.write_all(&hello).expect("write");
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                // A server that keeps an HTTP/2 connection open stops here with its frames.
                Err(_) => break,
            }
        }
        answer
    })
    .await
    .expect("join");
    assert!(
        !(answer.len() >= 9 && answer[3] == 4),
        "the server answered with an HTTP/2 SETTINGS frame: {answer:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
        "not an HTTP/1 answer: {:?}",
        String::from_utf8_lossy(&answer)
    );
}

fn assert_common_headers(what: &str, res: &reqwest::Response) {
    let h = res.headers();
    assert_eq!(h.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{what}");
    assert_eq!(h.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"no-referrer"[..]), "{what}");
}

fn csp(res: &reqwest::Response) -> String {
    res.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Every answer (JSON, errors, CORS preflights, files) carries `nosniff` and the referrer
/// policy; every HTML page (result, cashier, download refusal, Swagger UI) also a CSP that
/// forbids framing, and still answers.
#[tokio::test]
async fn security_headers_on_every_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.buyer("headers").await;
    let (_, course) = app.get_json("/api/v1/course/list/2/").await;
    let price = course["price"].as_str().expect("price").to_owned();
    let (status, body) = app
        .buy(&token, &json!({"courses": [2], "total_amount": price, "subject": "课程", "pay_type": 1}), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pay_url = body["pay_url"].as_str().expect("pay_url").to_owned();
    let result_page = format!("/pay/result/?out_trade_no={}", body["out_trade_no"].as_str().expect("no"));

    let get = |path: &str| app.client.get(app.url(path));
    let non_html = [
        ("JSON", get("/api/v1/home/banner/"), StatusCode::OK),
        ("no route", get("/nowhere"), StatusCode::NOT_FOUND),
        ("wrong method", app.client.delete(app.url("/api/v1/home/banner/")), StatusCode::METHOD_NOT_ALLOWED),
        ("health", get("/healthz"), StatusCode::OK),
        ("spec", get("/openapi.json"), StatusCode::OK),
        ("Swagger UI script", get("/docs/swagger-ui-bundle.js"), StatusCode::OK),
        (
            "CORS preflight",
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/api/v1/order/pay/"))
                .header("Origin", "http://localhost:8080")
                .header("Access-Control-Request-Method", "POST"),
            StatusCode::OK,
        ),
    ];
    for (what, req, expected) in non_html {
        let res = req.send().await.expect(what);
        assert_eq!(res.status(), expected, "{what}");
        assert_common_headers(what, &res);
    }
    let html = [
        ("Swagger UI", app.client.get(app.url("/docs/")), StatusCode::OK),
        ("result page", get(&result_page), StatusCode::OK),
        ("cashier", app.client.get(&pay_url), StatusCode::OK),
        ("download refusal", get("/d/no-such-link").header("Accept", "text/html"), StatusCode::NOT_FOUND),
    ];
    for (what, req, expected) in html {
        let res = req.send().await.expect(what);
        assert_eq!(res.status(), expected, "{what}");
        assert_common_headers(what, &res);
        let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(ct.starts_with("text/html"), "{what}: {ct}");
        let policy = csp(&res);
        assert!(policy.contains("frame-ancestors 'none'"), "{what}: {policy:?}");
        assert!(policy.contains("default-src 'none'"), "{what}: {policy:?}");
        let page = res.text().await.expect("html");
        if what == "Swagger UI" {
            // The policy allows scripts from this server only: the page must have no inline
            // script, and load what it needs from here.
            for tag in page.split("<script").skip(1) {
                let head = tag.split('>').next().unwrap_or_default();
                assert!(head.contains("src=\"./"), "an inline or foreign script: <script{head}>");
            }
        }
    }
}

/// The per-request log lines, as the binary writes them, name the route pattern and carry no
/// mobile number, email address, signature or download token from the URL (no query at
/// all), in either log format.
#[tokio::test]
async fn request_logs_redact_personal_and_signed_values() {
    // The third run turns the line off by its target, as README's `log.filter` says.
    for (format, filter) in
        [("pretty", "info"), ("json", "info"), ("json", "info,shop_http::request_log=off")]
    {
        let line_on = !filter.contains("request_log=off");
        let dir = TempDir::new();
        let mut child = Command::new(env!("CARGO_BIN_EXE_course-shop"))
            .env("COURSE_SHOP_PROFILE", "test")
            .env("COURSE_SHOP__DATABASE__URL", format!("sqlite://{}/shop.db?mode=rwc", dir.0.display()))
            .env("COURSE_SHOP__MEDIA__ROOT", dir.0.join("media"))
            .env("COURSE_SHOP__STORAGE__LOCAL_ROOT", dir.0.join("private-media"))
            .env("COURSE_SHOP__EMAIL__FILE_DIR", dir.0.join("mail"))
            .env("COURSE_SHOP__ALIPAY__SIMULATOR_KEY_DIR", dir.0.join("alipay-simulator"))
            .env("COURSE_SHOP__LOG__FORMAT", format)
            .env("RUST_LOG", filter)
            .env_remove("DATABASE_URL")
            .env_remove("PORT")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn course-shop");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.trim_start().strip_prefix("API") {
                    let _ = port_tx.send(rest.trim().to_owned());
                }
                lines.push(line);
            }
            lines
        });
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        let api = port_rx.recv_timeout(Duration::from_secs(60)).expect("the server prints its address");
        let base = api.split("/api/v1/").next().expect("base").to_owned();
        let client = reqwest::Client::new();
        for path in [
            "/api/v1/user/user/send_sms/?mobile=13812345678",
            "/api/v1/user/user/mobile/?mobile=13912345678",
            "/api/v1/user/user/mobile/?mob%69le=13712345678",
            "/pay/result/?out_trade_no=CS0KEEPME&total_amount=1.00&buyer_logon_id=alice%40example.com\
             &sign=c2lnbmF0dXJlLXNlY3JldA%3D%3D&sign_type=RSA2",
            "/d/SECRETDOWNLOADTOKEN123",
            "/api/v1/course/search/?search=python&page=1",
        ] {
            let res = client.get(format!("{base}{path}")).send().await.expect("request");
            assert!(res.status().as_u16() < 500, "{path}: {}", res.status());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        child.kill().expect("stop the server");
        let _ = child.wait();
        let log = reader.join().expect("stdout").join("\n") + &errors.join().expect("stderr");
        // One line per request, naming the route pattern (written by the log writer thread,
        // within its flush interval, before the server is killed).
        for route in ["/api/v1/course/search/", "/pay/result/", "/d/{token}", "/api/v1/user/user/mobile/"] {
            let field = if format == "json" {
                format!("\"http.route\":\"{route}\"")
            } else {
                format!("http.route={route} ")
            };
            assert_eq!(
                log.contains(&field),
                line_on,
                "{format}, {filter}: the request line of {route}:\n{log}"
            );
        }
        // The query is not logged at all: neither personal values nor others.
        for secret in [
            "13812345678",
            "13912345678",
            "13712345678",
            "alice",
            "c2lnbmF0dXJl",
            "SECRETDOWNLOADTOKEN123",
            "search=python",
            "CS0KEEPME",
        ] {
            assert!(!log.contains(secret), "{format}: {secret} is in the log:\n{log}");
        }
    }
}

/// `total_amount` follows the one documented rule: plain digits with at most two decimals,
/// nothing around them. A valid but differently written amount is still accepted.
async fn order_amounts_follow_the_documented_rule(app: TestApp) {
    let token = app.buyer("strict").await;
    let (_, course) = app.get_json("/api/v1/course/list/2/").await;
    let price = course["price"].as_str().expect("price").to_owned();
    assert!(price.ends_with('0'), "course 2 costs {price}: the test needs a price ending in 0");
    for bad in [
        format!("{price}0"),
        format!(" {price}"),
        format!("{price} "),
        format!("+{price}"),
        format!("{}.", price.split('.').next().expect("yuan")),
    ] {
        let (status, body) = app
            .buy(
                &token,
                &json!({"courses": [2], "total_amount": bad, "subject": "课程", "pay_type": 1}),
                None,
            )
            .await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{bad:?}: {body}");
        assert!(body["errors"]["total_amount"][0].is_string(), "{bad:?}: {body}");
    }
    assert_eq!(order::Entity::find().count(app.ctx.db()).await.expect("count"), 0, "no order written");
    // One decimal is within the rule.
    let one_decimal = &price[..price.len() - 1];
    let (status, body) = app
        .buy(
            &token,
            &json!({"courses": [2], "total_amount": one_decimal, "subject": "课程", "pay_type": 1}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one_decimal:?}: {body}");
}
