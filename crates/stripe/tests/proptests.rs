//! Property tests: any change to a signed payload, timestamp or signature fails verification;
//! whatever the gateway signs verifies.

use proptest::prelude::*;
use shop_stripe::webhook::compute_v1;
use shop_stripe::{WebhookSecret, verify_signature};

fn secret() -> WebhookSecret {
    WebhookSecret::parse("whsec_TEST_ONLY_proptest_secret").expect("secret")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn signed_payloads_verify_and_any_change_fails(
        payload in proptest::collection::vec(any::<u8>(), 1..512),
        t in 1_000_000_000i64..2_000_000_000,
        index in any::<usize>(),
        bit in 0u8..8,
    ) {
        let v1 = compute_v1(&secret(), t, &payload);
        let header = format!("t={t},v1={v1}");
        prop_assert_eq!(verify_signature(&payload, Some(&header), &secret(), t, 300), Ok(t));

        let mut changed = payload.clone();
        let i = index % changed.len();
        changed[i] ^= 1 << bit;
        prop_assert!(verify_signature(&changed, Some(&header), &secret(), t, 300).is_err());

        let shifted = format!("t={},v1={v1}", t + 1 + (index % 299) as i64);
        prop_assert!(verify_signature(&payload, Some(&shifted), &secret(), t, 300).is_err());

        let mut sig = v1.into_bytes();
        let j = index % sig.len();
        sig[j] = if sig[j] == b'0' { b'1' } else { b'0' };
        let bad = format!("t={t},v1={}", String::from_utf8(sig).expect("ascii"));
        prop_assert!(verify_signature(&payload, Some(&bad), &secret(), t, 300).is_err());
    }
}
