//! Property tests: any change to a signed body or header, or to an encrypted resource, fails.

mod common;

use common::{api_v3_key, case, headers, s, ts, wechatpay_public};
use proptest::prelude::*;
use shop_wechatpay::aead::{EncryptedResource, decrypt_resource};
use shop_wechatpay::verify::verify_signed;
use shop_wechatpay::{NotifyError, verify_notification};

fn flip(bytes: &[u8], index: usize, bit: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let i = index % out.len();
    out[i] ^= 1 << (bit % 8);
    out
}

fn flip_str(text: &str, index: usize, bit: u8) -> String {
    String::from_utf8_lossy(&flip(text.as_bytes(), index, bit)).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_change_to_a_notification_body_fails(index in any::<usize>(), bit in any::<u8>()) {
        let c = case("notify_cases", "transaction_success");
        let body = flip(s(&c["body"]).as_bytes(), index, bit);
        let r = verify_notification(&headers(c), &body, &wechatpay_public(), &api_v3_key(), ts(c));
        prop_assert!(matches!(r, Err(NotifyError::Signature(_))), "{:?}", r);
    }

    #[test]
    fn any_change_to_a_signature_header_fails(which in 0usize..4, index in any::<usize>(), bit in any::<u8>()) {
        let c = case("answer_cases", "query_refund_state");
        let mut h = headers(c);
        match which {
            0 => h.signature = flip_str(&h.signature, index, bit),
            1 => h.timestamp = flip_str(&h.timestamp, index, bit),
            2 => h.nonce = flip_str(&h.nonce, index, bit),
            _ => h.serial = flip_str(&h.serial, index, bit),
        }
        prop_assert!(verify_signed(&h, s(&c["body"]).as_bytes(), &wechatpay_public(), ts(c)).is_err());
    }

    #[test]
    fn any_change_to_an_encrypted_resource_fails(which in 0usize..3, index in any::<usize>(), bit in any::<u8>()) {
        let c = case("notify_cases", "transaction_success");
        let envelope: serde_json::Value = serde_json::from_str(s(&c["body"])).expect("json");
        let mut r: EncryptedResource = serde_json::from_value(envelope["resource"].clone()).expect("resource");
        prop_assert!(decrypt_resource(&api_v3_key(), &r).is_ok());
        match which {
            0 => {
                // Change the decoded ciphertext or tag, not just its base64 spelling.
                use base64::Engine;
                let engine = base64::engine::general_purpose::STANDARD;
                let raw = engine.decode(&r.ciphertext).expect("b64");
                r.ciphertext = engine.encode(flip(&raw, index, bit));
            }
            1 => r.nonce = flip_str(&r.nonce, index, bit),
            _ => r.associated_data = flip_str(&r.associated_data, index, bit),
        }
        prop_assert!(decrypt_resource(&api_v3_key(), &r).is_err());
    }
}

#[cfg(feature = "gateway")]
mod gateway {
    use super::*;
    use common::{fixtures, merchant_private, wechatpay_private};
    use shop_wechatpay::gateway::WechatPayGateway;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn any_change_to_a_signed_request_fails(which in 0usize..3, index in any::<usize>(), bit in any::<u8>()) {
            let f = fixtures();
            let g = WechatPayGateway::new(
                wechatpay_private(), s(&f["public_key_id"]), api_v3_key(), s(&f["mchid"]),
                s(&f["merchant_serial_no"]), merchant_private().public_key().expect("public"),
            ).expect("gateway");
            let c = case("request_cases", "native_create");
            let (mut method, mut path, mut body) =
                (s(&c["method"]).to_owned(), s(&c["path"]).to_owned(), s(&c["body"]).as_bytes().to_vec());
            match which {
                0 => method = flip_str(&method, index, bit),
                1 => path = flip_str(&path, index, bit),
                _ => body = flip(&body, index, bit),
            }
            let now = c["timestamp"].as_i64().expect("ts");
            prop_assert!(g.verify_request(&method, &path, Some(s(&c["authorization"])), &body, now).is_err());
        }
    }
}
