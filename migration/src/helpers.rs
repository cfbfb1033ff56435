//! Statement helpers shared by the migrations. Migrations are frozen history, so a helper's
//! behaviour never changes once a migration uses it: add a new helper instead.
use sea_orm_migration::prelude::*;

/// An index named `name` on `cols` of `table` (`if not exists`).
pub fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create().name(name).table(table).if_not_exists().take();
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    stmt
}

/// A unique index named `name` on `cols` of `table`.
pub fn unique(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    index(name, table, cols).unique().take()
}

/// Drops the index named `name` of `table`.
pub fn drop_index(name: &str, table: impl IntoTableRef) -> IndexDropStatement {
    Index::drop().name(name).table(table).to_owned()
}

/// A foreign key named `name`, restricting deletes and updates of the referenced row.
pub fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .take()
}
