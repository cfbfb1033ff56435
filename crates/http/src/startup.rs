//! Building and running the HTTP server: routes, middleware, state.
use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{HttpServiceFactory, Server, ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{Condition, ErrorHandlers, Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, Resource, guard, web};
use anyhow::Context as _;
use shop_app::AppContext;
use shop_app::config::{Profile, Settings};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::error::{self, ApiError};
use crate::handlers::{
    admin, admin_campaigns, admin_catalog, admin_orders, console, course, delivery, guest, health, home,
    order, pages, stripe, user, wechat,
};
use crate::links::Links;
use crate::openapi::ApiDoc;
use crate::state::State;

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    public_url: String,
    server: Server,
}

impl Application {
    /// Initialises the context (database, migrations, demo seed, catalog) and binds.
    ///
    /// # Errors
    /// Start-up failures, with the step that failed.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let ctx = AppContext::init(settings).await?;
        Self::build_with_context(Arc::new(ctx))
    }

    /// Binds `server.host:server.port` (port 0 picks one) and prepares the server.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub fn build_with_context(ctx: Arc<AppContext>) -> anyhow::Result<Self> {
        let settings = Arc::clone(ctx.settings());
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).with_context(|| format!("cannot bind {address}"))?;
        let port = listener.local_addr()?.port();
        let public_url = settings.public_url(port);
        ctx.set_public_url(&public_url)?;
        if settings.workers.enabled {
            shop_app::worker::spawn_workers(Arc::clone(&ctx));
        }
        std::fs::create_dir_all(&settings.media.root).with_context(|| {
            format!("cannot create the media directory {}", settings.media.root.display())
        })?;
        shop_app::auth::warm_up();
        Arc::clone(ctx.catalog()).spawn_refresher(
            ctx.db().clone(),
            std::time::Duration::from_secs(settings.catalog.refresh_seconds.max(1)),
            std::time::Duration::from_secs(settings.catalog.stats_refresh_seconds.max(1)),
        );
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let links = Links::new(public_url.clone());
        // Called on each worker's thread: on Postgres every worker gets its own pool, whose
        // connections live on that worker's runtime (see shop_app::context::request_pool);
        // background work keeps the shared one.
        let server = HttpServer::new(move || {
            let ctx = match shop_app::context::request_pool(ctx.settings(), workers) {
                Ok(Some(db)) => Arc::new(ctx.with_db(db)),
                Ok(None) => Arc::clone(&ctx),
                Err(e) => {
                    tracing::error!(error = ?e, "no pool of its own for this worker: it uses the shared one");
                    Arc::clone(&ctx)
                }
            };
            build_app(web::Data::new(State { ctx, links: links.clone() }))
        })
        .workers(workers)
        .listen(listener)?;
        Ok(Application { port, public_url, server: server.run() })
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The absolute base URL of links.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Serves until the process is told to stop (SIGINT / SIGTERM: graceful).
    ///
    /// # Errors
    /// I/O errors of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// A route answering with and without its trailing slash: two resources of one pattern each,
/// built by the same function. (One resource of two patterns would be matched with regular
/// expressions on every request that reaches it in the routing order, a third of the CPU of a
/// status poll; a one-pattern static resource is a string comparison.)
fn res<F, R>(path: &'static str, build: F) -> (R, R)
where
    F: Fn(Resource) -> R,
    R: HttpServiceFactory + 'static,
{
    (build(web::resource(path)), build(web::resource(path.trim_end_matches('/'))))
}

/// A route of the `/api/v1/order` scope, from its whole path (a provider's notification URL).
fn order_route(path: &'static str) -> &'static str {
    path.strip_prefix("/api/v1/order").unwrap_or(path)
}

/// Answers every method with 405 and `Allow`: registered after a service that routes by a
/// method guard (Swagger UI, the spec, static files), so that another method gets the 405
/// every path promises instead of falling through to a 404.
fn other_methods(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        HttpResponse::MethodNotAllowed().insert_header((header::ALLOW, allow)).finish()
    }))
}

