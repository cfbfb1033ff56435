//! Delivering what was bought: access for the course's period, signed media URLs, private
//! download links with a limit (also under 20 concurrent requests), emails through a real
//! SMTP server (also while it is down), update campaigns, sales reports.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use shop_alipay::TradeStatus;
use shop_app::config::{EmailTransport, SmtpTls};
use shop_app::delivery::{CampaignRequest, MediaTarget};

use crate::fake_alipay::FakeGateway;
use crate::helpers::{Backend, TestApp, gateway_settings, spawn_with_gateway};
use crate::smtp_sink::SmtpSink;
use crate::with_gateway_on_both_backends;

fn material(name: &str, version: &str) -> MediaTarget {
    MediaTarget::Material { name: name.into(), version: version.into() }
}

/// The private links the buyer sees in `course/mine/`.
async fn my_links(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = app.get_json_auth("/api/v1/course/mine/", &format!("jwt {token}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"]
        .as_array()
        .expect("result")
        .iter()
        .flat_map(|c| c["downloads"].as_array().cloned().unwrap_or_default())
        .collect()
}

with_gateway_on_both_backends!(
    paying_grants_the_course_for_its_period_and_refunding_revokes_it,
    one_payment_grants_every_course_of_the_order_each_for_its_own_period,
    sections_play_through_short_lived_signed_urls,
    download_links_allow_five_downloads_of_the_latest_version,
    twenty_concurrent_downloads_on_five_left_serve_exactly_five,
    the_confirmation_email_is_written_once_with_working_links,
    notify_buyers_mails_each_owner_once_with_fresh_links,
    sales_reports_units_revenue_conversion_and_refunds,
    sales_are_summed_per_beijing_day_and_per_course,
    a_failed_job_in_a_batch_is_retried_alone,
);

/// Course 38 has no period (access for good), course 2 has 730 days: one order for both,
/// one payment, two grants.
async fn one_payment_grants_every_course_of_the_order_each_for_its_own_period(app: TestApp, gw: FakeGateway) {
    let token = app.buyer_with_email("two-courses").await;
    let auth = format!("jwt {token}");
    let (no, fen) = app.order(&token, &[38, 2]).await;
    app.pay(&gw, &no, fen).await;
    let paid_at = app.order_row(&no).await.pay_time.expect("paid");

    let (status, mine) = app.get_json_auth("/api/v1/course/mine/", &auth).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let mut courses: Vec<(i64, bool, Value)> = mine["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|c| (c["course_id"].as_i64().expect("id"), c["active"] == true, c["expires_at"].clone()))
        .collect();
    courses.sort_by_key(|c| c.0);
    assert_eq!(courses.len(), 2, "{mine}");
    assert_eq!((courses[0].0, courses[0].1), (2, true));
    let until =
        chrono::DateTime::parse_from_rfc3339(courses[0].2.as_str().expect("expires_at")).expect("time");
    assert_eq!(
        until.with_timezone(&chrono::Utc),
        paid_at + chrono::Duration::days(730),
        "730 days of access"
    );
    assert_eq!((courses[1].0, courses[1].1, &courses[1].2), (38, true, &Value::Null), "access for good");
    let orders: Vec<&Value> =
        mine["result"].as_array().expect("result").iter().map(|c| &c["out_trade_no"]).collect();
    assert_eq!(orders, [no.as_str(), no.as_str()], "both name the order that granted them");
}

async fn paying_grants_the_course_for_its_period_and_refunding_revokes_it(app: TestApp, gw: FakeGateway) {
    app.upload(2, "slides.pdf", b"%PDF-1.4 slides v1", material("slides", "1")).await;
    let token = app.buyer_with_email("owner").await;
    let auth = format!("jwt {token}");
    let (_, before) = app.get_json_auth("/api/v1/course/list/2/", &auth).await;
    assert_eq!(before["owned"], false);
    let (no, fen) = app.order(&token, &[2]).await;
    app.pay(&gw, &no, fen).await;

    let (_, after) = app.get_json_auth("/api/v1/course/list/2/", &auth).await;
    assert_eq!(after["owned"], true);
    let (_, anonymous) = app.get_json("/api/v1/course/list/2/").await;
    assert_eq!(anonymous["owned"], false, "owned is per user");
    let (_, page) = app.get_json_auth("/api/v1/course/list/?size=50", &auth).await;
    let owned: Vec<i64> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|c| c["owned"] == true)
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(owned, [2]);

    let (_, mine) = app.get_json_auth("/api/v1/course/mine/", &auth).await;
    let course = &mine["result"][0];
    assert_eq!((course["course_id"].as_i64(), course["active"].as_bool()), (Some(2), Some(true)));
    let period = after["period"].as_i64().expect("period");
    let row = app.order_row(&no).await;
    let granted = chrono::DateTime::parse_from_rfc3339(course["expires_at"].as_str().expect("expires_at"))
        .expect("time");
    let expected = row.pay_time.expect("paid") + chrono::Duration::days(period);
    assert!(
        (granted.with_timezone(&chrono::Utc) - expected).num_seconds().abs() <= 1,
        "expires after the course's period"
    );
    let links = my_links(&app, &token).await;
    assert_eq!(links.len(), 1);

    // A full refund revokes the course and the links.
    gw.set_trade(&no, fen, TradeStatus::TradeSuccess);
    shop_app::payments::request_refund(&app.ctx, &no, None, "test").await.expect("refund");
    app.drain_outbox().await;
    let (_, refunded) = app.get_json_auth("/api/v1/course/list/2/", &auth).await;
    assert_eq!(refunded["owned"], false);
    let (_, mine) = app.get_json_auth("/api/v1/course/mine/", &auth).await;
    assert_eq!(mine["result"].as_array().map(Vec::len), Some(0));
    let url = links[0]["url"].as_str().expect("url");
    let res = app.client.get(url).send().await.expect("download");
    assert_eq!(res.status(), StatusCode::GONE);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], 1041);
}

