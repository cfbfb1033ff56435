//! Property tests: tamper detection, form round-trips with awkward characters, amounts.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use shop_alipay::form::{encode_pairs, parse_urlencoded};
use shop_alipay::notify::verify_signature;
use shop_alipay::{
    AlipayPublicKey, AppPrivateKey, VerifyError, format_yuan, notify_sign_content, parse_yuan,
};

fn keys() -> &'static (AppPrivateKey, AlipayPublicKey) {
    static K: OnceLock<(AppPrivateKey, AlipayPublicKey)> = OnceLock::new();
    K.get_or_init(|| (common::alipay_private(), common::alipay_public()))
}

/// Values with Chinese, '+', spaces, '&', '=', '%', '/', quotes and other punctuation.
fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 +&=%/?#\"'<>:;,.~*_\\-课程退款￥]{1,24}"
}

fn param_key() -> impl Strategy<Value = String> {
    "[a-z][a-z_]{0,11}".prop_filter("not sign/sign_type", |k| k != "sign" && k != "sign_type")
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map(param_key(), value(), 1..10)
        .prop_map(|m: BTreeMap<String, String>| m.into_iter().collect())
        .prop_shuffle()
}

fn sign_as_alipay(params: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = params.to_vec();
    let sign = keys().0.sign(&notify_sign_content(&out)).expect("sign");
    out.push(("sign".into(), sign));
    out.push(("sign_type".into(), "RSA2".into()));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip_through_form_encoding_and_verification(p in params()) {
        let signed = sign_as_alipay(&p);
        let body = encode_pairs(&signed);
        prop_assert!(!body.contains(' '));
        let decoded = parse_urlencoded(&body).expect("decode");
        prop_assert_eq!(&decoded, &signed);
        let verified = verify_signature(&decoded, &keys().1);
        prop_assert_eq!(verified, Ok(signed));
    }

    #[test]
    fn any_changed_value_fails_verification(
        p in params(),
        index in any::<prop::sample::Index>(),
        replacement in value(),
    ) {
        let mut signed = sign_as_alipay(&p);
        let i = index.index(p.len());
        prop_assume!(signed[i].1 != replacement);
        signed[i].1 = replacement;
        prop_assert_eq!(verify_signature(&signed, &keys().1), Err(VerifyError::BadSignature));
    }

    #[test]
    fn any_changed_or_added_or_removed_key_fails_verification(
        p in params(),
        index in any::<prop::sample::Index>(),
        new_key in param_key(),
        extra in value(),
    ) {
        let signed = sign_as_alipay(&p);
        let i = index.index(p.len());
        prop_assume!(p.iter().all(|(k, _)| *k != new_key));
        // renamed
        let mut renamed = signed.clone();
        renamed[i].0 = new_key.clone();
        prop_assert_eq!(verify_signature(&renamed, &keys().1), Err(VerifyError::BadSignature));
        // added
        let mut added = signed.clone();
        added.push((new_key, extra));
        prop_assert_eq!(verify_signature(&added, &keys().1), Err(VerifyError::BadSignature));
        // removed
        let mut removed = signed;
        removed.remove(i);
        prop_assert_eq!(verify_signature(&removed, &keys().1), Err(VerifyError::BadSignature));
    }

    #[test]
    fn changed_signature_fails(p in params(), byte in 0usize..256, bit in 0u8..8) {
        use base64::Engine;
        let mut signed = sign_as_alipay(&p);
        let sign_index = signed.len() - 2;
        let engine = base64::engine::general_purpose::STANDARD;
        let mut raw = engine.decode(&signed[sign_index].1).expect("b64");
        raw[byte] ^= 1 << bit;
        signed[sign_index].1 = engine.encode(raw);
        prop_assert_eq!(verify_signature(&signed, &keys().1), Err(VerifyError::BadSignature));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn amounts_round_trip(fen in 1i64..=10_000_000_000) {
        let s = format_yuan(fen);
        let (int, frac) = s.split_once('.').expect("dot");
        prop_assert_eq!(frac.len(), 2);
        prop_assert!(int.bytes().all(|b| b.is_ascii_digit()));
        prop_assert!(int == "0" || !int.starts_with('0'));
        prop_assert_eq!(parse_yuan(&s), Ok(fen));
    }

    #[test]
    fn three_decimals_are_rejected(fen in 0i64..=10_000_000_000, digit in 0u8..10) {
        let s = format!("{}{}", format_yuan(fen), digit);
        prop_assert!(parse_yuan(&s).is_err());
        let negative = format!("-{}", format_yuan(fen));
        prop_assert!(parse_yuan(&negative).is_err());
    }
}

#[test]
fn amount_edges() {
    for fen in [1, 9, 10, 99, 100, 101, 9990, 999_999_999, 10_000_000_000] {
        assert_eq!(parse_yuan(&format_yuan(fen)), Ok(fen));
    }
    assert_eq!(format_yuan(9990), "99.90");
    assert_eq!(format_yuan(10_000_000_000), "100000000.00");
}