/// A route a browser opens itself: a browser gets its errors as a page
/// ([`error::html_for_browsers`]), anyone else the JSON envelope.
fn browser_route(
    resource: Resource,
) -> Resource<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    resource.wrap(from_fn(error::html_for_browsers))
}

/// Every route of the API under `/api/v1`, grouped by a static first segment so that routing
/// compares prefixes; in each group the routes with a path parameter come last.
fn api_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/home").service(res("/banner/", |r| r.route(web::get().to(home::banner)))))
        .service(
            web::scope("/course")
                .service(res("/category/", |r| r.route(web::get().to(course::categories))))
                .service(res("/list/", |r| r.route(web::get().to(course::list))))
                .service(res("/chapter/", |r| r.route(web::get().to(course::chapters))))
                .service(res("/search/", |r| r.route(web::get().to(course::search))))
                .service(res("/mine/", |r| r.route(web::get().to(delivery::mine))))
                .service(res("/list/{id}/", |r| r.route(web::get().to(course::detail))))
                .service(res("/section/{id}/play/", |r| r.route(web::get().to(delivery::play)))),
        )
        .service(
            web::scope("/order")
                .service(res("/success/", |r| {
                    r.app_data(web::PayloadConfig::new(64 * 1024))
                        .route(web::post().to(order::notify))
                        .route(web::get().to(order::status))
                }))
                .service(res("/pay/", |r| r.route(web::post().to(order::pay))))
                .service(res("/alipay/", |r| r.route(web::post().to(order::alipay))))
                .service(res(order_route(shop_app::payments::wechat::NOTIFY_PATH), |r| {
                    r.app_data(web::PayloadConfig::new(64 * 1024)).route(web::post().to(wechat::notify))
                }))
                .service(res(order_route(stripe::WEBHOOK_PATH), |r| {
                    r.app_data(web::PayloadConfig::new(256 * 1024)).route(web::post().to(stripe::webhook))
                }))
                .service(res("/list/", |r| r.route(web::get().to(order::list))))
                .service(res("/{out_trade_no}/", |r| r.route(web::get().to(order::detail)))),
        )
        .service(
            web::scope("/user/user")
                .service(res("/mul_login/", |r| r.route(web::post().to(user::mul_login))))
                .service(res("/mobile/", |r| r.route(web::get().to(user::mobile))))
                .service(res("/send_sms/", |r| r.route(web::get().to(user::send_sms))))
                .service(res("/mobile_login/", |r| r.route(web::post().to(user::mobile_login))))
                .service(res("/mobile_register/", |r| r.route(web::post().to(user::mobile_register))))
                .service(res("/me/", |r| {
                    r.route(web::get().to(user::me)).route(web::patch().to(user::update_me))
                }))
                .service(res("/email/verify/", |r| r.route(web::post().to(user::verify_email)))),
        )
        .service(
            web::scope("/admin")
                .service(res("/session/", |r| {
                    r.route(web::post().to(admin::login)).route(web::get().to(admin::session))
                }))
                .service(res("/session/logout/", |r| r.route(web::post().to(admin::logout))))
                .service(res("/sales/", |r| r.route(web::get().to(admin::sales))))
                .service(res("/catalog/", |r| r.route(web::get().to(admin_catalog::catalog))))
                .service(res("/categories/", |r| r.route(web::post().to(admin_catalog::save_category))))
                .service(res("/teachers/", |r| r.route(web::post().to(admin_catalog::save_teacher))))
                .service(res("/banners/", |r| {
                    r.route(web::post().to(admin_catalog::save_banner))
                        .route(web::get().to(admin_catalog::banners))
                }))
                .service(res("/catalog/delete/", |r| {
                    r.route(web::post().to(admin_catalog::delete_catalog_row))
                }))
                .service(res("/courses/", |r| r.route(web::post().to(admin_catalog::save_course))))
                .service(res("/campaigns/", |r| {
                    r.route(web::post().to(admin_campaigns::send))
                        .route(web::get().to(admin_campaigns::history))
                }))
                .service(res("/orders/", |r| r.route(web::get().to(admin_orders::search))))
                .service(res("/courses/{id}/chapters/", |r| {
                    r.route(web::post().to(admin_catalog::save_chapter))
                }))
                .service(res("/chapters/{id}/sections/", |r| {
                    r.route(web::post().to(admin_catalog::save_section))
                }))
                .service(res("/courses/{id}/cover/", |r| {
                    r.app_data(web::PayloadConfig::new(shop_app::catalog::edit::MAX_COVER_BYTES))
                        .route(web::post().to(admin_catalog::put_cover))
                }))
                .service(res("/courses/{id}/media/", |r| r.route(web::post().to(admin_catalog::put_media))))
                .service(res("/teachers/{id}/image/", |r| {
                    r.app_data(web::PayloadConfig::new(shop_app::catalog::edit::MAX_COVER_BYTES))
                        .route(web::post().to(admin_catalog::put_teacher_image))
                }))
                .service(res("/banners/{id}/image/", |r| {
                    r.app_data(web::PayloadConfig::new(shop_app::catalog::edit::MAX_COVER_BYTES))
                        .route(web::post().to(admin_catalog::put_banner_image))
                }))
                .service(res("/orders/{out_trade_no}/", |r| r.route(web::get().to(admin_orders::detail))))
                .service(res("/orders/{out_trade_no}/refund/", |r| {
                    r.route(web::post().to(admin_orders::refund))
                })),
        );
}

