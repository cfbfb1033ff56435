//! The `course-shop` command line, run as a process.
use std::process::{Command, Stdio};

use crate::helpers::{Backend, TempDir, fresh_database};

const BIN: &str = env!("CARGO_BIN_EXE_course-shop");

fn course_shop(args: &[&str], db_url: &str, dir: &TempDir) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("COURSE_SHOP_PROFILE", "test")
        .env("COURSE_SHOP__DATABASE__URL", db_url)
        .env("COURSE_SHOP__MEDIA__ROOT", dir.0.join("media"))
        .env_remove("DATABASE_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run course-shop")
}

#[test]
fn help_explains_every_command() {
    let out = Command::new(BIN).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "serve",
        "migrate",
        "seed-demo",
        "import-catalog",
        "openapi",
        "user",
        "refund",
        "reconcile",
        "media",
        "notify-buyers",
        "sales",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from --help:\n{help}");
    }
    let out = Command::new(BIN).args(["openapi"]).output().expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout), shop_http::spec_json());
}

#[test]
fn production_refuses_to_start_without_its_settings() {
    let out = Command::new(BIN)
        .args(["--profile", "production", "migrate"])
        .env_remove("DATABASE_URL")
        .env_remove("COURSE_SHOP__DATABASE__URL")
        .env_remove("COURSE_SHOP__AUTH__JWT_SECRET")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database.url is required in the production profile"), "{err}");

    let out = Command::new(BIN)
        .args(["--profile", "production", "migrate"])
        .env("DATABASE_URL", "postgres://shop@127.0.0.1:1/shop")
        .env_remove("COURSE_SHOP__DATABASE__URL")
        .env_remove("COURSE_SHOP__AUTH__JWT_SECRET")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("auth.jwt_secret is required") && err.contains("COURSE_SHOP__AUTH__JWT_SECRET"),
        "{err}"
    );
}

#[tokio::test]
async fn import_catalog_is_an_idempotent_upsert() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let dir = TempDir::new();
        let url = fresh_database(backend, &dir).await;
        let file = dir.0.join("catalog.json");
        std::fs::write(
            &file,
            r#"{"categories":[{"id":5,"name":"Rust"}],
                "teachers":[{"id":7,"name":"Ferris","role":1,"image":"teachers/7.svg"}],
                "courses":[{"id":42,"name":"Rust 入门 / Rust for beginners","teacher_id":7,"category_id":5,"price":"49.90",
                  "chapters":[{"id":1,"chapter":1,"name":"Hello","sections":[{"id":1,"name":"cargo new","free_trail":true}]}]}],
                "banners":[{"id":1,"title":"Rust","image":"banners/1.svg"}]}"#,
        )
        .expect("write");
        for run in 0..2 {
            let out = course_shop(&["import-catalog", file.to_str().expect("utf-8")], &url, &dir);
            assert!(out.status.success(), "{backend:?} run {run}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(String::from_utf8_lossy(&out.stdout).contains("courses: 1"));
        }
        let db = sea_orm::Database::connect(&url).await.expect("connect");
        use sea_orm::{EntityTrait, PaginatorTrait};
        assert_eq!(
            shop_db::entities::course::Entity::find().count(&db).await.expect("count"),
            1,
            "{backend:?}"
        );
        let course =
            shop_db::entities::course::Entity::find_by_id(42).one(&db).await.expect("query").expect("row");
        assert_eq!((course.price_fen.fen(), course.sections, course.pub_sections), (4990, 1, 1));

        // A broken file changes nothing and says why.
        std::fs::write(&file, r#"{"courses":[{"id":43,"name":"x","teacher_id":999,"price":"1"}]}"#)
            .expect("write");
        let out = course_shop(&["import-catalog", file.to_str().expect("utf-8")], &url, &dir);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("teacher 999 does not exist"));
        assert_eq!(shop_db::entities::course::Entity::find().count(&db).await.expect("count"), 1);

        // New rows after an import with explicit ids get fresh ids (Postgres sequences synced).
        let user = shop_db::users::insert(
            &db,
            shop_db::users::NewUser {
                username: "after-import".into(),
                email: None,
                mobile: None,
                password_hash: "x".into(),
                icon: String::new(),
                role: "user".into(),
            },
        )
        .await
        .expect("insert");
        assert!(user.id > 0);
    }
}

