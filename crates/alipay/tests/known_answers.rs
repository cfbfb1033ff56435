//! Known-answer tests against python-alipay-sdk (fixtures made by `scripts/gen_fixtures.py`).
//!
//! RSASSA-PKCS1-v1_5 is deterministic, so the Rust signatures must be byte-identical to the
//! SDK's for the same string.

mod common;

use chrono::{TimeZone, Utc};
use common::{
    alipay_private, alipay_public, app_private, app_public, case, fixtures, fixtures_dir, key_text, pairs,
};
use shop_alipay::form::{encode_pairs, parse_urlencoded};
use shop_alipay::response::{parse_close_response, parse_query_response, parse_refund_response};
use shop_alipay::{
    AppPrivateKey, CloseOutcome, GatewayError, PagePay, QueryOutcome, TradeStatus, VerifyError,
    notify_sign_content, request_sign_content, verify_notify_body, verify_return,
};

fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("fixture field {key}"))
}

#[test]
fn request_sign_strings_and_signatures_match_the_sdk() {
    let keys: Vec<AppPrivateKey> = [
        "TEST_ONLY_app_private_key_pkcs1.pem",
        "TEST_ONLY_app_private_key_pkcs8.pem",
        "TEST_ONLY_app_private_key_pkcs1.b64.txt",
        "TEST_ONLY_app_private_key_pkcs8.b64.txt",
    ]
    .iter()
    .map(|f| AppPrivateKey::parse(&key_text(f)).expect("key"))
    .collect();
    let cases = fixtures()["request_cases"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    for c in cases {
        let name = s(c, "name");
        let params = pairs(&c["params"]);
        let content = request_sign_content(&params);
        assert_eq!(content, s(c, "sign_content"), "{name}");
        for key in &keys {
            assert_eq!(key.sign(&content).expect("sign"), s(c, "sign"), "{name}");
        }
        app_public().verify(&content, s(c, "sign")).unwrap_or_else(|_| panic!("{name}"));
    }
}

#[test]
fn page_pay_query_string_matches_the_sdk_byte_for_byte() {
    let pp = &fixtures()["page_pay"];
    let unsigned = pairs(&pp["unsigned_params"]);
    let content = request_sign_content(&unsigned);
    assert_eq!(content, s(pp, "sign_content"));
    let sign = app_private().sign(&content).expect("sign");

    // Decoding the SDK's query string gives the params + sign, in order.
    let decoded = parse_urlencoded(s(pp, "query_string")).expect("decode");
    let mut expected = unsigned.clone();
    expected.push(("sign".into(), sign));
    assert_eq!(decoded, expected);
    // And our encoder reproduces the SDK's (quote_plus) encoding exactly.
    assert_eq!(encode_pairs(&expected), s(pp, "query_string"));
}

#[test]
fn page_pay_url_matches_golden_file() {
    // Fixed inputs → deterministic URL. The python script checks this URL with the SDK.
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 7, 50, 46).single().expect("now");
    let url = PagePay::new("ORD_2001", 8880, "Rust 课程 a+b&c=d / 100%")
        .time_expire(now + chrono::Duration::minutes(30))
        .notify_url("http://127.0.0.1:18199/notify")
        .return_url("http://127.0.0.1:18199/return")
        .build_url(
            "https://openapi-sandbox.dl.alipaydev.com/gateway.do",
            "2021000123456789",
            &app_private(),
            now,
        )
        .expect("url");
    let golden = fixtures_dir().join("rust_page_pay_url.txt");
    if std::env::var_os("UPDATE_ALIPAY_FIXTURES").is_some() {
        std::fs::write(&golden, format!("{url}\n")).expect("write golden");
    }
    let expected = std::fs::read_to_string(&golden).expect("golden file (UPDATE_ALIPAY_FIXTURES=1)");
    assert_eq!(url, expected.trim_end());

    // Independent checks of the URL's content.
    let (gateway, query) = url.split_once('?').expect("query");
    assert_eq!(gateway, "https://openapi-sandbox.dl.alipaydev.com/gateway.do");
    assert!(!query.contains(' '));
    let params = parse_urlencoded(query).expect("decode");
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("missing {k}"))
    };
    assert_eq!(get("timestamp"), "2026-11-21 15:50:46");
    assert_eq!(get("method"), "alipay.trade.page.pay");
    assert_eq!(get("return_url"), "http://127.0.0.1:18199/return");
    assert_eq!(
        get("biz_content"),
        r#"{"out_trade_no":"ORD_2001","total_amount":"88.80","subject":"Rust 课程 a+b&c=d / 100%","product_code":"FAST_INSTANT_TRADE_PAY","time_expire":"2026-11-21 16:20:46"}"#
    );
    // The encoded sign never contains a raw '+', '/' or '='.
    let raw_sign = query.split('&').find_map(|kv| kv.strip_prefix("sign=")).expect("sign");
    assert!(!raw_sign.contains(['+', '/', '=']));
    app_public()
        .verify(&request_sign_content(&params), get("sign"))
        .expect("the URL's signature verifies with the app public key");
}

