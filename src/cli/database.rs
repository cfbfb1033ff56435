//! `migrate`, `seed-demo` and `import-catalog`: setting up a database.
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use shop_app::config::Settings;
use shop_app::{catalog, context};

pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let db = context::connect(&settings).await?;
    context::migrate(&settings, &db).await?;
    println!("migrations applied");
    Ok(())
}

pub async fn seed_demo(settings: Settings) -> anyhow::Result<()> {
    let db = context::connect(&settings).await?;
    context::migrate(&settings, &db).await?;
    let summary = context::seed_demo(&db, &settings).await?;
    println!("demo catalog imported: {summary:?}");
    Ok(())
}

#[derive(Debug, Args)]
pub struct ImportCatalog {
    /// The JSON file.
    file: PathBuf,
}

pub async fn import_catalog(args: ImportCatalog, settings: Settings) -> anyhow::Result<()> {
    let file = args.file;
    let json = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let db = context::connect(&settings).await?;
    context::migrate(&settings, &db).await?;
    let summary = catalog::import_catalog_json(&db, &json).await?;
    println!("imported {}: {summary:?}", file.display());
    Ok(())
}
