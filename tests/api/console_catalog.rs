//! The console's banners, teacher portraits and deletions, and the provider mix of the sales
//! report, through the admin API and the console's pages, on SQLite and Postgres.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::{PNG, Session, public_soon};
use crate::helpers::{TestApp, json_of};
use crate::on_both_backends;

impl TestApp {
    /// Uploads `bytes` as the body of a console POST.
    async fn console_upload(
        &self,
        path: &str,
        session: &Session,
        bytes: &'static [u8],
    ) -> (StatusCode, Value) {
        let res = self
            .client
            .post(self.url(path))
            .header("Cookie", &session.cookie)
            .header("X-CSRF-Token", &session.csrf)
            .header("Content-Type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .expect("upload");
        json_of(res).await
    }

    /// A console POST answered in `lang` (`Accept-Language`).
    async fn console_post_in(
        &self,
        lang: &str,
        path: &str,
        session: &Session,
        body: &Value,
    ) -> (StatusCode, Value) {
        let res = self
            .client
            .post(self.url(path))
            .header("Cookie", &session.cookie)
            .header("X-CSRF-Token", &session.csrf)
            .header("Accept-Language", lang)
            .json(body)
            .send()
            .await
            .expect("request");
        json_of(res).await
    }

    async fn revision(&self) -> i64 {
        shop_db::catalog::revision(self.ctx.db()).await.expect("revision")
    }
}

fn banner_titles(public: &Value) -> Vec<String> {
    public["result"]
        .as_array()
        .expect("banners")
        .iter()
        .map(|b| b["title"].as_str().expect("title").to_owned())
        .collect()
}

/// Banners: created, refused with field errors in Chinese and English (nothing saved), shown
/// publicly once they have an image, changed, and deleted after a confirmation step; teacher
/// portraits uploaded and kept when the teacher's form is saved without one.
async fn banners_and_portraits_are_edited_through_the_admin_api(app: TestApp) {
    let who = app.refusers().await;
    for (method, path, body) in [
        (reqwest::Method::GET, "/api/v1/admin/banners/", json!({})),
        (reqwest::Method::POST, "/api/v1/admin/banners/", json!({"title": "x"})),
        (reqwest::Method::POST, "/api/v1/admin/banners/1/image/?filename=a.png", json!({})),
        (reqwest::Method::POST, "/api/v1/admin/teachers/1/image/?filename=a.png", json!({})),
        (reqwest::Method::POST, "/api/v1/admin/catalog/delete/", json!({"kind": "banner", "id": 1})),
    ] {
        app.assert_admin_only(&who, method, path, &body).await;
    }
    let boss = app.console_session("boss").await;
    let (status, before) = app.console_get("/api/v1/admin/banners/", &boss).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let count = before["result"].as_array().expect("banners").len();
    let revision = app.revision().await;

    // Validation: the field is named, in the request's language, and nothing is saved.
    for (body, field, zh, en) in [
        (json!({"title": " ", "link": "/free-course"}), "title", "不能为空", "is empty"),
        (json!({"title": "春季", "link": "javascript:alert(1)"}), "link", "站内路径", "a path of the site"),
        (json!({"title": "春季", "link": "//evil.example/"}), "link", "站内路径", "a path of the site"),
    ] {
        for (lang, text) in [("zh-CN", zh), ("en", en)] {
            let (status, answer) = app.console_post_in(lang, "/api/v1/admin/banners/", &boss, &body).await;
            assert_eq!((status, answer["code"].as_i64()), (StatusCode::BAD_REQUEST, Some(1000)), "{answer}");
            let message = answer["errors"][field][0].as_str().unwrap_or_default();
            assert!(message.contains(text), "{lang} {field}: {answer}");
        }
    }
    let (_, after) = app.console_get("/api/v1/admin/banners/", &boss).await;
    assert_eq!(after["result"].as_array().expect("banners").len(), count, "nothing saved");
    assert_eq!(app.revision().await, revision);

    let (status, answer) = app
        .console_post(
            "/api/v1/admin/banners/",
            &boss,
            &json!({"title": "春季大促", "link": "/free-course", "orders": -1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = answer["result"]["id"].as_i64().expect("id");
    assert_eq!(
        app.console_post("/api/v1/admin/banners/", &boss, &json!({"id": 999_999, "title": "x"})).await.0,
        StatusCode::NOT_FOUND
    );

    // The image: an image only; then the banner is public (first, by its order).
    let (status, answer) = app
        .console_upload(&format!("/api/v1/admin/banners/{id}/image/?filename=b.svg"), &boss, b"<svg/>")
        .await;
    assert!(status == StatusCode::BAD_REQUEST && answer["errors"]["image"].is_array(), "{answer}");
    let (status, answer) =
        app.console_upload(&format!("/api/v1/admin/banners/{id}/image/?filename=b.png"), &boss, PNG).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let image = answer["result"]["path"].as_str().expect("path").to_owned();
    assert!(image.starts_with(&format!("banners/{id}/")), "{image}");
    let public =
        public_soon(&app, "/api/v1/home/banner/", |b| banner_titles(b).contains(&"春季大促".to_owned()))
            .await;
    assert_eq!(banner_titles(&public)[0], "春季大促", "orders -1 comes first: {public}");
    let first = &public["result"][0];
    assert!(
        first["image"].as_str().expect("image").ends_with(&image) && first["link"] == "/free-course",
        "{public}"
    );
    let res = app.client.get(app.url(&format!("/media/{image}"))).send().await.expect("image");
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), PNG);

    // A change, then a deletion: first only asked, then done.
    let (status, _) = app
        .console_post(
            "/api/v1/admin/banners/",
            &boss,
            &json!({"id": id, "title": "夏季大促", "link": "https://example.com/a"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    public_soon(&app, "/api/v1/home/banner/", |b| banner_titles(b).contains(&"夏季大促".to_owned())).await;
    let html = app.console_page("/admin/banners/?lang=en", &boss).await;
    assert!(html.contains("夏季大促") && html.contains(&image) && html.contains("Delete"), "{html}");
    let revision = app.revision().await;
    let (status, answer) = app
        .console_post_in("en", "/api/v1/admin/catalog/delete/", &boss, &json!({"kind": "banner", "id": id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["result"]["needs_confirmation"], true, "{answer}");
    assert!(answer["result"]["confirmation"].as_str().expect("question").contains("夏季大促"), "{answer}");
    assert_eq!(app.revision().await, revision, "nothing done before the confirmation");
    let (status, answer) = app
        .console_post(
            "/api/v1/admin/catalog/delete/",
            &boss,
            &json!({"kind": "banner", "id": id, "confirm": true}),
        )
        .await;
    assert!(status == StatusCode::OK && answer["result"]["deleted"] == true, "{answer}");
    public_soon(&app, "/api/v1/home/banner/", |b| !banner_titles(b).contains(&"夏季大促".to_owned())).await;
    let (status, _) = app
        .console_post(
            "/api/v1/admin/catalog/delete/",
            &boss,
            &json!({"kind": "banner", "id": id, "confirm": true}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted once");
    let (status, answer) =
        app.console_post("/api/v1/admin/catalog/delete/", &boss, &json!({"kind": "planet", "id": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // A teacher's portrait, kept when the teacher is saved without `image`.
    let (_, answer) =
        app.console_post("/api/v1/admin/teachers/", &boss, &json!({"name": "Ferris", "title": "Crab"})).await;
    let teacher = answer["result"]["id"].as_i64().expect("id");
    let (status, answer) = app
        .console_upload(&format!("/api/v1/admin/teachers/{teacher}/image/?filename=f.txt"), &boss, b"hi")
        .await;
    assert!(status == StatusCode::BAD_REQUEST && answer["errors"]["image"].is_array(), "{answer}");
    let (status, answer) = app
        .console_upload(&format!("/api/v1/admin/teachers/{teacher}/image/?filename=f.png"), &boss, PNG)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let portrait = answer["result"]["path"].as_str().expect("path").to_owned();
    let (status, _) = app
        .console_post(
            "/api/v1/admin/teachers/",
            &boss,
            &json!({"id": teacher, "name": "Ferris", "title": "Chief crab"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, answer) = app
        .console_post(
            "/api/v1/admin/courses/",
            &boss,
            &json!({"name": "Crab course", "course_type": 1, "teacher_id": teacher, "level": 0, "status": 0,
                "price": "9.90", "period": 30}),
        )
        .await;
    let course = answer["result"]["id"].as_i64().expect("id");
    let public = public_soon(&app, &format!("/api/v1/course/list/{course}/"), |c| {
        c["teacher"]["title"] == "Chief crab"
    })
    .await;
    assert!(public["teacher"]["image"].as_str().expect("image").ends_with(&portrait), "{public}");
    let html = app.console_page("/admin/catalog/", &boss).await;
    assert!(
        html.contains(&portrait) && html.contains(&format!("/api/v1/admin/teachers/{teacher}/image/")),
        "{html}"
    );
}

on_both_backends!(banners_and_portraits_are_edited_through_the_admin_api);

/// Deletions: a confirmation step; refusals (409, in both languages, nothing changed) for a
/// category or teacher with courses, a course that was ordered, the last version of a
/// material buyers hold links to; a chapter goes with its sections, a course with its
/// chapters, in one transaction, and the public API follows.
async fn deletions_are_confirmed_or_refused(app: TestApp, gw: crate::fake_alipay::FakeGateway) {
    let app = &app;
    let boss = app.console_session("boss").await;
    let delete = |kind: &'static str, id: i64| json!({"kind": kind, "id": id, "confirm": true});

    // A course that was ordered stays: it is hidden instead.
    let token = app.buyer("shopper").await;
    let (no, fen) = app.order(&token, &[2]).await;
    let revision = app.revision().await;
    for (lang, text) in [("zh", "不能删除"), ("en", "cannot be deleted")] {
        let (status, answer) = app
            .console_post_in(
                lang,
                "/api/v1/admin/catalog/delete/",
                &boss,
                &json!({"kind": "course", "id": 2}),
            )
            .await;
        assert_eq!((status, answer["code"].as_i64()), (StatusCode::CONFLICT, Some(1020)), "{answer}");
        assert!(answer["msg"].as_str().expect("msg").contains(text), "{lang}: {answer}");
    }
    let (status, _) = app.console_post("/api/v1/admin/catalog/delete/", &boss, &delete("course", 2)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.revision().await, revision, "nothing changed");
    assert_eq!(app.get_json("/api/v1/course/list/2/").await.0, StatusCode::OK);

    // A category and a teacher with courses stay.
    let (_, c2) = app.get_json("/api/v1/course/list/2/").await;
    let (_, catalog) = app.console_get("/api/v1/admin/catalog/", &boss).await;
    let category = catalog["result"]["categories"][0][0].as_i64().expect("a category");
    let teacher_name = c2["teacher"]["name"].as_str().expect("teacher").to_owned();
    let teacher = catalog["result"]["teachers"]
        .as_array()
        .expect("teachers")
        .iter()
        .find(|t| t[1] == teacher_name.as_str())
        .and_then(|t| t[0].as_i64())
        .expect("teacher of course 2");
    for (kind, id, text) in
        [("category", category, "move or delete"), ("teacher", teacher, "another teacher")]
    {
        let (status, answer) =
            app.console_post_in("en", "/api/v1/admin/catalog/delete/", &boss, &delete(kind, id)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{kind}: {answer}");
        assert!(answer["msg"].as_str().expect("msg").contains(text), "{answer}");
    }
    assert_eq!(app.revision().await, revision);

    // A material buyers hold links to keeps its last version.
    let (status, _) = app
        .console_upload(
            "/api/v1/admin/courses/2/media/?filename=notes.pdf&material=notes&version=1",
            &boss,
            b"%PDF-1",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.pay(&gw, &no, fen).await;
    let material = |version: &'static str| async move {
        <shop_db::entities::material::Entity as sea_orm::EntityTrait>::find()
            .all(app.ctx.db())
            .await
            .expect("materials")
            .into_iter()
            .find(|m| m.course_id == 2 && m.name == "notes" && m.version == version)
            .map(|m| m.id)
    };
    let v1 = material("1").await.expect("version 1");
    let (status, answer) =
        app.console_post_in("en", "/api/v1/admin/catalog/delete/", &boss, &delete("material", v1)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer["msg"].as_str().expect("msg").contains("upload a new version"), "{answer}");
    let (status, _) = app
        .console_upload(
            "/api/v1/admin/courses/2/media/?filename=notes.pdf&material=notes&version=2",
            &boss,
            b"%PDF-2",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) =
        app.console_post("/api/v1/admin/catalog/delete/", &boss, &delete("material", v1)).await;
    assert_eq!(status, StatusCode::OK, "an older version may go: {answer}");
    assert_eq!(material("1").await, None);
    let v2 = material("2").await.expect("version 2");
    assert_eq!(
        app.console_post("/api/v1/admin/catalog/delete/", &boss, &delete("material", v2)).await.0,
        StatusCode::CONFLICT
    );

    // A new course, its chapter and sections: a section, then the chapter with the rest, then
    // the course.
    let (_, answer) = app
        .console_post(
            "/api/v1/admin/courses/",
            &boss,
            &json!({"name": "删除练习", "course_type": 1, "teacher_id": teacher, "level": 0, "status": 0,
                "price": "1.00", "period": 30}),
        )
        .await;
    let course = answer["result"]["id"].as_i64().expect("id");
    let (_, answer) = app
        .console_post(
            &format!("/api/v1/admin/courses/{course}/chapters/"),
            &boss,
            &json!({"chapter": 1, "name": "一"}),
        )
        .await;
    let chapter = answer["result"]["id"].as_i64().expect("id");
    let mut sections = Vec::new();
    for name in ["甲", "乙", "丙"] {
        let (_, answer) = app
            .console_post(
                &format!("/api/v1/admin/chapters/{chapter}/sections/"),
                &boss,
                &json!({"name": name}),
            )
            .await;
        sections.push(answer["result"]["id"].as_i64().expect("id"));
    }
    let chapters = |course: i64| async move {
        let (_, body) = app.get_json(&format!("/api/v1/course/chapter/?course={course}")).await;
        body.to_string()
    };
    public_soon(app, &format!("/api/v1/course/list/{course}/"), |_| true).await;
    let (status, answer) =
        app.console_post("/api/v1/admin/catalog/delete/", &boss, &delete("section", sections[0])).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let counted = <shop_db::entities::course::Entity as sea_orm::EntityTrait>::find_by_id(course)
        .one(app.ctx.db())
        .await
        .expect("course")
        .expect("row");
    assert_eq!(counted.sections, 2, "the course's sections are recounted");
    for _ in 0..50 {
        if !chapters(course).await.contains("甲") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let listed = chapters(course).await;
    assert!(!listed.contains("甲") && listed.contains("乙"), "{listed}");
    let (_, answer) = app
        .console_post_in(
            "en",
            "/api/v1/admin/catalog/delete/",
            &boss,
            &json!({"kind": "chapter", "id": chapter}),
        )
        .await;
    assert!(answer["result"]["confirmation"].as_str().expect("q").contains("2 section(s)"), "{answer}");
    assert_eq!(
        app.console_post("/api/v1/admin/catalog/delete/", &boss, &delete("chapter", chapter)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.console_post("/api/v1/admin/catalog/delete/", &boss, &delete("section", sections[1])).await.0,
        StatusCode::NOT_FOUND,
        "its sections went with it"
    );
    assert_eq!(
        app.console_post("/api/v1/admin/catalog/delete/", &boss, &delete("course", course)).await.0,
        StatusCode::OK
    );
    for _ in 0..50 {
        if app.get_json(&format!("/api/v1/course/list/{course}/")).await.0 == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.get_json(&format!("/api/v1/course/list/{course}/")).await.0, StatusCode::NOT_FOUND);

    // A category without courses goes; the course page offers the deletion.
    let (_, answer) = app.console_post("/api/v1/admin/categories/", &boss, &json!({"name": "空"})).await;
    let empty = answer["result"]["id"].as_i64().expect("id");
    assert_eq!(
        app.console_post("/api/v1/admin/catalog/delete/", &boss, &delete("category", empty)).await.0,
        StatusCode::OK
    );
    // Deleted rows are not edited, nor pointed to.
    let (status, answer) = app
        .console_post(
            "/api/v1/admin/courses/",
            &boss,
            &json!({"name": "x", "course_type": 1, "category_id": empty, "teacher_id": teacher, "level": 0,
                "status": 0, "price": "1.00", "period": 30}),
        )
        .await;
    assert!(status == StatusCode::BAD_REQUEST && answer["errors"]["category_id"].is_array(), "{answer}");
    let (status, _) = app
        .console_post(
            &format!("/api/v1/admin/courses/{course}/chapters/"),
            &boss,
            &json!({"chapter": 2, "name": "二"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the course is deleted");
    let html = app.console_page("/admin/catalog/courses/2/", &boss).await;
    assert!(html.contains("/api/v1/admin/catalog/delete/") && html.contains("value=\"material\""), "{html}");
}

crate::with_gateway_on_both_backends!(deletions_are_confirmed_or_refused);

/// The provider mix: orders and revenue per payment provider, summed by the database, in the
/// admin sales endpoint and on the sales page (a chart and a table).
async fn the_sales_report_has_the_provider_mix(app: TestApp, gw: crate::fake_alipay::FakeGateway) {
    let token = app.buyer("shopper").await;
    let (no, fen) = app.order(&token, &[7]).await;
    app.pay(&gw, &no, fen).await;
    app.order(&token, &[2]).await;
    let boss = app.console_session("boss").await;
    let (status, body) = app.console_get("/api/v1/admin/sales/", &boss).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let providers = body["result"]["providers"].as_array().expect("providers");
    assert_eq!(providers.len(), 1, "{body}");
    let alipay = &providers[0];
    let revenue = shop_domain::Money::from_fen(fen).expect("m").to_string();
    assert_eq!(
        (
            alipay["pay_type"].as_i64(),
            alipay["provider"].as_str(),
            alipay["orders_created"].as_u64(),
            alipay["orders_paid"].as_u64()
        ),
        (Some(1), Some("Alipay"), Some(2), Some(1)),
        "{body}"
    );
    assert_eq!(
        (alipay["revenue"].as_str(), alipay["revenue_share_percent"].as_f64()),
        (Some(revenue.as_str()), Some(100.0))
    );
    let html = app.console_page("/admin/sales/", &boss).await;
    assert!(
        html.contains("<svg id=\"chart-providers\"")
            && html.contains("支付宝")
            && html.contains("id=\"providers\""),
        "{html}"
    );
    let html = app.console_page("/admin/sales/?lang=en", &boss).await;
    assert!(html.contains(&format!("Alipay · Revenue: {revenue}")), "{html}");
}

crate::with_gateway_on_both_backends!(the_sales_report_has_the_provider_mix);
