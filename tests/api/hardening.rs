//! The edges of the server (issue 14).
use std::io::{Read as _, Write as _};
use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;
use shop_db::entities::order;

use crate::helpers::{Backend, TestApp};
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
    assert_eq!(order::Entity::find().count(&app.ctx.db).await.expect("count"), 0, "no order written");
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