#[tokio::test]
async fn user_add_reads_the_password_from_stdin() {
    let dir = TempDir::new();
    let url = fresh_database(Backend::Sqlite, &dir).await;
    let mut child = Command::new(BIN)
        .args(["user", "add", "operator", "--email", "ops@example.com", "--admin"])
        .env("COURSE_SHOP_PROFILE", "test")
        .env("COURSE_SHOP__DATABASE__URL", &url)
        .env("COURSE_SHOP__MEDIA__ROOT", dir.0.join("media"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(b"correct horse battery\n").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("created user operator") && stdout.contains("role admin"), "{stdout}");
    assert!(
        !stdout.contains("correct horse") && !String::from_utf8_lossy(&out.stderr).contains("correct horse")
    );

    let db = sea_orm::Database::connect(&url).await.expect("connect");
    let user = shop_db::users::by_username(&db, "operator").await.expect("query").expect("row");
    assert_eq!(user.role, "admin");
    assert!(user.password_hash.starts_with("$argon2id$"));
}

/// The operator commands of delivery, run as processes against a running shop's database:
/// `media put` (local storage), `notify-buyers` (dry run, send, rerun) and `sales`.
#[tokio::test]
async fn media_notify_buyers_and_sales_commands() {
    let (app, gw) = crate::helpers::spawn_with_gateway(Backend::Sqlite).await;
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("COURSE_SHOP_PROFILE", "test")
            .env("COURSE_SHOP__DATABASE__URL", &app.db_url)
            .env("COURSE_SHOP__MEDIA__ROOT", app.dir.join("media"))
            .env("COURSE_SHOP__STORAGE__LOCAL_ROOT", app.dir.join("private-media"))
            .env("COURSE_SHOP__EMAIL__FILE_DIR", app.dir.join("mail"))
            .env("COURSE_SHOP__ALIPAY__SIMULATOR_KEY_DIR", app.dir.join("alipay-simulator"))
            .env_remove("DATABASE_URL")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .output()
            .expect("run course-shop")
    };
    let file = app.dir.join("handout.pdf");
    std::fs::write(&file, vec![42u8; 3 * 1024 * 1024]).expect("write");
    let out =
        run(&["media", "put", "2", file.to_str().expect("utf-8"), "--material", "handout", "--version", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("stored courses/2/materials/handout/1/handout.pdf (3145728 bytes)")
    );
    let out =
        run(&["media", "put", "2", file.to_str().expect("utf-8"), "--material", "handout", "--version", "1"]);
    assert!(!out.status.success(), "a version is uploaded once");
    let out = run(&["media", "put", "2", file.to_str().expect("utf-8")]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--section"));

    let token = app.buyer_with_email("cliuser").await;
    let (no, fen) = app.order(&token, &[2]).await;
    app.pay(&gw, &no, fen).await;

    let message = app.dir.join("update.txt");
    std::fs::write(&message, "讲义已更新。\nThe handout was updated.").expect("write");
    let args = [
        "notify-buyers",
        "2",
        "--subject",
        "讲义更新 / Handout update",
        "--message-file",
        message.to_str().expect("utf-8"),
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = run(&dry);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("dry run: 1 current owner(s), 1 with an email address; nothing sent")
    );
    let mails = || std::fs::read_dir(app.dir.join("mail")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(mails(), 1, "only the confirmation so far");
    let out = run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("1 email(s) newly queued"), "{stdout}");
    assert_eq!(mails(), 2);
    let out = run(&args);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rerun")
            && String::from_utf8_lossy(&out.stdout).contains("0 email(s) newly queued")
    );
    assert_eq!(mails(), 2, "nobody gets a campaign twice");

    let out = run(&["sales", "--all"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("created 1  paid 1  conversion 100.0%"), "{stdout}");
    assert!(stdout.contains(&shop_domain::Money::from_fen(fen).expect("m").to_string()), "{stdout}");
    let out = run(&["sales", "--since", "yesterday"]);
    assert!(!out.status.success());
}

/// `course-shop sales --funnel` and `--by-ref`, run as processes: views counted on the server
/// (a bot left out) and the `ref` carried to the order, printed per course and per ref with
/// the conversion rates; and the provider mix.
#[tokio::test]
async fn sales_prints_the_funnel_per_course_and_ref() {
    use serde_json::json;
    let (app, gw) = crate::helpers::spawn_with_gateway(Backend::Sqlite).await;
    for (ua, q) in [
        ("Mozilla/5.0 (A)", "?ref=spring-a"),
        ("Mozilla/5.0 (B)", "?ref=spring-a"),
        ("Mozilla/5.0 (C)", "?ref=spring-b"),
        ("Mozilla/5.0 (D)", ""),
        ("Googlebot/2.1", "?ref=spring-b"),
    ] {
        let res = app
            .client
            .get(app.url(&format!("/api/v1/course/list/7/{q}")))
            .header("User-Agent", ua)
            .send()
            .await
            .expect("view");
        assert!(res.status().is_success());
    }
    for _ in 0..40 {
        let rows = <shop_db::entities::course_view::Entity as sea_orm::EntityTrait>::find()
            .all(app.ctx.db())
            .await
            .expect("views");
        if rows.len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, course) = app.get_json("/api/v1/course/list/7/").await;
    let price = course["price"].as_str().expect("price").to_owned();
    let token = app.buyer("funnel").await;
    let body =
        json!({"courses": [7], "total_amount": price, "subject": "课程", "pay_type": 1, "ref": "spring-a"});
    let (status, answer) = app.buy(&token, &body, None).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{answer}");
    let no = answer["out_trade_no"].as_str().expect("no").to_owned();
    let fen = app.order_row(&no).await.total_amount_fen.fen();
    app.pay(&gw, &no, fen).await;

    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("COURSE_SHOP_PROFILE", "test")
            .env("COURSE_SHOP__DATABASE__URL", &app.db_url)
            .env("COURSE_SHOP__MEDIA__ROOT", app.dir.join("media"))
            .env_remove("DATABASE_URL")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .output()
            .expect("run course-shop");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The last columns of a table line: views, orders, paid, refunds, view→order, order→paid.
    let tail = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        words[words.len() - 6..].iter().map(|w| (*w).to_owned()).collect()
    };
    // The funnel's table, after the sales tables (where course 7 has a line too).
    let funnel_of = |stdout: &str| -> String {
        stdout.split_once("Checkout funnel").map(|(_, f)| f.to_owned()).unwrap_or_else(|| panic!("{stdout}"))
    };
    let stdout = run(&["sales", "--all", "--funnel"]);
    let line = funnel_of(&stdout).lines().find(|l| l.starts_with("7 ")).map(str::to_owned);
    let line = line.unwrap_or_else(|| panic!("course 7's funnel line: {stdout}"));
    let line = line.as_str();
    assert_eq!(tail(line), ["4", "1", "1", "0", "25.0%", "100.0%"], "{stdout}");
    let provider = stdout.lines().find(|l| l.starts_with("Alipay")).expect("the provider mix");
    let price_line: Vec<&str> = provider.split_whitespace().collect();
    assert_eq!(price_line[1..4], ["1", "1", price.as_str()], "{stdout}");
    assert!(provider.ends_with("100.0%"), "{stdout}");

    let stdout = funnel_of(&run(&["sales", "--all", "--by-ref"]));
    let of_ref = |tag: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with("7 ") && l.split_whitespace().any(|w| w == tag))
            .map(tail)
            .unwrap_or_else(|| panic!("no line for {tag}: {stdout}"))
    };
    assert_eq!(of_ref("spring-a"), ["2", "1", "1", "0", "50.0%", "100.0%"], "{stdout}");
    assert_eq!(of_ref("spring-b"), ["1", "0", "0", "0", "0.0%", "0.0%"], "the bot is left out: {stdout}");
    assert_eq!(of_ref("(none)"), ["1", "0", "0", "0", "0.0%", "0.0%"], "{stdout}");
    let out = Command::new(BIN)
        .args(["sales", "--by-ref", "--since", "2026-13-01"])
        .env("COURSE_SHOP_PROFILE", "test")
        .env("COURSE_SHOP__DATABASE__URL", &app.db_url)
        .env_remove("DATABASE_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("2026-13-01"));
}

