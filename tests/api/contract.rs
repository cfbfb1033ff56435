//! The published contract says what the code enforces: each constraint of the served spec
//! equals the constant the validation reads, and a request just outside it is refused while
//! one at the bound is not. (scripts/schemathesis.sh checks the whole spec the same way,
//! with generated requests.)
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop_app::payments::{MAX_COURSES, MIN_COURSES};
use shop_domain::Money;
use shop_domain::catalog::{ID_MAX, ID_PATTERN};
use shop_domain::order::{PayType, Subject};
use shop_domain::paging::PageRequest;
use shop_domain::search::SearchTerm;
use shop_domain::user::{Mobile, Password, SmsCode};

use crate::helpers::{TestApp, json_of};
use crate::on_both_backends;

on_both_backends!(
    page_and_size_bounds,
    search_length,
    required_and_empty_query_values,
    mobile_pattern,
    purchase_body_bounds,
    registration_body_bounds,
    bodies_that_are_not_json_are_415_as_documented,
    an_empty_notify_is_refused,
    every_path_answers_405_with_allow,
);

async fn spec(app: &TestApp) -> Value {
    let (status, spec) = app.get_json("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    spec
}

/// The schema of a query parameter of `GET path`.
fn param(spec: &Value, path: &str, name: &str) -> Value {
    spec["paths"][path]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
        .clone()
}

/// The schema of a property of a component schema.
fn property(spec: &Value, component: &str, name: &str) -> Value {
    spec["components"]["schemas"][component]["properties"][name].clone()
}

fn field_error(body: &Value, field: &str) -> bool {
    body["code"] == 1000 && body["errors"][field].is_array()
}

async fn page_and_size_bounds(app: TestApp) {
    let spec = spec(&app).await;
    for path in ["/api/v1/course/list/", "/api/v1/course/search/"] {
        let page = param(&spec, path, "page");
        assert_eq!(page["schema"]["minimum"], 1);
        assert_eq!(page["schema"]["maximum"], PageRequest::MAX_PAGE);
        for size in ["size", "page_size"] {
            let size = param(&spec, path, size);
            assert_eq!(size["schema"]["minimum"], 1);
            assert_eq!(size["schema"]["maximum"], PageRequest::MAX_SIZE);
        }
        let at = |q: String| format!("{path}?{q}");
        let (status, body) = app.get_json(&at(format!("page={}", PageRequest::MAX_PAGE))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "the last page allowed is only past the end: {body}");
        let (status, body) = app.get_json(&at(format!("page={}", PageRequest::MAX_PAGE + 1))).await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "page"), "{body}");
        let (status, body) = app.get_json(&at("page=0".into())).await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "page"), "{body}");
        let (status, body) = app.get_json(&at(format!("size={}", PageRequest::MAX_SIZE))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cap = app.ctx.settings().api.max_page_size.min(body["count"].as_u64().unwrap_or(0));
        assert_eq!(body["results"].as_array().map(|r| r.len() as u64), Some(cap), "lowered to the cap");
        let (status, body) = app.get_json(&at(format!("page_size={}", PageRequest::MAX_SIZE + 1))).await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "size"), "{body}");
    }
    let ordering = param(&spec, "/api/v1/course/list/", "ordering");
    let names: Vec<&str> = shop_app::catalog::Ordering::VALUES.iter().map(|(n, _)| *n).collect();
    assert_eq!(ordering["schema"]["enum"], json!(names));
    for name in names {
        let (status, body) = app.get_json(&format!("/api/v1/course/list/?ordering={name}")).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
    }
    let (status, _) = app.get_json("/api/v1/course/list/?ordering=name").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn search_length(app: TestApp) {
    let spec = spec(&app).await;
    for name in ["search", "wd"] {
        let p = param(&spec, "/api/v1/course/search/", name);
        assert_eq!(p["schema"]["maxLength"], SearchTerm::MAX_CHARS);
        let (status, body) = app
            .get_json(&format!("/api/v1/course/search/?{name}={}", "长".repeat(SearchTerm::MAX_CHARS)))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app
            .get_json(&format!("/api/v1/course/search/?{name}={}", "长".repeat(SearchTerm::MAX_CHARS + 1)))
            .await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "search"), "{body}");
    }
    let min = param(&spec, "/api/v1/course/search/", "min_price");
    assert_eq!(min["schema"]["pattern"], Money::YUAN_PATTERN);
    let (status, body) = app.get_json("/api/v1/course/search/?min_price=100000000.00").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for bad in ["", "100000000.01", "1.001", "abc"] {
        let (status, body) = app.get_json(&format!("/api/v1/course/search/?min_price={bad}")).await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "min_price"), "{bad:?}: {body}");
    }
}

