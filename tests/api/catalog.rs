//! Home, categories, course list, detail, chapters and search.
use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::public_soon;
use crate::helpers::TestApp;
use crate::on_both_backends;

fn ids(body: &Value) -> Vec<i64> {
    body["results"].as_array().expect("results").iter().map(|c| c["id"].as_i64().expect("id")).collect()
}

fn is_price(text: &str) -> bool {
    let (yuan, fen) = text.split_once('.').unwrap_or(("", ""));
    !yuan.is_empty()
        && yuan.bytes().all(|b| b.is_ascii_digit())
        && fen.len() == 2
        && fen.bytes().all(|b| b.is_ascii_digit())
}

on_both_backends!(
    health_and_readiness,
    banners_have_real_images,
    categories_are_listed,
    course_list_pages_like_drf,
    course_list_orders_and_filters,
    course_detail_has_the_contract_shape,
    chapters_come_with_sections,
    search_ranks_exact_prefix_substring,
    search_covers_teachers_types_and_prices,
    a_price_typed_in_the_search_box_finds_courses_with_that_price,
    search_rejects_bad_input,
    catalog_changes_reach_running_servers,
    course_changes_and_learner_counts_reach_search_soon,
);

async fn health_and_readiness(app: TestApp) {
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ready")));
}

async fn banners_have_real_images(app: TestApp) {
    let (status, body) = app.get_json("/api/v1/home/banner/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["code"], 100);
    let banners = body["result"].as_array().expect("result");
    assert_eq!(banners.len(), 3, "banner_count caps the four demo banners");
    for b in banners {
        let image = b["image"].as_str().expect("image");
        assert!(image.starts_with(&format!("{}/media/", app.address)), "{image}");
        assert!(b["title"].as_str().is_some_and(|t| !t.is_empty()));
        let res = app.client.get(image).send().await.expect("image request");
        assert_eq!(res.status(), StatusCode::OK);
        let content_type = res.headers()["content-type"].to_str().expect("ascii").to_owned();
        assert!(content_type.starts_with("image/"), "{content_type}");
        assert!(res.text().await.expect("svg").contains("<svg"));
    }
}

async fn categories_are_listed(app: TestApp) {
    let (status, body) = app.get_json("/api/v1/course/category/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["code"], 100);
    let result = body["result"].as_array().expect("result");
    assert_eq!(result.len(), 8);
    assert!(result.iter().all(|c| c["id"].is_i64() && c["name"].is_string()));
}

async fn course_list_pages_like_drf(app: TestApp) {
    // The tutorial's default page size is 2; 40 of the 41 demo courses are public.
    let (status, body) = app.get_json("/api/v1/course/list/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 40);
    assert_eq!(ids(&body).len(), 2);
    assert_eq!(body["previous"], Value::Null);
    let next = body["next"].as_str().expect("next");
    assert_eq!(next, format!("{}/api/v1/course/list/?page=2", app.address));

    let (_, page2) = app.get_json("/api/v1/course/list/?page=2").await;
    assert_eq!(page2["previous"].as_str(), Some(format!("{}/api/v1/course/list/", app.address).as_str()));
    let (_, page3) = app.get_json("/api/v1/course/list/?page=3&size=2").await;
    assert_eq!(
        page3["previous"].as_str(),
        Some(format!("{}/api/v1/course/list/?size=2&page=2", app.address).as_str())
    );

    let (_, five) = app.get_json("/api/v1/course/list/?page_size=5").await;
    assert_eq!(ids(&five).len(), 5);
    let (_, capped) = app.get_json("/api/v1/course/list/?size=500").await;
    assert_eq!(ids(&capped).len(), 40, "size is capped at 50, above the 40 courses");
    assert_eq!(capped["next"], Value::Null);
    assert!(!ids(&capped).contains(&23), "the hidden course is not listed");

    let (status, body) = app.get_json("/api/v1/course/list/?page=21").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::NOT_FOUND, Some(1004)));
    // Both spellings of the page size are checked, also when the other is given.
    for bad in ["page=0", "page=x", "size=-3", "size=5&page_size=x", "page_size=5&size=0"] {
        let (status, body) = app.get_json(&format!("/api/v1/course/list/?{bad}")).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{bad}");
    }
}

async fn course_list_orders_and_filters(app: TestApp) {
    let all = |q: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get_json(&format!("/api/v1/course/list/?size=50&{q}")).await;
            assert_eq!(status, StatusCode::OK, "{q}: {body}");
            body["results"].as_array().expect("results").clone()
        }
    };
    let fen = |c: &Value| {
        shop_domain::Money::parse_yuan(c["price"].as_str().expect("price")).expect("price parses").fen()
    };
    let by_price = all("ordering=price").await;
    assert!(by_price.windows(2).all(|w| fen(&w[0]) <= fen(&w[1])));
    let by_price_desc = all("ordering=-price").await;
    assert!(by_price_desc.windows(2).all(|w| fen(&w[0]) >= fen(&w[1])));
    let students = |c: &Value| c["students"].as_i64().expect("students");
    let by_students = all("ordering=-students").await;
    assert!(by_students.windows(2).all(|w| students(&w[0]) >= students(&w[1])));
    let by_students_asc = all("ordering=students").await;
    assert!(by_students_asc.windows(2).all(|w| students(&w[0]) <= students(&w[1])));

    let python = all("course_category=1").await;
    assert!(!python.is_empty() && python.len() < 40);
    let (status, body) = app.get_json("/api/v1/course/list/?course_category=999").await;
    assert_eq!((status, body["count"].as_i64()), (StatusCode::OK, Some(0)));
    let (status, body) = app.get_json("/api/v1/course/list/?ordering=name").await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)));
    let (status, _) = app.get_json("/api/v1/course/list/?course_category=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn course_detail_has_the_contract_shape(app: TestApp) {
    let (status, c) = app.get_json("/api/v1/course/list/2/").await;
    assert_eq!(status, StatusCode::OK);
    let keys: HashSet<&str> = c.as_object().expect("object").keys().map(String::as_str).collect();
    let expected: HashSet<&str> = [
        "id",
        "name",
        "course_img",
        "price",
        "students",
        "pub_sections",
        "sections",
        "brief",
        "attachment_path",
        "period",
        "course_type_name",
        "level_name",
        "status_name",
        "teacher",
        "section_list",
        "owned",
    ]
    .into();
    assert_eq!(keys, expected);
    assert_eq!(c["id"], 2);
    assert!(is_price(c["price"].as_str().expect("price")), "{}", c["price"]);
    assert!(["免费课", "实战课", "轻课"].contains(&c["course_type_name"].as_str().expect("type")));
    assert!(["初级", "中级", "高级"].contains(&c["level_name"].as_str().expect("level")));
    assert!(c["course_img"].as_str().expect("img").starts_with("http://"));
    let teacher_keys: HashSet<&str> =
        c["teacher"].as_object().expect("teacher").keys().map(String::as_str).collect();
    assert_eq!(teacher_keys, ["id", "name", "role", "title", "signature", "image", "brief"].into());
    let sections = c["section_list"].as_array().expect("section_list");
    assert!(!sections.is_empty() && sections.len() <= 4);
    for s in sections {
        let k: HashSet<&str> = s.as_object().expect("section").keys().map(String::as_str).collect();
        assert_eq!(k, ["id", "name", "section_link", "duration", "free_trail"].into());
    }
    // Course 13 has a section dated in the future: fewer published than total.
    let (_, rust) = app.get_json("/api/v1/course/list/13").await;
    assert!(rust["pub_sections"].as_i64() < rust["sections"].as_i64(), "{rust}");

    for missing in ["/api/v1/course/list/23/", "/api/v1/course/list/9999/", "/api/v1/course/list/abc/"] {
        let (status, body) = app.get_json(missing).await;
        assert_eq!((status, body["code"].as_i64()), (StatusCode::NOT_FOUND, Some(1004)), "{missing}");
    }
}

