//! What the crate's own tests share: a migrated database with a catalog and one buyer, on
//! SQLite and on Postgres.
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use shop_db::entities::user;
use shop_db::users;

/// Migrates `db`, imports the catalog `json` and adds the buyer `buyer`; the buyer.
pub(crate) async fn seed(db: &DatabaseConnection, json: &str) -> user::Model {
    Migrator::up(db, None).await.expect("migrate");
    crate::catalog::import_catalog_json(db, json).await.expect("catalog");
    users::insert(
        db,
        users::NewUser {
            username: "buyer".into(),
            email: None,
            mobile: None,
            password_hash: "x".into(),
            icon: String::new(),
            role: "user".into(),
        },
    )
    .await
    .expect("buyer")
}

/// A new, empty database of its own on the Postgres server of `TEST_DATABASE_URL`.
pub(crate) async fn postgres() -> DatabaseConnection {
    let admin = std::env::var("TEST_DATABASE_URL").expect(
        "TEST_DATABASE_URL is not set: the crate's tests run on Postgres too (scripts/test.sh sets it)",
    );
    let name = format!("cs_app_{}", uuid::Uuid::new_v4().simple());
    let conn = Database::connect(&admin).await.expect("admin");
    conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create database");
    conn.close().await.expect("close");
    let (base, _) = admin.rsplit_once('/').expect("a database path");
    Database::connect(format!("{base}/{name}")).await.expect("connect")
}

/// A database seeded as [`seed`] does on each backend: SQLite in memory, then Postgres
/// ([`postgres`]); each with its buyer.
pub(crate) async fn seeded_on_both_backends(json: &str) -> Vec<(DatabaseConnection, user::Model)> {
    let mut dbs = Vec::new();
    for db in [Database::connect("sqlite::memory:").await.expect("sqlite"), postgres().await] {
        let buyer = seed(&db, json).await;
        dbs.push((db, buyer));
    }
    dbs
}