/// Every migration can be undone and applied again, on both backends; the outbox claim's
/// partial index is there afterwards.
#[tokio::test]
async fn migrations_go_down_and_up_again() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database};
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let dir = TempDir::new();
        let url = fresh_database(backend, &dir).await;
        let db = Database::connect(&url).await.expect("connect");
        Migrator::up(&db, None).await.expect("up");
        Migrator::down(&db, None).await.expect("down");
        Migrator::up(&db, None).await.expect("up again");
        let sql = match backend {
            Backend::Sqlite => {
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'ix_outbox_pending'"
            }
            Backend::Postgres => "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_outbox_pending'",
        };
        let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await;
        let definition: String =
            row.expect("query").expect("ix_outbox_pending exists").try_get_by_index(0).expect("text");
        assert!(definition.contains("pending"), "{backend:?}: a partial index: {definition}");
        db.close().await.expect("close");
    }
}

/// The indexes of `orders` are those its queries use (migration 15: docs/benchmarks.md,
/// "Postgres's share of an order and of a payment"), on both backends: one index leading with
/// the buyer besides the unique one of idempotency keys, which holds only orders with a key;
/// the expiry sweep's partial index of unpaid orders; no index of holds by order. Undoing the
/// migration brings the earlier ones back.
#[tokio::test]
async fn orders_keep_only_the_indexes_their_queries_use() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
    async fn texts(db: &DatabaseConnection, sql: &str) -> Vec<String> {
        let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await;
        rows.expect("query").iter().map(|r| r.try_get_by_index(0).expect("text")).collect()
    }
    async fn indexes(db: &DatabaseConnection, backend: Backend, table: &str) -> Vec<String> {
        let sql = match backend {
            Backend::Sqlite => format!(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' \
                 AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name"
            ),
            Backend::Postgres => format!(
                "SELECT indexname::text FROM pg_indexes WHERE tablename = '{table}' \
                 AND indexname NOT IN ('{table}_pkey', 'pk_{table}') ORDER BY indexname"
            ),
        };
        texts(db, &sql).await
    }
    let now = [
        "ix_orders_status_created",
        "ix_orders_unpaid_expires",
        "ix_orders_user_request_hash",
        "uq_orders_out_trade_no",
        "uq_orders_purchase_token_hash",
        "uq_orders_user_idempotency_key",
    ];
    let before = [
        "ix_orders_status_created",
        "ix_orders_status_expires",
        "ix_orders_user_created",
        "ix_orders_user_request_hash",
        "uq_orders_out_trade_no",
        "uq_orders_purchase_token_hash",
        "uq_orders_user_idempotency_key",
    ];
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let dir = TempDir::new();
        let url = fresh_database(backend, &dir).await;
        let db = Database::connect(&url).await.expect("connect");
        let holds_fk = "SELECT conname::text FROM pg_constraint WHERE conname = 'fk_order_holds_order'";
        for step in ["up", "down one", "up again"] {
            match step {
                "down one" => Migrator::down(&db, Some(1)).await.expect("down"),
                _ => Migrator::up(&db, None).await.expect("up"),
            }
            let undone = step == "down one";
            let expected: Vec<&str> = if undone { before.to_vec() } else { now.to_vec() };
            assert_eq!(indexes(&db, backend, "orders").await, expected, "{backend:?}, {step}");
            let holds: Vec<&str> = if undone { vec!["ix_order_holds_order"] } else { vec![] };
            assert_eq!(indexes(&db, backend, "order_holds").await, holds, "{backend:?}, {step}");
            if backend == Backend::Postgres {
                assert_eq!(texts(&db, holds_fk).await.len(), usize::from(undone), "{step}");
            }
        }
        for (name, condition) in
            [("ix_orders_unpaid_expires", "order_status"), ("uq_orders_user_idempotency_key", "NOT NULL")]
        {
            let sql = match backend {
                Backend::Sqlite => format!("SELECT sql FROM sqlite_master WHERE name = '{name}'"),
                Backend::Postgres => format!("SELECT indexdef FROM pg_indexes WHERE indexname = '{name}'"),
            };
            let definition = texts(&db, &sql).await.concat();
            assert!(
                definition.contains(" WHERE ") && definition.contains(condition),
                "{backend:?}: {definition}"
            );
        }
        db.close().await.expect("close");
    }
}