async fn sections_play_through_short_lived_signed_urls(app: TestApp, gw: FakeGateway) {
    // Course 2: section 14 is a paid section, 12 a free trial (see the demo catalog).
    let (_, chapters) = app.get_json("/api/v1/course/chapter/?course=2").await;
    let sections: Vec<&Value> = chapters
        .as_array()
        .expect("chapters")
        .iter()
        .flat_map(|c| c["coursesections"].as_array().expect("sections").iter())
        .collect();
    let paid = sections.iter().find(|s| s["free_trail"] == false).expect("a paid section")["id"]
        .as_i64()
        .expect("id");
    let free = sections.iter().find(|s| s["free_trail"] == true).expect("a free section")["id"]
        .as_i64()
        .expect("id");
    let video: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    app.upload(2, "lesson.mp4", &video, MediaTarget::Section(paid)).await;
    app.upload(2, "trial.mp4", b"trial video", MediaTarget::Section(free)).await;

    let stranger = app.buyer("stranger").await;
    let play = |section: i64, token: &str| {
        let (app, token) = (&app, token.to_owned());
        async move {
            app.get_json_auth(&format!("/api/v1/course/section/{section}/play/"), &format!("jwt {token}"))
                .await
        }
    };
    let (status, body) = play(paid, &stranger).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::FORBIDDEN, Some(1012)), "non-owners get 403");
    let (status, trial) = play(free, &stranger).await;
    assert_eq!(status, StatusCode::OK, "a free trial plays for anyone logged in: {trial}");
    let (status, _) = app.get_json(&format!("/api/v1/course/section/{free}/play/")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let owner = app.buyer("viewer").await;
    let (no, fen) = app.order(&owner, &[2]).await;
    app.pay(&gw, &no, fen).await;
    let (status, body) = play(paid, &owner).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["url"].as_str().expect("url").to_owned();
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().expect("expires_at")).expect("time");
    let ttl = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(ttl <= chrono::Duration::minutes(15) && ttl > chrono::Duration::minutes(5), "short-lived: {ttl}");

    let whole = app.client.get(&url).send().await.expect("play");
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert_eq!(whole.bytes().await.expect("bytes").as_ref(), video.as_slice());
    let part = app.client.get(&url).header("Range", "bytes=100-199").send().await.expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.expect("bytes").as_ref(), &video[100..200]);

    for (what, altered) in [
        ("another key", url.replace(&format!("sections/{paid}/"), &format!("sections/{free}/"))),
        ("later expiry", url.replacen("expires=", "expires=9", 1)),
        ("other signature", url.replacen("signature=", "signature=00", 1)),
        ("no signature", url.split('?').next().expect("path").to_owned()),
    ] {
        let res = app.client.get(&altered).send().await.expect("request");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{what}: {altered}");
    }
    // A section without media is a 404, not a broken URL.
    let bare = sections
        .iter()
        .map(|s| s["id"].as_i64().expect("id"))
        .find(|id| *id != paid && *id != free)
        .expect("another section");
    let (status, _) = play(bare, &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn download_links_allow_five_downloads_of_the_latest_version(app: TestApp, gw: FakeGateway) {
    app.upload(3, "notes.pdf", b"version one", material("notes", "1")).await;
    let token = app.buyer_with_email("reader").await;
    let (no, fen) = app.order(&token, &[3]).await;
    app.pay(&gw, &no, fen).await;
    let links = my_links(&app, &token).await;
    assert_eq!(links.len(), 1);
    let url = links[0]["url"].as_str().expect("url").to_owned();
    assert_eq!(links[0]["downloads_left"], 5);
    let token_part = url.rsplit('/').next().expect("token");
    assert!(token_part.len() >= 43, "unguessable: {token_part}");

    // The latest version is what a link serves.
    app.upload(3, "notes.pdf", b"version two", material("notes", "2")).await;
    for left in (0..5).rev() {
        let res = app.client.get(&url).send().await.expect("download");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-downloads-left"], left.to_string().as_str());
        assert!(res.headers()["content-disposition"].to_str().expect("ascii").contains("attachment"));
        assert_eq!(res.bytes().await.expect("bytes").as_ref(), b"version two");
    }
    let res = app.client.get(&url).send().await.expect("download");
    assert_eq!(res.status(), StatusCode::GONE);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], 1040);
    let html = app.client.get(&url).header("Accept", "text/html").send().await.expect("page");
    assert_eq!(html.status(), StatusCode::GONE);
    assert!(html.text().await.expect("html").contains("<html"), "a clear page for browsers");
    let (status, _) = app.get_json("/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get_json("/d/..%2F..%2Fetc%2Fpasswd").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn twenty_concurrent_downloads_on_five_left_serve_exactly_five(app: TestApp, gw: FakeGateway) {
    app.upload(4, "code.zip", &vec![7u8; 50_000], material("code", "1")).await;
    let token = app.buyer("crowd").await;
    let (no, fen) = app.order(&token, &[4]).await;
    app.pay(&gw, &no, fen).await;
    let url = my_links(&app, &token).await[0]["url"].as_str().expect("url").to_owned();
    let mut handles = Vec::new();
    for _ in 0..20 {
        let (client, url) = (app.client.clone(), url.clone());
        handles.push(tokio::spawn(async move {
            let res = client.get(url).send().await.expect("download");
            let status = res.status();
            let len = res.bytes().await.expect("body").len();
            (status, len)
        }));
    }
    let mut ok = 0;
    let mut gone = 0;
    for h in handles {
        match h.await.expect("join") {
            (StatusCode::OK, 50_000) => ok += 1,
            (StatusCode::GONE, _) => gone += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((ok, gone), (5, 15));
    assert_eq!(my_links(&app, &token).await[0]["downloads_left"], 0);
}

/// The worker runs a batch of `order_paid` jobs together; when one of them fails (here a
/// trigger refuses to count course 3's learners), the others still finish, with their emails
/// in the same pass, and only the failed one is tried again later: no course is counted
/// twice, no email sent twice. One outbox row per payment: the email is sent as part of its
/// `order_paid` job, not as a job of its own.
async fn a_failed_job_in_a_batch_is_retried_alone(app: TestApp, gw: FakeGateway) {
    use sea_orm::ConnectionTrait;
    let db = app.ctx.db();
    let students = || async {
        let courses = shop_db::orders::courses(db, &[2, 3, 4]).await.expect("courses");
        courses.iter().map(|c| (c.id, c.students)).collect::<std::collections::BTreeMap<_, _>>()
    };
    let before = students().await;
    let mut orders = Vec::new();
    for (name, course) in [("batch2", 2), ("batch3", 3), ("batch4", 4)] {
        let token = app.buyer_with_email(name).await;
        orders.push(app.order(&token, &[course]).await);
    }
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let (create, drop) = if postgres {
        db.execute_unprepared(
            "CREATE FUNCTION refuse_course_3() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
        )
        .await
        .expect("function");
        (
            "CREATE TRIGGER refuse_course_3 BEFORE UPDATE ON courses FOR EACH ROW WHEN (NEW.id = 3) EXECUTE FUNCTION refuse_course_3()",
            "DROP TRIGGER refuse_course_3 ON courses",
        )
    } else {
        (
            "CREATE TRIGGER refuse_course_3 BEFORE UPDATE ON courses WHEN NEW.id = 3 BEGIN SELECT RAISE(ABORT, 'refused'); END",
            "DROP TRIGGER refuse_course_3",
        )
    };
    db.execute_unprepared(create).await.expect("trigger");
    for (no, fen) in &orders {
        let (_, text) = app.post_notify(gw.sign(&gw.paid_notify(no, *fen, TradeStatus::TradeSuccess))).await;
        assert_eq!(text, "success");
    }
    let pass = shop_app::worker::run_once(&app.ctx).await.expect("pass");
    assert_eq!((pass.claimed, pass.done, pass.retried, pass.failed), (3, 2, 1, 0), "{pass:?}");
    let paid = shop_db::outbox::list(db, Some("order_paid")).await.expect("jobs");
    let failed: Vec<_> = paid.iter().filter(|j| j.status == "pending").collect();
    assert_eq!(failed.len(), 1, "{paid:?}");
    assert!(failed[0].payload.contains(&orders[1].0), "{failed:?}");
    assert!(failed[0].last_error.as_deref().is_some_and(|e| e.contains("refused")), "{failed:?}");
    let mid = students().await;
    assert_eq!((mid[&2], mid[&3], mid[&4]), (before[&2] + 1, before[&3], before[&4] + 1));
    let mails = || std::fs::read_dir(app.dir.join("mail")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(mails(), 2, "the emails of the two orders done, in the same pass");

    db.execute_unprepared(drop).await.expect("drop trigger");
    db.execute_unprepared("UPDATE outbox SET next_attempt_at = created_time WHERE status = 'pending'")
        .await
        .expect("due now");
    app.drain_outbox().await;
    let after = students().await;
    assert_eq!(
        after.values().copied().collect::<Vec<_>>(),
        before.values().map(|n| n + 1).collect::<Vec<_>>()
    );
    assert_eq!(mails(), 3, "one email per order");
    let jobs = shop_db::outbox::list(db, None).await.expect("jobs");
    let kinds = |kind: &str| jobs.iter().filter(|j| j.kind == kind).collect::<Vec<_>>();
    assert_eq!(kinds("order_paid").len(), 3);
    assert_eq!(kinds("order_email").len(), 0, "the emails went with their order_paid jobs: {jobs:?}");
    assert_eq!(jobs.len(), 3, "one outbox row per payment: {jobs:?}");
    assert!(jobs.iter().all(|j| j.status == "done"), "{jobs:?}");
    let attempts: Vec<i32> = kinds("order_paid").iter().map(|j| j.attempts).collect();
    assert_eq!(
        attempts.iter().filter(|a| **a == 2).count(),
        1,
        "only the failed job ran again: {attempts:?}"
    );
}

async fn the_confirmation_email_is_written_once_with_working_links(app: TestApp, gw: FakeGateway) {
    app.upload(5, "book.epub", b"an e-book", material("ebook", "1")).await;
    let token = app.buyer_with_email("mailme").await;
    let (no, fen) = app.order(&token, &[5]).await;
    app.pay(&gw, &no, fen).await;
    // A repeated notify does not send a second email.
    let (_, text) = app.post_notify(gw.sign(&gw.paid_notify(&no, fen, TradeStatus::TradeSuccess))).await;
    assert_eq!(text, "success");
    app.drain_outbox().await;
    let files: Vec<_> = std::fs::read_dir(app.dir.join("mail")).expect("mail dir").collect();
    assert_eq!(files.len(), 1, "one .eml file");
    let eml = std::fs::read_to_string(files[0].as_ref().expect("entry").path()).expect("eml");
    assert!(eml.contains("To: mailme@example.com"), "{eml}");
    assert!(eml.contains("multipart/alternative") && eml.contains("text/html") && eml.contains("text/plain"));
    let link = my_links(&app, &token).await[0]["url"].as_str().expect("url").to_owned();
    let token_part = link.rsplit('/').next().expect("token");
    // Quoted-printable may wrap long lines: compare with soft line breaks removed.
    assert!(eml.replace("=\r\n", "").replace("=\n", "").contains(token_part), "the link is in the email");
    let res = app.client.get(&link).send().await.expect("download");
    assert_eq!(res.bytes().await.expect("body").as_ref(), b"an e-book");
}

async fn notify_buyers_mails_each_owner_once_with_fresh_links(app: TestApp, gw: FakeGateway) {
    app.upload(6, "guide.pdf", b"guide v1", material("guide", "1")).await;
    let mut tokens = Vec::new();
    for name in ["buyer1", "buyer2", "buyer3"] {
        let token = app.buyer_with_email(name).await;
        let (no, fen) = app.order(&token, &[6]).await;
        app.pay(&gw, &no, fen).await;
        tokens.push(token);
    }
    let mail_dir = app.dir.join("mail");
    let count = || std::fs::read_dir(&mail_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(count(), 3, "three confirmations");
    let request = |dry_run: bool, version: Option<&str>| CampaignRequest {
        course_id: 6,
        subject: "课程更新 / Course update".into(),
        message: "新版讲义已上线。\nThe new guide is out.".into(),
        new_version: version.map(Into::into),
        dry_run,
    };
    let dry = shop_app::delivery::notify_buyers(&app.ctx.delivery(), request(true, None), &|_, _| {})
        .await
        .expect("dry run");
    assert_eq!((dry.owners, dry.with_email, dry.queued), (3, 3, 0));
    app.drain_outbox().await;
    assert_eq!(count(), 3, "a dry run sends nothing");

    // A version that was never uploaded is refused.
    assert!(
        shop_app::delivery::notify_buyers(&app.ctx.delivery(), request(false, Some("9")), &|_, _| {})
            .await
            .is_err()
    );
    app.upload(6, "guide.pdf", b"guide v2", material("guide", "2")).await;
    let report =
        shop_app::delivery::notify_buyers(&app.ctx.delivery(), request(false, Some("2")), &|_, _| {})
            .await
            .expect("campaign");
    assert_eq!((report.owners, report.queued, report.rerun), (3, 3, false));
    app.drain_outbox().await;
    assert_eq!(count(), 6, "one update per buyer");
    // Each link line names the latest version of its material when the email was written.
    let naming = |version: &str| {
        std::fs::read_dir(&mail_dir)
            .expect("mail dir")
            .map(|f| std::fs::read_to_string(f.expect("entry").path()).expect("eml"))
            .filter(|eml| {
                eml.replace("=\r\n", "").replace("=\n", "").contains(&format!("guide (v{version})"))
            })
            .count()
    };
    assert_eq!((naming("1"), naming("2")), (3, 3), "confirmations name v1, updates v2");
    // Rerun: nobody gets it twice.
    let again = shop_app::delivery::notify_buyers(&app.ctx.delivery(), request(false, Some("2")), &|_, _| {})
        .await
        .expect("rerun");
    assert_eq!((again.queued, again.rerun), (0, true));
    app.drain_outbox().await;
    assert_eq!(count(), 6);
    // Each buyer has a fresh link with a full count, serving v2.
    for token in &tokens {
        let links = my_links(&app, token).await;
        assert_eq!(links.len(), 2, "purchase link + fresh campaign link");
        let fresh = links.iter().find(|l| l["downloads_left"] == 5).expect("fresh link");
        let body = app
            .client
            .get(fresh["url"].as_str().expect("url"))
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(body.as_ref(), b"guide v2");
    }
}

async fn sales_reports_units_revenue_conversion_and_refunds(app: TestApp, gw: FakeGateway) {
    let token = app.buyer("shopper").await;
    let (a, fa) = app.order(&token, &[7]).await;
    let (b, fb) = app.order(&token, &[8, 10]).await;
    let (_unpaid, _) = app.order(&token, &[12]).await;
    app.pay(&gw, &a, fa).await;
    app.pay(&gw, &b, fb).await;
    gw.set_trade(&a, fa, TradeStatus::TradeSuccess);
    shop_app::payments::request_refund(&app.ctx, &a, None, "test").await.expect("refund");
    app.drain_outbox().await;

    let r = shop_app::delivery::sales_report(&app.ctx.delivery(), None).await.expect("report");
    assert_eq!((r.created, r.paid), (3, 2));
    assert_eq!(r.revenue.fen(), fa + fb);
    assert_eq!(r.refunded.fen(), fa);
    assert_eq!(r.net().fen(), fb);
    assert!((r.conversion_percent() - 200.0 / 3.0).abs() < 0.01);
    let units: Vec<(i64, u64)> = r.courses.iter().map(|c| (c.course_id, c.units)).collect();
    assert_eq!(units.len(), 3, "{units:?}");
    assert!(units.iter().all(|(_, n)| *n == 1));

    // The admin endpoint checks the role on the server.
    let (status, body) = app.get_json_auth("/api/v1/admin/sales/", &format!("jwt {token}")).await;
    assert_eq!((status, body["code"].as_i64()), (StatusCode::FORBIDDEN, Some(1012)));
    let admin = shop_app::accounts::add_user(
        &app.ctx.accounts(),
        shop_app::accounts::AddUser {
            username: "boss".into(),
            email: None,
            mobile: None,
            password: secrecy::SecretString::from("correct horse".to_owned()),
            admin: true,
        },
    )
    .await
    .expect("admin");
    assert_eq!(admin.role, shop_domain::user::Role::Admin);
    let boss = app.login("boss", "correct horse").await;
    let (status, body) = app.get_json_auth("/api/v1/admin/sales/?period=week", &format!("jwt {boss}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["orders_created"], 3);
    assert_eq!(body["result"]["orders_paid"], 2);
    assert_eq!(body["result"]["refunded"], shop_domain::Money::from_fen(fa).expect("m").to_string());
    let (status, _) = app.get_json_auth("/api/v1/admin/sales/?period=year", &format!("jwt {boss}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The database sums the report: five orders of three buyers over three Beijing days (the
/// first two orders eight hours apart across midnight in Beijing), one of them refunded, one
/// unpaid, courses bought more than once.
async fn sales_are_summed_per_beijing_day_and_per_course(app: TestApp, gw: FakeGateway) {
    use chrono::{NaiveDate, TimeZone, Utc};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use shop_db::entities::order;

    let (one, two, three) =
        (app.buyer("day-one").await, app.buyer("day-two").await, app.buyer("day-three").await);
    let (a, fa) = app.order(&one, &[7]).await;
    let (b, fb) = app.order(&one, &[8, 10]).await;
    let (c, fc) = app.order(&two, &[7]).await;
    let (d, _) = app.order(&three, &[12]).await;
    let (e, fe) = app.order(&two, &[8]).await;
    for (no, fen) in [(&a, fa), (&b, fb), (&c, fc), (&e, fe)] {
        app.pay(&gw, no, fen).await;
    }
    gw.set_trade(&a, fa, TradeStatus::TradeSuccess);
    shop_app::payments::request_refund(&app.ctx, &a, None, "test").await.expect("refund");
    app.drain_outbox().await;
    let utc = |d, h, m| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).single().expect("time");
    for (no, at) in [
        (&a, utc(20, 15, 59)), // 23:59 in Beijing, 20 November
        (&b, utc(20, 16, 0)),  // 00:00 in Beijing, 21 November
        (&c, utc(21, 3, 0)),
        (&d, utc(22, 1, 0)),
        (&e, utc(22, 2, 30)),
    ] {
        order::Entity::update_many()
            .col_expr(order::Column::CreatedTime, Expr::value(at))
            .filter(order::Column::OutTradeNo.eq(no.as_str()))
            .exec(app.ctx.db())
            .await
            .expect("move the order in time");
    }
    let day = |d| Some(NaiveDate::from_ymd_opt(2026, 11, d).expect("day"));

    let r = shop_app::delivery::sales_report(&app.ctx.delivery(), None).await.expect("report");
    assert_eq!((r.created, r.paid), (5, 4));
    assert_eq!((r.revenue.fen(), r.refunded.fen()), (fa + fb + fc + fe, fa));
    let days: Vec<_> =
        r.days.iter().map(|x| (x.day, x.created, x.paid, x.revenue.fen(), x.refunded.fen())).collect();
    assert_eq!(
        days,
        [(day(20), 1, 1, fa, fa), (day(21), 2, 2, fb + fc, 0), (day(22), 2, 1, fe, 0)],
        "per Beijing day, oldest first"
    );
    // Course 8 costs fe (order e), so order b's line of course 10 is fb - fe.
    let courses: Vec<_> = r.courses.iter().map(|x| (x.course_id, x.units, x.revenue.fen())).collect();
    let mut expected = vec![(7, 2, fa + fc), (8, 2, 2 * fe), (10, 1, fb - fe)];
    expected.sort_by(|x, y| y.2.cmp(&x.2).then(y.1.cmp(&x.1)).then(x.0.cmp(&y.0)));
    assert_eq!(courses, expected, "best sellers first; the refunded unit counts, the unpaid does not");
    assert!(r.courses.iter().all(|x| !x.name.is_empty()), "names from the catalog");

    // Since a day (UTC): order b, created at 16:00 UTC the day before, is left out.
    let since = shop_app::delivery::ReportPeriod::parse(None, Some("2026-11-21")).expect("period");
    let r =
        shop_app::delivery::sales_report(&app.ctx.delivery(), since.start(Utc::now())).await.expect("report");
    assert_eq!((r.created, r.paid, r.revenue.fen(), r.refunded.fen()), (3, 2, fc + fe, 0));
    let days: Vec<_> = r.days.iter().map(|x| (x.day, x.created, x.paid)).collect();
    assert_eq!(days, [(day(21), 1, 1), (day(22), 2, 1)]);
    let courses: Vec<_> = r.courses.iter().map(|x| (x.course_id, x.units)).collect();
    let mut expected = [(7, 1, fc), (8, 1, fe)];
    expected.sort_by(|x, y| y.2.cmp(&x.2).then(x.0.cmp(&y.0)));
    assert_eq!(courses, expected.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>());
}

/// Emails go through a real SMTP server; while it is down orders are still paid, and once
/// it is back every email is delivered exactly once.
#[tokio::test]
async fn emails_survive_an_smtp_outage_and_are_sent_once() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let sink = SmtpSink::start().await;
        let gw = FakeGateway::start().await;
        let app = TestApp::spawn_with(backend, |s| {
            gateway_settings(s, &gw);
            s.email.transport = EmailTransport::Smtp;
            s.email.smtp_host = "127.0.0.1".into();
            s.email.smtp_port = sink.port();
            s.email.smtp_tls = SmtpTls::None;
            s.email.timeout_seconds = 2;
            s.outbox.backoff_base_seconds = 1;
            s.outbox.backoff_max_seconds = 1;
        })
        .await;
        app.upload(2, "slides.pdf", b"slides", material("slides", "1")).await;
        sink.set_down(true);
        let mut orders = Vec::new();
        for name in ["mailer1", "mailer2", "mailer3"] {
            let token = app.buyer_with_email(name).await;
            let (no, fen) = app.order(&token, &[2]).await;
            app.pay(&gw, &no, fen).await;
            orders.push(no);
        }
        for no in &orders {
            assert_eq!(app.order_row(no).await.order_status.code(), 1, "paid although SMTP is down");
        }
        // Each payment's one job did its database work and waits to send the email alone.
        let pending = shop_db::outbox::list(app.ctx.db(), None).await.expect("jobs");
        assert_eq!(pending.len(), 3, "one job per payment: {pending:?}");
        assert!(
            pending.iter().all(|j| j.kind == "order_paid"
                && j.status == "pending"
                && j.last_error.is_some()
                && j.payload.starts_with(r#"{"kind":"order_email","order_id":"#)),
            "{pending:?}"
        );
        assert!(sink.messages().is_empty());
        let learners =
            || async { shop_db::orders::courses(app.ctx.db(), &[2]).await.expect("courses")[0].students };
        let counted = learners().await;

        sink.set_down(false);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        app.drain_outbox().await;
        let mails = sink.wait_for(3, Duration::from_secs(10)).await;
        assert_eq!(mails.len(), 3, "{backend:?}");
        let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(to, ["mailer1@example.com", "mailer2@example.com", "mailer3@example.com"]);
        assert!(mails.iter().all(|m| m.subject().contains("支付成功") && m.html_part().contains("/d/")));
        // Nothing more goes out later: each email exactly once.
        app.drain_outbox().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.messages().len(), 3);
        assert_eq!(learners().await, counted, "the retries sent the emails only: {backend:?}");
        let jobs = shop_db::outbox::list(app.ctx.db(), None).await.expect("jobs");
        assert!(jobs.iter().all(|j| j.kind == "order_paid" && j.status == "done"), "{jobs:?}");
    }
}

/// The development default: no configuration, an `.eml` file per email under data/mail.
#[tokio::test]
async fn the_development_mailer_writes_eml_files() {
    let (app, gw) = spawn_with_gateway(Backend::Sqlite).await;
    assert_eq!(app.ctx.settings().email.transport, EmailTransport::File);
    let token = app.buyer_with_email("devbuyer").await;
    let (no, fen) = app.order(&token, &[2]).await;
    app.pay(&gw, &no, fen).await;
    let files: Vec<_> =
        std::fs::read_dir(app.dir.join("mail")).expect("mail dir").filter_map(Result::ok).collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].file_name().to_string_lossy().ends_with(".eml"));
}

/// The S3 path, against a real S3-compatible server (s3s-fs, started by scripts/test.sh):
/// uploads go to the bucket, play URLs are presigned (and refused by the store once
/// expired or altered), download links redirect to a short presigned URL.
#[tokio::test]
async fn media_on_s3_play_and_download_through_presigned_urls() {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run scripts/test.sh (it starts an S3 server) or eval \"$(scripts/s3-throwaway.sh start)\"")
        })
    };
    let (endpoint, bucket, access, secret) = (
        var("S3_TEST_ENDPOINT"),
        var("S3_TEST_BUCKET"),
        var("S3_TEST_ACCESS_KEY"),
        var("S3_TEST_SECRET_KEY"),
    );
    let gw = FakeGateway::start().await;
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        gateway_settings(s, &gw);
        s.storage.backend = shop_app::config::StorageBackend::S3;
        s.storage.s3_bucket = bucket;
        s.storage.s3_endpoint = endpoint.clone();
        s.storage.s3_access_key_id = access;
        s.storage.s3_secret_access_key = secrecy::SecretString::from(secret);
        s.storage.s3_allow_http = true;
        s.storage.url_ttl_seconds = 2;
    })
    .await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let video = format!("video {run}").into_bytes();
    // Course 7 is used by this test only: its keys are distinct per run anyway.
    let (_, chapters) = app.get_json("/api/v1/course/chapter/?course=7").await;
    let section = chapters[0]["coursesections"]
        .as_array()
        .expect("sections")
        .iter()
        .find(|s| s["free_trail"] == false)
        .expect("a paid section")["id"]
        .as_i64()
        .expect("id");
    app.upload(7, &format!("lesson-{run}.mp4"), &video, MediaTarget::Section(section)).await;
    app.upload(
        7,
        &format!("workbook-{run}.pdf"),
        b"workbook on s3",
        material(&format!("wb{}", &run[..8]), "1"),
    )
    .await;

    let token = app.buyer("s3buyer").await;
    let (no, fen) = app.order(&token, &[7]).await;
    app.pay(&gw, &no, fen).await;
    let (status, body) =
        app.get_json_auth(&format!("/api/v1/course/section/{section}/play/"), &format!("jwt {token}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(&endpoint) && url.contains("X-Amz-Signature="), "presigned by the store: {url}");
    let res = app.client.get(&url).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), video.as_slice());
    // Flip one hex digit of the signature (same length, another value).
    let at = url.find("X-Amz-Signature=").expect("signature") + "X-Amz-Signature=".len();
    let flipped = if &url[at..=at] == "0" { "1" } else { "0" };
    let altered = format!("{}{flipped}{}", &url[..at], &url[at + 1..]);
    assert_eq!(app.client.get(&altered).send().await.expect("get").status(), StatusCode::FORBIDDEN);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(app.client.get(&url).send().await.expect("get").status(), StatusCode::FORBIDDEN, "expired");

    let link = my_links(&app, &token).await[0]["url"].as_str().expect("url").to_owned();
    let res = app.client.get(&link).send().await.expect("download");
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["x-downloads-left"], "4");
    let presigned = res.headers()["location"].to_str().expect("ascii").to_owned();
    let file = app.client.get(&presigned).send().await.expect("get");
    assert_eq!(file.bytes().await.expect("bytes").as_ref(), b"workbook on s3");
}