async fn chapters_come_with_sections(app: TestApp) {
    let (status, body) = app.get_json("/api/v1/course/chapter/?course=1").await;
    assert_eq!(status, StatusCode::OK);
    let chapters = body.as_array().expect("a bare array");
    assert!(chapters.len() >= 2);
    let numbers: Vec<i64> = chapters.iter().map(|c| c["chapter"].as_i64().expect("chapter")).collect();
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]));
    for chapter in chapters {
        let sections = chapter["coursesections"].as_array().expect("coursesections");
        assert!(!sections.is_empty());
        for s in sections {
            assert_eq!(s["chapter"], chapter["id"]);
            assert!((0..=2).contains(&s["section_type"].as_i64().expect("type")));
            assert!(s["pub_date"].as_str().is_some_and(|d| d.contains('T')));
        }
    }
    let (status, _) = app.get_json("/api/v1/course/chapter/").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get_json("/api/v1/course/chapter/?course=23").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn search_ranks_exact_prefix_substring(app: TestApp) {
    let (status, body) = app.get_json("/api/v1/course/search/?search=linux&page_size=10").await;
    assert_eq!(status, StatusCode::OK);
    let found = ids(&body);
    // 14 is "Linux" (exact), 15 "Linux 系统基础" (prefix), then the substrings.
    assert_eq!(&found[..2], &[14, 15], "{found:?}");
    let rest: HashSet<i64> = found[2..].iter().copied().collect();
    assert!(rest.contains(&16) && rest.contains(&37), "{found:?}");
    let (_, upper) = app.get_json("/api/v1/course/search/?search=LINUX&page_size=10").await;
    assert_eq!(ids(&upper), found, "case-insensitive");
    let (_, wd) = app.get_json("/api/v1/course/search/?wd=Linux&page_size=10").await;
    assert_eq!(ids(&wd), found, "wd is an alias of search");

    let (_, chinese) = app.get_json("/api/v1/course/search/?search=运维&page_size=50").await;
    let names: Vec<String> = chinese["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(!names.is_empty() && names.iter().all(|n| n.contains("运维")), "{names:?}");

    let (_, python) = app.get_json("/api/v1/course/search/?search=python&page_size=50").await;
    let names: Vec<String> = python["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_owned())
        .collect();
    let first_substring =
        names.iter().position(|n| !n.to_lowercase().starts_with("python")).unwrap_or(names.len());
    assert!(
        names[first_substring..].iter().all(|n| !n.to_lowercase().starts_with("python")),
        "prefix matches come first: {names:?}"
    );
}

async fn search_covers_teachers_types_and_prices(app: TestApp) {
    // Egon teaches courses whose names do not say so.
    let (_, egon) = app.get_json("/api/v1/course/search/?search=egon&page_size=50").await;
    let results = egon["results"].as_array().expect("results");
    assert!(results.iter().any(|c| !c["name"].as_str().unwrap_or("").to_lowercase().contains("egon")));
    assert!(results.iter().all(|c| {
        c["name"].as_str().unwrap_or("").to_lowercase().contains("egon")
            || c["teacher"]["name"].as_str().unwrap_or("").to_lowercase().contains("egon")
    }));

    let (_, everything) = app.get_json("/api/v1/course/search/?page_size=50").await;
    assert_eq!(everything["count"], 40);
    let types: HashSet<&str> = everything["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|c| c["course_type_name"].as_str())
        .collect();
    assert_eq!(types, ["免费课", "实战课", "轻课"].into(), "every course type is searchable");

    let (_, free) = app.get_json("/api/v1/course/search/?min_price=0&max_price=0&page_size=50").await;
    let free = free["results"].as_array().expect("results");
    assert!(!free.is_empty() && free.iter().all(|c| c["price"] == "0.00"));
    let (_, range) = app.get_json("/api/v1/course/search/?min_price=100&max_price=300.5&page_size=50").await;
    let range = range["results"].as_array().expect("results");
    assert!(!range.is_empty());
    for c in range {
        let fen = shop_domain::Money::parse_yuan(c["price"].as_str().expect("price")).expect("price").fen();
        assert!((10_000..=30_050).contains(&fen), "{}", c["price"]);
    }
}

/// The Luffy search box sends whatever is typed as `search`: a price finds the courses with it.
async fn a_price_typed_in_the_search_box_finds_courses_with_that_price(app: TestApp) {
    for term in ["99", "99.00", "99.0", "%C2%A599", "99%E5%85%83", "%EF%BF%A599.00"] {
        let (status, body) =
            app.get_json(&format!("/api/v1/course/search/?search={term}&page_size=50")).await;
        assert_eq!(status, StatusCode::OK, "{term}: {body}");
        let results = body["results"].as_array().expect("results");
        assert!(!results.is_empty(), "{term} finds something");
        assert!(results.iter().all(|c| c["price"] == "99.00"), "{term}: {body}");
        assert!(ids(&body).contains(&41), "{term}: {body}");
    }
    let (_, one_decimal) = app.get_json("/api/v1/course/search/?search=39.9&page_size=50").await;
    assert!(ids(&one_decimal).contains(&6), "39.9 is 39.90: {one_decimal}");
    assert!(one_decimal["results"].as_array().expect("results").iter().all(|c| c["price"] == "39.90"));
    let (_, other) = app.get_json("/api/v1/course/search/?search=99.9&page_size=50").await;
    assert_eq!(other["count"], 0, "99.9 is not 99.00: {other}");
    let (_, free) = app.get_json("/api/v1/course/search/?search=0%E5%85%83&page_size=50").await;
    assert!(free["count"].as_i64().is_some_and(|n| n > 0), "0元 lists the free courses: {free}");
    assert!(free["results"].as_array().expect("results").iter().all(|c| c["price"] == "0.00"));
    let (_, malformed) = app.get_json("/api/v1/course/search/?search=99.999").await;
    assert_eq!(malformed["count"], 0, "not an amount: names only");
}

async fn search_rejects_bad_input(app: TestApp) {
    let long = "x".repeat(51);
    for query in [
        format!("search={long}"),
        "min_price=abc".into(),
        "max_price=1.001".into(),
        "min_price=9&max_price=1".into(),
        "page=0".into(),
    ] {
        let (status, body) = app.get_json(&format!("/api/v1/course/search/?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["code"], 1000, "{query}");
        assert!(body["errors"].is_object(), "{query}: {body}");
    }
    let (status, body) = app.get_json("/api/v1/course/search/?search=nothing-matches-this").await;
    assert_eq!((status, body["count"].as_i64()), (StatusCode::OK, Some(0)));
}

async fn catalog_changes_reach_running_servers(app: TestApp) {
    // An operator imports a change (another process would do the same through the
    // database); the server's refresher picks up the new revision.
    let json = r#"{"teachers":[{"id":900,"name":"Grace Hopper"}],
                   "courses":[{"id":900,"name":"COBOL for the curious","teacher_id":900,"price":"9.90"}]}"#;
    shop_app::catalog::import_catalog_json(app.ctx.db(), json).await.expect("import");
    let mut found = Value::Null;
    for _ in 0..50 {
        let (_, body) = app.get_json("/api/v1/course/search/?search=cobol").await;
        if body["count"] == 1 {
            found = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found["results"][0]["id"], 900, "the new course became searchable: {found}");
    assert_eq!(found["results"][0]["price"], "9.90");
}

/// Course changes through the console API (created, given a first section, renamed and
/// repriced, hidden, shown again, deleted) and learner counts (a payment's side effect, with no
/// catalog write) reach search and the course's page within `catalog.refresh_seconds` (1 s
/// in tests; `public_soon` allows 5 s on a loaded machine), each by an update of the running
/// server's snapshot (only the changed course read, its name indexed), not a full reload; the
/// learner counts on a server that does not read every count meanwhile, within 3 s.
async fn course_changes_and_learner_counts_reach_search_soon(app: TestApp) {
    let boss = app.console_session("boss").await;
    let search = |term: &str| format!("/api/v1/course/search/?search={term}");
    let mut course = json!({"name": "Freshmint Rust", "course_type": 1, "category_id": null,
        "teacher_id": 1, "level": 0, "status": 0, "price": "19.90", "period": 30});
    let (status, answer) = app.console_post("/api/v1/admin/courses/", &boss, &course).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = answer["result"]["id"].as_i64().expect("id");
    let detail = format!("/api/v1/course/list/{id}/");
    let found = public_soon(&app, &search("freshmint"), |b| ids(b) == [id]).await;
    assert_eq!(found["results"][0]["price"], "19.90", "{found}");
    let snapshot = app.ctx.catalog().snapshot();
    assert!(snapshot.recent_names() >= 1, "an update indexed the new name: {}", snapshot.recent_names());

    let (_, answer) = app
        .console_post(
            &format!("/api/v1/admin/courses/{id}/chapters/"),
            &boss,
            &json!({"chapter": 1, "name": "Intro"}),
        )
        .await;
    let chapter = answer["result"]["id"].as_i64().expect("id");
    let (status, answer) = app
        .console_post(
            &format!("/api/v1/admin/chapters/{chapter}/sections/"),
            &boss,
            &json!({"name": "Mint leaves"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    public_soon(&app, &detail, |c| c["section_list"][0]["name"] == "Mint leaves").await;

    course["id"] = json!(id);
    course["name"] = json!("Peppermint Rust");
    course["price"] = json!("29.90");
    let (status, answer) = app.console_post("/api/v1/admin/courses/", &boss, &course).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let found = public_soon(&app, &search("peppermint"), |b| ids(b) == [id]).await;
    assert_eq!(found["results"][0]["price"], "29.90", "{found}");
    assert_eq!(app.get_json(&search("freshmint")).await.1["count"], 0, "the old name is gone");
    assert!(app.ctx.catalog().snapshot().recent_names() >= 1, "an update, not a full reload");
    let found = public_soon(&app, &search("29.90"), |b| ids(b).contains(&id)).await;
    assert!(!ids(&app.get_json(&search("19.90")).await.1).contains(&id), "the old price is gone: {found}");

    course["is_show"] = json!(false);
    app.console_post("/api/v1/admin/courses/", &boss, &course).await;
    public_soon(&app, &search("peppermint"), |b| b["count"] == 0).await;
    assert_eq!(app.get_json(&detail).await.0, StatusCode::NOT_FOUND, "hidden");
    course["is_show"] = json!(true);
    app.console_post("/api/v1/admin/courses/", &boss, &course).await;
    public_soon(&app, &search("peppermint"), |b| ids(b) == [id]).await;

    // Learners come with payments, which write no catalog revision. A second server whose
    // read of every learner count is an hour away shows them within catalog.refresh_seconds
    // (the courses are noted with the counts), as this one does.
    let other = TestApp::spawn_on(&app.db_url, |s| s.catalog.stats_refresh_seconds = 3600).await;
    public_soon(&other, &detail, |c| c["students"] == 0).await;
    let revision = shop_db::catalog::revision(app.ctx.db()).await.expect("revision");
    let paid = std::time::Instant::now();
    shop_db::orders::add_students(app.ctx.db(), &[(id, 3)]).await.expect("learners");
    public_soon(&other, &detail, |c| c["students"] == 3).await;
    let seen = paid.elapsed();
    // The interval, and as much again for a loaded machine (public_soon waits 5 s).
    let bound = 2 * std::time::Duration::from_secs(other.ctx.settings().catalog.refresh_seconds);
    assert!(seen <= bound + std::time::Duration::from_secs(1), "learners seen after {seen:?}");
    public_soon(&app, &detail, |c| c["students"] == 3).await;
    assert_eq!(shop_db::catalog::revision(app.ctx.db()).await.expect("revision"), revision);

    let delete = json!({"kind": "course", "id": id, "confirm": true});
    let (status, answer) = app.console_post("/api/v1/admin/catalog/delete/", &boss, &delete).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    public_soon(&app, &search("peppermint"), |b| b["count"] == 0).await;
    assert_eq!(app.get_json(&detail).await.0, StatusCode::NOT_FOUND, "deleted");
}