async fn required_and_empty_query_values(app: TestApp) {
    let spec = spec(&app).await;
    let course = param(&spec, "/api/v1/course/chapter/", "course");
    assert_eq!(course["required"], true);
    assert_eq!(course["schema"]["minimum"], 1);
    assert_eq!(course["schema"]["maximum"], ID_MAX);
    let category = param(&spec, "/api/v1/course/list/", "course_category");
    assert_eq!(category["schema"]["maximum"], ID_MAX);
    for query in ["", "?course=", "?course=0", "?course=01", "?course=%201"] {
        let (status, body) = app.get_json(&format!("/api/v1/course/chapter/{query}")).await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "course"), "{query}: {body}");
    }
    let (status, _) = app.get_json("/api/v1/course/chapter/?course=1").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get_json(&format!("/api/v1/course/chapter/?course={ID_MAX}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.get_json("/api/v1/course/list/?course_category=").await;
    assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "course_category"), "{body}");

    let no = param(&spec, "/api/v1/order/success/", "out_trade_no");
    assert_eq!((&no["required"], &no["schema"]["minLength"]), (&json!(true), &json!(1)));
    let (status, body) = app.get_json("/api/v1/order/success/?out_trade_no=").await;
    assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "out_trade_no"), "{body}");
    let (status, _) = app.get_json("/api/v1/order/success/?out_trade_no=x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn mobile_pattern(app: TestApp) {
    let spec = spec(&app).await;
    for path in ["/api/v1/user/user/mobile/", "/api/v1/user/user/send_sms/"] {
        let mobile = param(&spec, path, "mobile");
        assert_eq!(mobile["required"], true);
        assert_eq!(mobile["schema"]["pattern"], Mobile::PATTERN);
        assert_eq!(mobile["schema"]["minLength"], Mobile::LEN);
        assert_eq!(mobile["schema"]["maxLength"], Mobile::LEN);
    }
    let body_mobile = property(&spec, "SmsLogin", "mobile");
    assert_eq!(body_mobile["oneOf"][0]["pattern"], Mobile::PATTERN);
    assert_eq!(property(&spec, "SmsLogin", "code")["oneOf"][0]["pattern"], SmsCode::PATTERN);
    let (status, body) = app.get_json("/api/v1/user/user/mobile/?mobile=13812345678").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::OK, Some(101)));
    for bad in ["", "1381234567", "138123456789", "%2013812345678", "13812345678%0A", "12812345678"] {
        let (status, body) = app.get_json(&format!("/api/v1/user/user/mobile/?mobile={bad}")).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(102)), "{bad:?}");
    }
}

async fn purchase_body_bounds(app: TestApp) {
    let spec = spec(&app).await;
    let courses = property(&spec, "PayRequest", "courses");
    assert_eq!(courses["minItems"], MIN_COURSES);
    assert_eq!(courses["maxItems"], MAX_COURSES);
    assert_eq!(courses["uniqueItems"], true);
    assert_eq!(courses["items"]["oneOf"][0]["pattern"], ID_PATTERN);
    let subject = property(&spec, "PayRequest", "subject");
    assert_eq!(subject["maxLength"], Subject::MAX_CHARS);
    assert_eq!(subject["pattern"], Subject::PATTERN);
    assert_eq!(property(&spec, "PayRequest", "total_amount")["oneOf"][0]["pattern"], Money::YUAN_PATTERN);
    let pay_types: Vec<Value> =
        PayType::ALL.iter().flat_map(|t| [json!(t.code()), json!(t.code().to_string())]).collect();
    assert_eq!(pay_types, [json!(1), json!("1"), json!(2), json!("2"), json!(3), json!("3")]);
    assert_eq!(property(&spec, "PayRequest", "pay_type")["enum"], json!(pay_types));

    let token = app.buyer("contract").await;
    let buy = |courses: Value, subject: String, pay_type: Value| json!({"courses": courses, "total_amount": "1499.00", "subject": subject, "pay_type": pay_type});
    let ok_subject = "课".repeat(Subject::MAX_CHARS);
    let (status, body) = app.buy(&token, &buy(json!([]), "Python".into(), json!(1)), None).await;
    assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "courses"), "{body}");
    let too_many: Vec<String> = (1..=MAX_COURSES as i64 + 1).map(|i| i.to_string()).collect();
    let (status, body) = app.buy(&token, &buy(json!(too_many), "Python".into(), json!(1)), None).await;
    assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "courses"), "{body}");
    for bad in [json!(["02"]), json!([" 2"]), json!(["+2"]), json!([0])] {
        let (status, body) = app.buy(&token, &buy(bad.clone(), "Python".into(), json!(1)), None).await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "courses"), "{bad}: {body}");
    }
    let long = format!("{ok_subject}课");
    for bad in [long, "   ".into(), "a\u{7}b".into()] {
        let (status, body) = app.buy(&token, &buy(json!(["2"]), bad.clone(), json!(1)), None).await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "subject"), "{bad:?}: {body}");
    }
    for bad in [json!(""), json!(" 1"), json!(2)] {
        let (status, body) = app.buy(&token, &buy(json!(["2"]), "Python".into(), bad.clone()), None).await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "pay_type"), "{bad}: {body}");
    }
    let (status, body) = app.buy(&token, &buy(json!([2]), ok_subject, json!("1")), None).await;
    assert_eq!(status, StatusCode::OK, "one course, the longest subject: {body}");
}

