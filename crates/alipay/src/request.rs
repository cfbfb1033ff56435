//! Signed request parameters for any gateway method (protocol §2 and §3).
//!
//! The public parameters are `app_id`, `method`, `format=JSON`, `charset=utf-8`,
//! `sign_type=RSA2`, `timestamp` (Beijing time), `version=1.0`, optional `notify_url` /
//! `return_url` (omitted when empty) and `biz_content`; `sign` is computed over the canonical
//! string ([`crate::sign::request_sign_content`]) and appended last.

use chrono::{DateTime, Utc};

use crate::keys::{AppPrivateKey, SignError};
use crate::sign::request_sign_content;
use crate::time::format_beijing;

/// Builds the full, signed parameter list of a gateway call.
///
/// `extra` holds additional public parameters such as `notify_url` / `return_url`; pairs with
/// an empty value are left out (Alipay rejects signed empty values). `biz_content` is used
/// byte for byte in both the signed string and the returned parameters.
///
/// # Errors
/// [`SignError`] if signing fails.
pub fn signed_params(
    app_id: &str,
    method: &str,
    biz_content: &str,
    extra: &[(&str, &str)],
    key: &AppPrivateKey,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, SignError> {
    let mut params: Vec<(String, String)> = vec![
        ("app_id".into(), app_id.into()),
        ("method".into(), method.into()),
        ("format".into(), "JSON".into()),
        ("charset".into(), "utf-8".into()),
        ("sign_type".into(), "RSA2".into()),
        ("timestamp".into(), format_beijing(now)),
        ("version".into(), "1.0".into()),
    ];
    params
        .extend(extra.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    params.push(("biz_content".into(), biz_content.into()));
    let sign = key.sign(&request_sign_content(&params))?;
    params.push(("sign".into(), sign));
    Ok(params)
}

/// The JSON node name of a method's response: `alipay.trade.query` →
/// `alipay_trade_query_response`.
#[must_use]
pub fn response_node_name(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}
