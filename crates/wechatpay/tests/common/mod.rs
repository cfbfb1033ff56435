//! Shared helpers: TEST-ONLY keys and the wechatpayv3 fixtures.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;
use shop_wechatpay::{ApiV3Key, MerchantPrivateKey, SignatureHeaders, WechatPayPublicKey};

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn key_text(name: &str) -> String {
    let path = fixtures_dir().join("test-only-keys").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn fixtures() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| {
        let text =
            std::fs::read_to_string(fixtures_dir().join("wechatpayv3_fixtures.json")).expect("fixtures");
        serde_json::from_str(&text).expect("parse fixtures")
    })
}

pub fn s(v: &Value) -> &str {
    v.as_str().expect("fixture string")
}

pub fn case(section: &str, name: &str) -> &'static Value {
    fixtures()[section]
        .as_array()
        .expect("section")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {section}/{name}"))
}

pub fn merchant_private() -> MerchantPrivateKey {
    MerchantPrivateKey::parse(&key_text("TEST_ONLY_merchant_private_key_pkcs8.pem")).expect("merchant key")
}

pub fn wechatpay_private() -> MerchantPrivateKey {
    MerchantPrivateKey::parse(&key_text("TEST_ONLY_wechatpay_private_key_pkcs8.pem")).expect("wechatpay key")
}

pub fn wechatpay_public() -> WechatPayPublicKey {
    WechatPayPublicKey::parse(
        s(&fixtures()["public_key_id"]),
        &key_text("TEST_ONLY_wechatpay_public_key_spki.pem"),
    )
    .expect("wechatpay public key")
}

pub fn api_v3_key() -> ApiV3Key {
    ApiV3Key::parse(s(&fixtures()["apiv3_key"])).expect("apiv3 key")
}

/// The five headers of a fixture case, looked up case-insensitively like a web framework does.
pub fn headers(case: &Value) -> SignatureHeaders {
    let map = case["headers"].as_object().expect("headers");
    SignatureHeaders::from_lookup(|name| {
        map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| s(v).to_owned())
    })
    .expect("headers")
}

pub fn ts(case: &Value) -> i64 {
    s(&case["headers"]["Wechatpay-Timestamp"]).parse().expect("timestamp")
}