async fn registration_body_bounds(app: TestApp) {
    let spec = spec(&app).await;
    let password = property(&spec, "MobileRegister", "password");
    assert_eq!(password["minLength"], Password::MIN_CHARS);
    assert_eq!(password["maxLength"], Password::MAX_CHARS);
    let register =
        |password: String| json!({"mobile": "13812345678", "code": "123456", "password": password});
    for bad in ["x".repeat(Password::MIN_CHARS - 1), "密".repeat(Password::MAX_CHARS + 1)] {
        let (status, body) = app.post_json("/api/v1/user/user/mobile_register/", &register(bad)).await;
        assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "password"), "{body}");
    }
    // At the bound the password is fine: what is refused then is the code nobody sent.
    let (status, body) = app
        .post_json("/api/v1/user/user/mobile_register/", &register("密".repeat(Password::MAX_CHARS)))
        .await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1013)), "{body}");

    let login = property(&spec, "PasswordLogin", "username");
    assert_eq!(login["pattern"], shop_domain::user::LoginIdentifier::PATTERN);
    let (status, body) = app
        .post_json("/api/v1/user/user/mul_login/", &json!({"username": " \u{3000}", "password": "x"}))
        .await;
    assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "username"), "{body}");
    let (status, body) =
        app.post_json("/api/v1/user/user/mul_login/", &json!({"username": "alex", "password": ""})).await;
    assert!(status == StatusCode::BAD_REQUEST && field_error(&body, "password"), "{body}");
}

async fn bodies_that_are_not_json_are_415_as_documented(app: TestApp) {
    let spec = spec(&app).await;
    let token = app.buyer("contract").await;
    for path in [
        "/api/v1/user/user/mul_login/",
        "/api/v1/user/user/mobile_login/",
        "/api/v1/user/user/mobile_register/",
        "/api/v1/order/pay/",
        "/api/v1/order/alipay/",
    ] {
        for status in ["413", "415"] {
            assert!(
                spec["paths"][path]["post"]["responses"][status].is_object(),
                "{path} documents {status}"
            );
        }
        let res = app
            .client
            .post(app.url(path))
            .header("Authorization", format!("jwt {token}"))
            .send()
            .await
            .expect("request");
        let (status, body) = json_of(res).await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some(1005)),
            "{path}"
        );
    }
}

async fn an_empty_notify_is_refused(app: TestApp) {
    let spec = spec(&app).await;
    let op = &spec["paths"]["/api/v1/order/success/"]["post"];
    assert_eq!(op["requestBody"]["required"], true);
    assert_eq!(op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["minLength"], 1);
    assert!(op["responses"]["400"].is_object());
    let res = app.client.post(app.url("/api/v1/order/success/")).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.text().await.expect("text"), "fail");
    let res = app
        .client
        .post(app.url("/api/v1/order/success/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("out_trade_no=x&sign=y")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK, "a notify that cannot be verified is Alipay's `fail`");
    assert_eq!(res.text().await.expect("text"), "fail");
}

async fn every_path_answers_405_with_allow(app: TestApp) {
    for (path, allow) in [
        ("/openapi.json", "GET"),
        ("/docs/", "GET"),
        ("/docs/swagger-ui.css", "GET"),
        ("/docs", "GET"),
        ("/media/icon/default.svg", "GET, HEAD"),
        ("/healthz", "GET"),
        ("/api/v1/course/list/", "GET"),
    ] {
        for method in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let res = app.client.request(method.clone(), app.url(path)).send().await.expect("request");
            assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(res.headers()["allow"], allow, "{method} {path}");
            let (_, body) = json_of(res).await;
            assert_eq!(body["code"], 1003, "{method} {path}");
        }
    }
    let res = app.client.get(app.url("/media/icon/default.svg")).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK, "GET still serves the file");
    let res = app.client.get(app.url("/openapi.json")).send().await.expect("request");
    assert_eq!(res.status(), StatusCode::OK, "GET still serves the spec");
}
