//! Key parsing: every accepted format, clear errors for garbage and swapped keys.

mod common;

use common::key_text;
use shop_alipay::keys::{KeyErrorKind, KeyRole};
use shop_alipay::{AlipayPublicKey, AppPrivateKey};

const MESSAGE: &str = "app_id=2021000123456789&biz_content={\"a\":\"课程 a+b\"}&sign_type=RSA2";

fn wrap64(b64: &str) -> String {
    b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>().join("\n")
}

#[test]
fn app_private_key_all_formats_sign_identically() {
    let formats = [
        "TEST_ONLY_app_private_key_pkcs1.pem",
        "TEST_ONLY_app_private_key_pkcs8.pem",
        "TEST_ONLY_app_private_key_pkcs1.b64.txt",
        "TEST_ONLY_app_private_key_pkcs8.b64.txt",
    ];
    let public = AlipayPublicKey::parse(&key_text("TEST_ONLY_app_public_key_spki.pem")).expect("public key");
    let mut signatures = Vec::new();
    for f in formats {
        let key = AppPrivateKey::parse(&key_text(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(key.bits(), 2048);
        let sig = key.sign(MESSAGE).expect("sign");
        public.verify(MESSAGE, &sig).expect("verify");
        signatures.push(sig);
    }
    assert!(signatures.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn public_key_all_formats_verify() {
    let sig = AppPrivateKey::parse(&key_text("TEST_ONLY_alipay_private_key_pkcs8.pem"))
        .expect("private")
        .sign(MESSAGE)
        .expect("sign");
    for f in [
        "TEST_ONLY_alipay_public_key_spki.pem",
        "TEST_ONLY_alipay_public_key_pkcs1.pem",
        "TEST_ONLY_alipay_public_key_spki.b64.txt",
        "TEST_ONLY_alipay_public_key_pkcs1.b64.txt",
    ] {
        let key = AlipayPublicKey::parse(&key_text(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(key.bits(), 2048);
        key.verify(MESSAGE, &sig).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(key.verify("tampered", &sig).is_err());
        // Normalised export is SPKI, as Alipay's console shows it.
        assert_eq!(key.to_spki_base64(), key_text("TEST_ONLY_alipay_public_key_spki.b64.txt"));
    }
}

#[test]
fn whitespace_wrapping_crlf_and_missing_padding_are_tolerated() {
    let b64 = key_text("TEST_ONLY_app_private_key_pkcs8.b64.txt");
    let expected = AppPrivateKey::parse(&b64).expect("base").sign(MESSAGE).expect("sign");
    let variants = [
        format!("  \n{b64}\n\n"),
        wrap64(&b64),
        wrap64(&b64).replace('\n', "\r\n"),
        format!("\t{}\t", wrap64(&b64).replace('\n', " ")),
        format!(
            "-----BEGIN PRIVATE KEY-----\r\n{}\r\n-----END PRIVATE KEY-----\r\n",
            wrap64(&b64).replace('\n', "\r\n")
        ),
        format!("-----BEGIN PRIVATE KEY-----{b64}-----END PRIVATE KEY-----"),
        format!("-----BEGIN PRIVATE KEY-----\\n{b64}\\n-----END PRIVATE KEY-----\\n"),
        b64.trim_end_matches('=').to_owned(),
    ];
    for v in &variants {
        let key = AppPrivateKey::parse(v).unwrap_or_else(|e| panic!("{v:?}: {e}"));
        assert_eq!(key.sign(MESSAGE).expect("sign"), expected);
    }
    let pub_b64 = key_text("TEST_ONLY_app_public_key_spki.b64.txt");
    AlipayPublicKey::parse(&format!(" {} \n", wrap64(&pub_b64))).expect("wrapped public key");
}

#[test]
fn debug_output_never_contains_key_material() {
    let text = key_text("TEST_ONLY_app_private_key_pkcs8.b64.txt");
    let key = AppPrivateKey::parse(&text).expect("key");
    let dbg = format!("{key:?} {key:#?}");
    assert!(dbg.contains("REDACTED"));
    assert!(!dbg.contains(&text[40..60]));
}

fn private_err(text: &str) -> shop_alipay::KeyError {
    AppPrivateKey::parse(text).expect_err("must be rejected")
}

fn public_err(text: &str) -> shop_alipay::KeyError {
    AlipayPublicKey::parse(text).expect_err("must be rejected")
}

#[test]
fn garbage_gives_clear_errors() {
    let e = private_err("");
    assert_eq!(e.kind, KeyErrorKind::Empty);
    assert!(e.to_string().starts_with("app private key: empty"), "{e}");

    let e = private_err("this is not a key!");
    assert_eq!(e.to_string(), "app private key: not valid base64");
    let e = public_err("MIIB*garbage");
    assert_eq!(e.to_string(), "alipay public key: not valid base64");

    let e = private_err("aGVsbG8gd29ybGQ="); // valid base64 of "hello world"
    assert!(matches!(e.kind, KeyErrorKind::NotRsaPrivateKey(_)));
    assert!(e.to_string().starts_with("app private key: not an RSA private key (PKCS#8 or PKCS#1)"), "{e}");
    let e = public_err("aGVsbG8gd29ybGQ=");
    assert!(e.to_string().starts_with("alipay public key: not an RSA public key (SPKI or PKCS#1)"), "{e}");

    let e = private_err("-----BEGIN PRIVATE KEY-----\nMIIE");
    assert_eq!(e.kind, KeyErrorKind::MalformedPem);
    let e = private_err("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----");
    assert_eq!(e.kind, KeyErrorKind::MalformedPem);
    let e = private_err("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----");
    assert_eq!(e.kind, KeyErrorKind::UnsupportedPemLabel("OPENSSH PRIVATE KEY".into()));
    let e = public_err("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
    assert_eq!(e.kind, KeyErrorKind::Certificate);
    assert!(e.to_string().contains("certificate mode is not supported"));

    // A truncated key.
    let b64 = key_text("TEST_ONLY_app_private_key_pkcs8.b64.txt");
    let e = private_err(&b64[..400]);
    assert!(matches!(e.kind, KeyErrorKind::NotRsaPrivateKey(_)), "{e}");
}

#[test]
fn encrypted_keys_are_rejected() {
    let e = private_err(&key_text("TEST_ONLY_app_private_key_pkcs8_encrypted.pem"));
    assert_eq!(e.kind, KeyErrorKind::Encrypted);
    let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,1177EEE974BFDAF32BDCB2894030C891\n\nMIIE\n-----END RSA PRIVATE KEY-----\n";
    assert_eq!(private_err(legacy).kind, KeyErrorKind::Encrypted);
}

#[test]
fn swapped_keys_are_named_as_such() {
    for f in [
        "TEST_ONLY_alipay_public_key_spki.pem",
        "TEST_ONLY_alipay_public_key_pkcs1.pem",
        "TEST_ONLY_alipay_public_key_spki.b64.txt",
        "TEST_ONLY_alipay_public_key_pkcs1.b64.txt",
    ] {
        let e = private_err(&key_text(f));
        assert_eq!(e.kind, KeyErrorKind::PublicKeyGiven, "{f}");
        assert_eq!(e.role, KeyRole::AppPrivateKey);
        assert!(e.to_string().starts_with("app private key: this is a public key"), "{e}");
    }
    for f in [
        "TEST_ONLY_app_private_key_pkcs1.pem",
        "TEST_ONLY_app_private_key_pkcs8.pem",
        "TEST_ONLY_app_private_key_pkcs1.b64.txt",
        "TEST_ONLY_app_private_key_pkcs8.b64.txt",
    ] {
        let e = public_err(&key_text(f));
        assert_eq!(e.kind, KeyErrorKind::PrivateKeyGiven, "{f}");
        assert!(e.to_string().starts_with("alipay public key: this is a private key"), "{e}");
    }
}

#[test]
fn non_rsa_and_small_keys_are_rejected() {
    let e = public_err(&key_text("TEST_ONLY_ec_p256_public_key_spki.b64.txt"));
    assert!(matches!(e.kind, KeyErrorKind::NotRsaPublicKey(_)), "{e}");
    let e = private_err(&key_text("TEST_ONLY_ec_p256_private_key_pkcs8.b64.txt"));
    assert!(matches!(e.kind, KeyErrorKind::NotRsaPrivateKey(_)), "{e}");

    let e = public_err(&key_text("TEST_ONLY_rsa1024_public_key_spki.b64.txt"));
    assert_eq!(e.kind, KeyErrorKind::TooSmall { bits: 1024 });
    assert!(e.to_string().contains("too small"), "{e}");
    let e = private_err(&key_text("TEST_ONLY_rsa1024_private_key_pkcs8.b64.txt"));
    assert!(
        matches!(e.kind, KeyErrorKind::TooSmall { bits: 1024 } | KeyErrorKind::NotRsaPrivateKey(_)),
        "{e}"
    );
}

#[test]
fn wrong_key_does_not_verify() {
    let app_sig = AppPrivateKey::parse(&key_text("TEST_ONLY_app_private_key_pkcs1.pem"))
        .expect("app")
        .sign(MESSAGE)
        .expect("sign");
    let alipay_pub = AlipayPublicKey::parse(&key_text("TEST_ONLY_alipay_public_key_spki.pem")).expect("pub");
    assert!(alipay_pub.verify(MESSAGE, &app_sig).is_err());
    assert!(alipay_pub.verify(MESSAGE, "not base64!").is_err());
    assert!(alipay_pub.verify(MESSAGE, "").is_err());
}
