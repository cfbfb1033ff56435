//! The OpenAPI schemas of request values, built from the constants the validation reads, so
//! that the published spec and the code cannot drift: each function states one rule of
//! `shop-domain` / `shop-app` (used through `schema_with` by the request types).
use shop_app::catalog::Ordering;
use shop_app::payments::{MAX_COURSES, MIN_COURSES};
use shop_domain::Money;
use shop_domain::catalog::{ID_MAX, ID_PATTERN};
use shop_domain::money::MAX_FEN;
use shop_domain::order::Subject;
use shop_domain::paging::PageRequest;
use shop_domain::search::SearchTerm;
use shop_domain::user::{LoginIdentifier, Mobile, Password, SmsCode};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{KnownFormat, Required, SchemaFormat};

/// A query parameter with its description and a schema of this module. (utoipa's derive
/// drops the description and `required` of a field with `schema_with`, so the query types
/// list their parameters with this.)
pub fn query(name: &str, required: bool, description: &str, schema: Schema) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(if required { Required::True } else { Required::False })
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn integer(min: i64, max: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min as isize))
        .maximum(Some(max as isize))
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn id_string() -> ObjectBuilder {
    string().pattern(Some(ID_PATTERN))
}

/// An id in the query (`course`, `course_category`): a positive integer.
pub fn id_query() -> Schema {
    integer(1, ID_MAX).into()
}

/// `page`: 1 to [`PageRequest::MAX_PAGE`].
pub fn page_query() -> Schema {
    integer(1, PageRequest::MAX_PAGE as i64).into()
}

/// `size` / `page_size`: 1 to [`PageRequest::MAX_SIZE`] (above `api.max_page_size`, lowered).
pub fn size_query() -> Schema {
    integer(1, PageRequest::MAX_SIZE as i64).into()
}

/// `ordering`: one of [`Ordering::VALUES`].
pub fn ordering_query() -> Schema {
    string().enum_values(Some(Ordering::VALUES.iter().map(|(name, _)| *name))).into()
}

/// `search` / `wd`: at most [`SearchTerm::MAX_CHARS`] characters.
pub fn search_query() -> Schema {
    string().max_length(Some(SearchTerm::MAX_CHARS)).into()
}

/// An amount in yuan as text: [`Money::YUAN_PATTERN`].
pub fn yuan_string() -> Schema {
    string().pattern(Some(Money::YUAN_PATTERN)).examples(["99.00"]).into()
}

fn mobile_string() -> ObjectBuilder {
    string().pattern(Some(Mobile::PATTERN)).min_length(Some(Mobile::LEN)).max_length(Some(Mobile::LEN))
}

/// A mobile number in the query: [`Mobile::PATTERN`].
pub fn mobile_query() -> Schema {
    mobile_string().examples(["13812345678"]).into()
}

/// A mobile number in a body: the pattern as a string, or the same digits as a number.
pub fn mobile_body() -> Schema {
    OneOfBuilder::new()
        .item(mobile_string())
        .item(integer(13_000_000_000, 19_999_999_999))
        .description(Some("Mainland China mobile number (a JSON string, or the same digits as a number)."))
        .examples(["13812345678"])
        .into()
}

/// An SMS code in a body: [`SmsCode::PATTERN`], as a string or a number of six digits.
pub fn sms_code_body() -> Schema {
    OneOfBuilder::new()
        .item(
            string()
                .pattern(Some(SmsCode::PATTERN))
                .min_length(Some(SmsCode::LEN))
                .max_length(Some(SmsCode::LEN)),
        )
        .item(integer(100_000, 999_999))
        .description(Some("The six-digit code (a JSON string, or a number without leading zeros)."))
        .examples(["123456"])
        .into()
}

/// The login box: a string with some non-space character ([`LoginIdentifier::PATTERN`]) or
/// a number.
pub fn login_identifier_body() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
        .pattern(Some(LoginIdentifier::PATTERN))
        .description(Some("Username, mobile number or email (a number is read as its digits)."))
        .examples(["alex"])
        .into()
}

/// A password at login: not empty (any other length is only a wrong password).
pub fn login_password_body() -> Schema {
    string().min_length(Some(1)).description(Some("Password.")).examples(["correct horse battery"]).into()
}

/// A new password: [`Password::MIN_CHARS`] to [`Password::MAX_CHARS`] characters.
pub fn new_password_body() -> Schema {
    string()
        .min_length(Some(Password::MIN_CHARS))
        .max_length(Some(Password::MAX_CHARS))
        .description(Some("The new password."))
        .examples(["correct horse battery"])
        .into()
}

/// `courses` of a purchase: [`MIN_COURSES`] to [`MAX_COURSES`] distinct ids, strings or
/// numbers.
pub fn courses_body() -> Schema {
    let item = OneOfBuilder::new().item(id_string()).item(integer(1, ID_MAX));
    ArrayBuilder::new()
        .items(item)
        .min_items(Some(MIN_COURSES))
        .max_items(Some(MAX_COURSES))
        .unique_items(true)
        .description(Some("Course ids (strings or numbers), each once."))
        .examples([serde_json::json!(["1", 2])])
        .into()
}

/// `total_amount` of a purchase: yuan as text ([`Money::YUAN_PATTERN`]) or as a number.
pub fn total_amount_body() -> Schema {
    OneOfBuilder::new()
        .item(string().pattern(Some(Money::YUAN_PATTERN)))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0isize))
                .maximum(Some((MAX_FEN / 100) as isize))
                .multiple_of(Some(0.01)),
        )
        .description(Some(
            "The total the buyer saw, in yuan (a string, or a number with at most two decimals); \
             it must equal the server's sum of the current prices.",
        ))
        .examples(["99.00"])
        .into()
}