fn cors(settings: &Settings) -> Cors {
    let origins = &settings.cors.allowed_origins;
    let base = if settings.profile == Profile::Development && origins.iter().any(|o| o == "*") {
        Cors::default().allow_any_origin()
    } else {
        origins.iter().fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
    };
    base.allowed_methods(["GET", "POST", "PATCH", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([header::HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(3600)
}

/// The compatibility switch: business (4xx) errors answered with HTTP 200, same body.
async fn business_errors_as_200(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let business =
        res.response().error().and_then(|e| e.as_error::<ApiError>()).is_some_and(ApiError::is_business);
    if business {
        *res.response_mut().status_mut() = StatusCode::OK;
    }
    Ok(res)
}

/// A path that no route matches (a handler's 404 names what is missing).
async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::no_route())
}

/// The actix application.
fn build_app(
    state: web::Data<State>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let settings = Arc::clone(state.ctx.settings());
    let json =
        web::JsonConfig::default().limit(settings.server.json_limit_bytes).error_handler(error::json_error);
    let mut app = App::new()
        .app_data(state.clone())
        .app_data(json)
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .app_data(web::FormConfig::default().limit(16 * 1024).error_handler(error::form_error))
        .service(web::scope("/api/v1").configure(api_routes))
        .service(web::resource("/healthz").route(web::get().to(health::healthz)))
        .service(web::resource("/readyz").route(web::get().to(health::readyz)))
        .service(web::resource("/favicon.ico").route(web::get().to(pages::favicon)))
        .service(res("/pay/result/", |r| browser_route(r.route(web::get().to(pages::pay_result)))))
        .service(res("/admin/", |r| browser_route(r.route(web::get().to(console::home)))))
        .service(res("/admin/login/", |r| browser_route(r.route(web::get().to(console::login_page)))))
        .service(res("/admin/orders/", |r| browser_route(r.route(web::get().to(console::orders)))))
        .service(res("/admin/catalog/", |r| browser_route(r.route(web::get().to(console::catalog)))))
        .service(res("/admin/updates/", |r| browser_route(r.route(web::get().to(console::updates)))))
        .service(res("/admin/sales/", |r| browser_route(r.route(web::get().to(console::sales)))))
        .service(res("/admin/banners/", |r| browser_route(r.route(web::get().to(console::banners)))))
        .service(res("/admin/catalog/courses/{id}/", |r| {
            browser_route(r.route(web::get().to(console::course)))
        }))
        .service(res("/admin/orders/{out_trade_no}/", |r| {
            browser_route(r.route(web::get().to(console::order)))
        }))
        .service(web::resource("/admin/static/{file}").route(web::get().to(console::asset)))
        .service(res("/pay/wechat/", |r| browser_route(r.route(web::get().to(wechat::cashier)))))
        .service(web::resource("/pay/wechat/cashier.js").route(web::get().to(wechat::cashier_js)))
        .service(browser_route(web::resource("/d/{token}").route(web::get().to(delivery::download))))
        .service(browser_route(web::resource("/p/{token}").route(web::get().to(guest::purchase_page))))
        .service(browser_route(
            web::resource("/buy/{id}")
                .route(web::get().to(guest::buy_page))
                .route(web::post().to(guest::buy)),
        ))
        .service(browser_route(
            web::resource("/media/private/{key:.*}").route(web::get().to(delivery::private_media)),
        ))
        .service(
            actix_files::Files::new("/media", &settings.media.root)
                .prefer_utf8(true)
                .guard(guard::Any(guard::Get()).or(guard::Head())),
        )
        .service(other_methods("/media/{_:.*}", "GET, HEAD"));
    if state.ctx.payments().simulator.is_some() {
        app = app
            .service(browser_route(
                web::resource(shop_app::payments::simulator::GATEWAY_PATH)
                    .route(web::get().to(pages::simulator_cashier))
                    .route(web::post().to(pages::simulator_api)),
            ))
            .service(browser_route(
                web::resource("/dev/alipay/pay").route(web::post().to(pages::simulator_pay)),
            ))
            .service(
                web::resource(shop_app::payments::simulator::BILL_PATH)
                    .route(web::get().to(pages::simulator_statement)),
            );
    }
    if state.ctx.payments().wechat_simulator.is_some() {
        app = app
            .service(
                web::resource("/v3/{tail:.*}")
                    .app_data(web::PayloadConfig::new(64 * 1024))
                    .route(web::get().to(wechat::simulator_api))
                    .route(web::post().to(wechat::simulator_api)),
            )
            .service(browser_route(
                web::resource("/dev/wechatpay/pay").route(web::post().to(wechat::simulator_pay)),
            ));
    }
    if state.ctx.payments().stripe_simulator.is_some() {
        app = app
            .service(
                web::resource("/v1/{tail:.*}")
                    .app_data(web::PayloadConfig::new(64 * 1024))
                    .route(web::get().to(stripe::simulator_api))
                    .route(web::post().to(stripe::simulator_api)),
            )
            .service(browser_route(
                web::resource("/dev/stripe/checkout/{session_id}").route(web::get().to(stripe::card_form)),
            ))
            .service(browser_route(
                web::resource("/dev/stripe/pay").route(web::post().to(stripe::simulator_pay)),
            ));
    }
    if settings.docs.enabled {
        app = app.service(web::resource("/docs").route(web::get().to(|| async {
            HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/docs/")).finish()
        })));
        app = app.service(
            SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", ApiDoc::openapi())
                .config(SwaggerConfig::default().validator_url("none").try_it_out_enabled(true)),
        );
        app =
            app.service(other_methods("/openapi.json", "GET")).service(other_methods("/docs/{_:.*}", "GET"));
    }
    app.default_service(web::to(not_found))
        .wrap(from_fn(crate::nul::refuse_nul))
        .wrap(ErrorHandlers::new().default_handler(error::jsonify))
        .wrap(from_fn(error::localize))
        .wrap(Condition::new(settings.api.business_errors_as_200, from_fn(business_errors_as_200)))
        .wrap(from_fn(crate::request_log::log_request))
        .wrap(cors(&settings))
        .wrap(from_fn(crate::security_headers::security_headers))
}
