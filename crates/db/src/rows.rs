//! Pieces the one-statement Postgres paths are built from, so that they write the rows the
//! step-by-step paths write from the same definitions: an active model's columns and values
//! (the row and its defaults are written once, in the function that makes the active
//! model), and `INSERT ... SELECT` of rows that belong to a row a statement inserts first.
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, InsertStatement, IntoColumnRef, Order, Query, SelectStatement, Values,
};
use sea_orm::{ActiveModelTrait, ActiveValue, EntityTrait, Iterable, Value};

/// The columns `model` sets, in the entity's column order, with their values.
pub(crate) fn set_values<A: ActiveModelTrait>(model: &A) -> Vec<(<A::Entity as EntityTrait>::Column, Value)> {
    <A::Entity as EntityTrait>::Column::iter()
        .filter_map(|c| match model.get(c) {
            ActiveValue::Set(v) | ActiveValue::Unchanged(v) => Some((c, v)),
            ActiveValue::NotSet => None,
        })
        .collect()
}

/// An `INSERT ... SELECT`: `columns` from one `SELECT` of `exprs` (same length).
pub(crate) fn insert_select<C, I>(table: C, columns: I, select: SelectStatement) -> InsertStatement
where
    C: sea_orm::sea_query::IntoTableRef,
    I: IntoIterator,
    I::Item: sea_orm::sea_query::IntoIden,
{
    let mut insert = Query::insert();
    insert.into_table(table).columns(columns);
    // The callers pass as many expressions as columns, by construction.
    insert.select_from(select).expect("as many values as columns");
    insert
}

/// Child rows of a row a statement inserts first: `children` (active models that set the
/// same columns, all but `parent_key`) become a VALUES list named `name`, and the insert
/// writes each with `parent_key` = `"<parent>"."id"`, in the order given.
///
/// Returns the VALUES list (a CTE) and the insert (for a data-modifying CTE after the one
/// named `parent`, which returns `id`).
pub(crate) fn children_of<A: ActiveModelTrait>(
    parent: &str,
    name: &str,
    parent_key: <A::Entity as EntityTrait>::Column,
    children: &[A],
) -> (CommonTableExpression, InsertStatement)
where
    A::Entity: Default,
{
    const POSITION: &str = "position";
    let rows: Vec<Vec<(<A::Entity as EntityTrait>::Column, Value)>> =
        children.iter().map(set_values).collect();
    let columns: Vec<_> = rows.first().map(|r| r.iter().map(|(c, _)| *c).collect()).unwrap_or_default();
    let mut list = CommonTableExpression::new();
    list.table_name(Alias::new(name)).columns(columns.iter().copied()).column(Alias::new(POSITION)).values(
        rows.into_iter()
            .enumerate()
            .map(|(i, row)| {
                let mut values: Vec<Value> = row.into_iter().map(|(_, v)| v).collect();
                values.push(i64::try_from(i).unwrap_or(i64::MAX).into());
                Values(values)
            })
            .collect(),
    );
    let mut select = Query::select();
    select.expr(Expr::col((Alias::new(parent), Alias::new("id"))));
    for c in &columns {
        select.expr(Expr::col((Alias::new(name), *c)));
    }
    select
        .from(Alias::new(parent))
        .cross_join(Alias::new(name))
        .order_by((Alias::new(name), Alias::new(POSITION)).into_column_ref(), Order::Asc);
    let insert = insert_select(A::Entity::default(), std::iter::once(parent_key).chain(columns), select);
    (list, insert)
}
