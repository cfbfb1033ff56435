//! Shared helpers for the integration tests: TEST-ONLY keys and the python SDK fixtures.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;
use shop_alipay::{AlipayPublicKey, AppPrivateKey};

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads `tests/fixtures/test-only-keys/<name>`.
pub fn key_text(name: &str) -> String {
    let path = fixtures_dir().join("test-only-keys").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The python-alipay-sdk fixtures.
pub fn fixtures() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| {
        let text =
            std::fs::read_to_string(fixtures_dir().join("python_sdk_fixtures.json")).expect("read fixtures");
        serde_json::from_str(&text).expect("parse fixtures")
    })
}

pub fn app_private() -> AppPrivateKey {
    AppPrivateKey::parse(&key_text("TEST_ONLY_app_private_key_pkcs8.b64.txt")).expect("fixture")
}

pub fn app_public() -> AlipayPublicKey {
    AlipayPublicKey::parse(&key_text("TEST_ONLY_app_public_key_spki.b64.txt")).expect("fixture")
}

/// The key playing Alipay's private key (signs notifies / responses in tests).
pub fn alipay_private() -> AppPrivateKey {
    AppPrivateKey::parse(&key_text("TEST_ONLY_alipay_private_key_pkcs1.b64.txt")).expect("fixture")
}

pub fn alipay_public() -> AlipayPublicKey {
    AlipayPublicKey::parse(&key_text("TEST_ONLY_alipay_public_key_spki.b64.txt")).expect("fixture")
}

/// `[[k, v], ...]` → pairs.
pub fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("fixture")
        .iter()
        .map(|p| (p[0].as_str().expect("fixture").to_owned(), p[1].as_str().expect("fixture").to_owned()))
        .collect()
}

/// The fixture case named `name` in the array `section`.
pub fn case(section: &str, name: &str) -> &'static Value {
    fixtures()[section]
        .as_array()
        .expect("fixture")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no fixture {section}/{name}"))
}