#[test]
fn notifies_signed_by_the_sdk_verify_and_parse() {
    let key = alipay_public();
    for c in fixtures()["notify_cases"].as_array().expect("cases") {
        let name = s(c, "name");
        let body = s(c, "body");
        let result = verify_notify_body(body, &key);
        if c["valid"] == false {
            assert_eq!(result, Err(VerifyError::BadSignature), "{name}");
            continue;
        }
        let n = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        if !["fund_bill_list_html_escaped", "signed_with_sign_type_v2"].contains(&name) {
            let params = parse_urlencoded(body).expect("decode");
            assert_eq!(notify_sign_content(&params), s(c, "sign_content"), "{name}");
        }
        let e = &c["expect"];
        let check = |field: &str, actual: String| {
            if let Some(v) = e.get(field) {
                let expected = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
                assert_eq!(actual, expected, "{name}: {field}");
            }
        };
        let rfc = |t: Option<chrono::DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)).unwrap_or_default()
        };
        check("notify_id", n.notify_id.clone());
        check("notify_type", n.notify_type.clone());
        check("app_id", n.app_id.clone());
        check("seller_id", n.seller_id.clone().unwrap_or_default());
        check("out_trade_no", n.out_trade_no.clone());
        check("trade_no", n.trade_no.clone());
        check("trade_status", n.trade_status.to_string());
        check("total_amount_fen", n.total_amount_fen.to_string());
        check("gmt_payment_utc", rfc(n.gmt_payment));
        check("gmt_refund_utc", rfc(n.gmt_refund));
        check("gmt_close_utc", rfc(n.gmt_close));
        check("refund_fee_fen", n.refund_fee_fen.map(|f| f.to_string()).unwrap_or_default());
        check("out_biz_no", n.out_biz_no.clone().unwrap_or_default());
        check("passback_params", n.passback_params.clone().unwrap_or_default());
        check(
            "subject",
            n.params.iter().find(|(k, _)| k == "subject").map(|(_, v)| v.clone()).unwrap_or_default(),
        );
    }
}

#[test]
fn notify_signatures_from_rust_equal_the_sdk_ones() {
    // Signing the SDK's notify string with the "alipay" test key gives the same signature.
    let c = case("notify_cases", "trade_success");
    let params = parse_urlencoded(s(c, "body")).expect("decode");
    let sign = &params.iter().find(|(k, _)| k == "sign").expect("sign").1;
    assert_eq!(&alipay_private().sign(s(c, "sign_content")).expect("sign"), sign);
}

#[test]
fn notify_quirks() {
    let key = alipay_public();
    // The &quot; variant verifies only thanks to the retry, and yields the unescaped JSON.
    let c = case("notify_cases", "fund_bill_list_html_escaped");
    assert!(s(c, "body").contains("%26quot%3B"));
    let n = verify_notify_body(s(c, "body"), &key).expect("verify");
    let fund = &n.params.iter().find(|(k, _)| k == "fund_bill_list").expect("fund_bill_list").1;
    assert!(fund.starts_with("[{\"amount\""));
    // The passback_params value is decoded exactly once.
    let c = case("notify_cases", "trade_success");
    let n = verify_notify_body(s(c, "body"), &key).expect("verify");
    assert_eq!(n.passback_params.as_deref(), Some("uid%3D7%26c%3Dx+y"));
    // A notify signed with the app key (not Alipay's) is rejected.
    let wrong = verify_notify_body(s(c, "body"), &app_public());
    assert_eq!(wrong, Err(VerifyError::BadSignature));
    // The body decoded twice no longer verifies (the subject's '+' would become a space).
    let twice = parse_urlencoded(s(c, "body"))
        .expect("decode")
        .into_iter()
        .map(|(k, v)| (k, v.replace('+', " ")))
        .collect::<Vec<_>>();
    assert_eq!(shop_alipay::verify_notify(&twice, &key), Err(VerifyError::BadSignature));
}

