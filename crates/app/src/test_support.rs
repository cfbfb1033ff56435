//! What the crate's own tests share: a migrated database with a catalog and one buyer.
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
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