/// A command that fails says why, down to the cause: an upload of a file that cannot be read
/// names the file and the operating system's reason, not only "internal error".
#[tokio::test]
async fn a_failing_command_prints_its_cause() {
    let dir = TempDir::new();
    let url = fresh_database(Backend::Sqlite, &dir).await;
    let file = dir.0.join("catalog.json");
    std::fs::write(
        &file,
        r#"{"teachers":[{"id":7,"name":"Ferris","role":1,"image":"teachers/7.svg"}],
            "courses":[{"id":42,"name":"Rust","teacher_id":7,"price":"49.90"}]}"#,
    )
    .expect("write");
    let out = course_shop(&["import-catalog", file.to_str().expect("utf-8")], &url, &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let missing = dir.0.join("no-such-handout.pdf");
    let out = Command::new(BIN)
        .args([
            "media",
            "put",
            "42",
            missing.to_str().expect("utf-8"),
            "--material",
            "handout",
            "--version",
            "1",
        ])
        .env("COURSE_SHOP_PROFILE", "test")
        .env("COURSE_SHOP__DATABASE__URL", &url)
        .env("COURSE_SHOP__MEDIA__ROOT", dir.0.join("media"))
        .env("COURSE_SHOP__STORAGE__LOCAL_ROOT", dir.0.join("private-media"))
        .env("COURSE_SHOP__ALIPAY__SIMULATOR_KEY_DIR", dir.0.join("alipay-simulator"))
        .env_remove("DATABASE_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run course-shop");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let cause = format!("internal error: cannot open {}: ", missing.display());
    assert!(err.contains(&cause), "the cause is missing: {err}");
}
