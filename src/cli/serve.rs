//! `course-shop serve` (the default command).
use std::sync::Arc;

use anyhow::Context as _;
use shop_app::AppContext;
use shop_app::config::Settings;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let ctx = Arc::new(AppContext::init(settings).await?);
    let profile = ctx.settings().profile;
    let app = shop_http::Application::build_with_context(Arc::clone(&ctx))?;
    let base = app.public_url().to_owned();
    tracing::info!(profile = %profile, port = app.port(), "course-shop is listening");
    println!("course-shop ({profile} profile) is serving:");
    println!("  API         {base}/api/v1/   (e.g. {base}/api/v1/course/list/)");
    if ctx.settings().docs.enabled {
        println!("  Swagger UI  {base}/docs/");
        println!("  OpenAPI     {base}/openapi.json");
    }
    println!("  media       {base}/media/");
    println!("  health      {base}/healthz  {base}/readyz");
    app.run_until_stopped().await.context("server error")
}
