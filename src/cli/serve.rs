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
    tracing::info!(
        profile = %profile,
        port = app.port(),
        api.business_errors_as_200 = ctx.settings().api.business_errors_as_200,
        api.default_language = ctx.settings().api.default_language.as_str(),
        "course-shop is listening"
    );
    println!("course-shop ({profile} profile) is serving:");
    println!("  API         {base}/api/v1/   (e.g. {base}/api/v1/course/list/)");
    if ctx.settings().docs.enabled {
        println!("  Swagger UI  {base}/docs/");
        println!("  OpenAPI     {base}/openapi.json");
    }
    println!("  media       {base}/media/");
    println!("  health      {base}/healthz  {base}/readyz");
    let api = &ctx.settings().api;
    if api.business_errors_as_200 {
        println!(
            "  errors      business errors answer HTTP 200 with {{code, msg}} (api.business_errors_as_200 = true)"
        );
    } else {
        println!("  errors      business errors keep their HTTP status (4xx): the Luffy Vue front end shows");
        println!("              no message for them; set api.business_errors_as_200 = true to pair with it");
    }
    println!(
        "  language    msg in {} unless Accept-Language asks for zh or en",
        api.default_language.as_str()
    );
    app.run_until_stopped().await.context("server error")
}