/// `subject` of a purchase: [`Subject::PATTERN`], at most [`Subject::MAX_CHARS`] characters.
pub fn subject_body() -> Schema {
    string()
        .min_length(Some(1))
        .max_length(Some(Subject::MAX_CHARS))
        .pattern(Some(Subject::PATTERN))
        .description(Some("Shown at Alipay's cashier: no control characters, not only white space."))
        .examples(["Python 全栈开发"])
        .into()
}

/// `pay_type` of a purchase: 1 (Alipay), 2 (WeChat Pay) or 3 (Stripe), as a number or a string.
pub fn pay_type_body() -> Schema {
    ObjectBuilder::new()
        .enum_values(Some(
            shop_domain::order::PayType::ALL
                .iter()
                .flat_map(|t| [serde_json::json!(t.code()), serde_json::json!(t.code().to_string())]),
        ))
        .description(Some(
            "1 Alipay (the default), 2 WeChat Pay (Native: a QR code), 3 Stripe (Checkout: cards). A provider that is not enabled on this server is refused with 400 (`errors.pay_type`).",
        ))
        .into()
}

/// WeChat Pay's notification envelope (`resource` encrypted with the APIv3 key).
pub struct WechatNotifyBody;

impl utoipa::PartialSchema for WechatNotifyBody {
    fn schema() -> utoipa::openapi::RefOr<Schema> {
        ObjectBuilder::new()
            .property("id", string())
            .property("create_time", string())
            .property("resource_type", string().examples(["encrypt-resource"]))
            .property("event_type", string().examples(["TRANSACTION.SUCCESS"]))
            .property("summary", string())
            .property(
                "resource",
                ObjectBuilder::new()
                    .property("original_type", string())
                    .property("algorithm", string().examples(["AEAD_AES_256_GCM"]))
                    .property("ciphertext", string())
                    .property("associated_data", string())
                    .property("nonce", string()),
            )
            .required("id")
            .required("event_type")
            .required("resource")
            .into()
    }
}

impl utoipa::ToSchema for WechatNotifyBody {}

/// A Stripe event (`object: event`), as Stripe posts it to the webhook.
pub struct StripeEvent;

impl utoipa::PartialSchema for StripeEvent {
    fn schema() -> utoipa::openapi::RefOr<Schema> {
        ObjectBuilder::new()
            .property("id", string().examples(["evt_1QxyzAbCdEf"]))
            .property("object", string().examples(["event"]))
            .property("type", string().examples(["checkout.session.completed"]))
            .property("created", ObjectBuilder::new().schema_type(Type::Integer))
            .property("livemode", ObjectBuilder::new().schema_type(Type::Boolean))
            .property(
                "data",
                ObjectBuilder::new().property(
                    "object",
                    ObjectBuilder::new().description(Some(
                        "A Checkout Session (`checkout.session.*`: `amount_total`, `currency`, `client_reference_id`, `metadata.out_trade_no`, `payment_status`, `payment_intent`) or a Charge (`charge.refunded`: `amount`, `amount_refunded`, cumulative, `currency`, `metadata.out_trade_no`)",
                    )),
                ),
            )
            .required("id")
            .required("type")
            .required("data")
            .into()
    }
}

impl utoipa::ToSchema for StripeEvent {}

/// The webhook's acknowledgement: `{"received":true}`.
pub struct StripeReceived;

impl utoipa::PartialSchema for StripeReceived {
    fn schema() -> utoipa::openapi::RefOr<Schema> {
        ObjectBuilder::new()
            .property("received", ObjectBuilder::new().schema_type(Type::Boolean))
            .required("received")
            .into()
    }
}

impl utoipa::ToSchema for StripeReceived {}

/// The failure answer WeChat Pay expects: `{"code":"FAIL","message":..}`.
pub struct WechatFailure;

impl utoipa::PartialSchema for WechatFailure {
    fn schema() -> utoipa::openapi::RefOr<Schema> {
        ObjectBuilder::new()
            .property("code", string().examples(["FAIL"]))
            .property("message", string())
            .required("code")
            .required("message")
            .into()
    }
}

impl utoipa::ToSchema for WechatFailure {}

/// `out_trade_no` in the query: not empty (an unknown one is a 404).
pub fn order_no_query() -> Schema {
    string().min_length(Some(1)).into()
}

/// The body of Alipay's notify: form-encoded fields, not empty (an empty body is not a
/// notify and is refused; fields that cannot be verified answer `fail`).
pub struct NotifyForm;

impl utoipa::PartialSchema for NotifyForm {
    fn schema() -> utoipa::openapi::RefOr<Schema> {
        string()
            .min_length(Some(1))
            .description(Some("Alipay's signed notify fields, form-encoded (`a=1&b=2&sign=...`)."))
            .into()
    }
}

impl utoipa::ToSchema for NotifyForm {}

/// An email address in a request body: what the schema promises is accepted (a subset of
/// what `shop_domain::user::Email` accepts).
pub fn email_body() -> Schema {
    string()
        .pattern(Some(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$"))
        .max_length(Some(254))
        .description(Some("An email address."))
        .examples(["buyer@example.com"])
        .into()
}

/// A username in a request body (a subset of what `shop_domain::user::Username` accepts:
/// it also takes letters of any script).
pub fn username_body() -> Schema {
    string()
        .pattern(Some(r"^[A-Za-z0-9_.-]{3,32}$"))
        .min_length(Some(3))
        .max_length(Some(32))
        .description(Some("3 to 32 letters, digits, `_`, `-` or `.`."))
        .examples(["li_lei"])
        .into()
}