#[test]
fn return_parameters_verify() {
    let r = &fixtures()["return_case"];
    let params = parse_urlencoded(s(r, "query")).expect("decode");
    assert_eq!(notify_sign_content(&params), s(r, "sign_content"));
    let ret = verify_return(&params, &alipay_public()).expect("verify");
    assert_eq!(ret.out_trade_no, "ORD_2001");
    assert_eq!(ret.total_amount_fen, 8880);
    assert_eq!(ret.app_id, "2021000123456789");
    assert_eq!(ret.timestamp.map(|t| t.to_rfc3339()), Some("2026-11-21T07:51:15+00:00".into()));
}

fn body(name: &str) -> &'static str {
    case("response_cases", name)["body"].as_str().expect("body")
}

#[test]
fn gateway_responses_signed_by_the_sdk_key() {
    let key = alipay_public();
    let found = |name: &str| match parse_query_response(body(name), "ORD_2001", &key) {
        Ok(QueryOutcome::Found(t)) => t,
        other => panic!("{name}: {other:?}"),
    };
    let t = found("query_success");
    assert_eq!(t.trade_status, TradeStatus::TradeSuccess);
    assert_eq!(t.total_amount_fen, 8880);
    assert_eq!(t.trade_no, "2026112122001446880500000001");
    assert_eq!(t.send_pay_date.map(|d| d.to_rfc3339()), Some("2026-11-21T07:51:10+00:00".into()));
    found("query_success_sign_first");
    assert_eq!(found("query_escaped_slash").buyer_logon_id.as_deref(), Some("a/b***@example.com"));
    found("query_braces_in_strings");
    assert_eq!(
        parse_query_response(body("query_trade_not_exist"), "ORD_404", &key),
        Ok(QueryOutcome::NotExist)
    );
    assert_eq!(
        parse_query_response(body("query_bad_signature"), "ORD_2001", &key),
        Err(GatewayError::BadSignature)
    );
    assert_eq!(
        parse_query_response(body("query_unsigned_success"), "ORD_2001", &key),
        Err(GatewayError::BadSignature)
    );
    // A success for another order is not accepted.
    assert!(matches!(
        parse_query_response(body("query_success"), "ORD_OTHER", &key),
        Err(GatewayError::MalformedResponse(_))
    ));
    match parse_query_response(body("query_unsigned_app_error"), "ORD_2001", &key) {
        Err(e @ GatewayError::Business { .. }) => {
            assert!(!e.is_retryable());
            let GatewayError::Business { code, sub_code, signed, .. } = e else { unreachable!() };
            assert_eq!(code, "40002");
            assert_eq!(sub_code.as_deref(), Some("isv.invalid-app-id"));
            assert!(!signed);
        }
        other => panic!("{other:?}"),
    }
    for retryable in ["query_system_error", "query_service_unavailable"] {
        let e = parse_query_response(body(retryable), "ORD_2001", &key).expect_err(retryable);
        assert!(e.is_retryable(), "{retryable}: {e}");
    }

    assert_eq!(
        parse_close_response(body("close_success"), &key),
        Ok(CloseOutcome::Closed { trade_no: Some("2026112122001446880500000001".into()) })
    );
    assert_eq!(parse_close_response(body("close_trade_not_exist"), &key), Ok(CloseOutcome::NotExist));
    assert!(matches!(
        parse_close_response(body("close_status_error"), &key),
        Ok(CloseOutcome::StatusError { .. })
    ));

    let r = parse_refund_response(body("refund_success"), &key).expect("refund");
    assert!(r.fund_change);
    assert_eq!(r.refund_fee_fen, 1000);
    assert_eq!(r.gmt_refund_pay.map(|d| d.to_rfc3339()), Some("2026-11-22T02:00:00+00:00".into()));
    match parse_refund_response(body("refund_not_equal_total"), &key) {
        Err(GatewayError::Business { sub_code, signed, .. }) => {
            assert_eq!(sub_code.as_deref(), Some("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"));
            assert!(signed);
        }
        other => panic!("{other:?}"),
    }
    // Responses signed by the app key instead of Alipay's are rejected.
    assert_eq!(parse_refund_response(body("refund_success"), &app_public()), Err(GatewayError::BadSignature));
}
