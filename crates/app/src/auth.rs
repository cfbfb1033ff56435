//! JWT access tokens (HS256, algorithm pinned, `exp` required) and argon2id passwords.
use crate::i18n::msg;
use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::AuthSettings;
use crate::error::{AppError, AppResult};

/// What a key derived from the JWT secret is for: each purpose gets its own key, and none
/// of them can be computed from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// The HMAC key of stored SMS code hashes.
    SmsCode,
    /// The key of locally signed media URLs.
    MediaUrl,
    /// The key of the checkout funnel's visitor hashes (mixed with the day, so it rotates
    /// daily).
    VisitorHash,
    /// The key of purchase page tokens (an order's token is its number's keyed hash).
    PurchasePage,
}

impl KeyPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            KeyPurpose::SmsCode => b"course-shop sms code key",
            KeyPurpose::MediaUrl => b"course-shop media url key",
            KeyPurpose::VisitorHash => b"course-shop visitor hash key",
            KeyPurpose::PurchasePage => b"course-shop purchase page key",
        }
    }
}

/// The 32-byte key of `purpose`, derived from `secret`: SHA-256 over the purpose's label, a
/// NUL byte, and the secret. Keys already in use (hashes of SMS codes, signed URLs) stay
/// valid as long as the secret and the labels stay the same.
#[must_use]
pub fn derive_key(purpose: KeyPurpose, secret: &SecretString) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(purpose.label())
        .chain_update([0u8])
        .chain_update(secret.expose_secret().as_bytes())
        .finalize()
        .into()
}

/// The audience of access tokens; other token kinds must use another one (RFC 8725 §3.12).
const ACCESS_AUDIENCE: &str = "course-shop:access";

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id, as a string (RFC 7519).
    pub sub: String,
    /// Username at issue time.
    pub username: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
}

/// Issues and checks access tokens.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl: chrono::Duration,
}

impl TokenService {
    /// Builds the service from `[auth]`.
    pub fn new(settings: &AuthSettings) -> Self {
        let secret = settings.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = settings.leeway_seconds;
        // `nbf`, when present, must have come (within the leeway); `iat` is checked in `verify`.
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_audience(&[ACCESS_AUDIENCE]);
        TokenService {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.issuer.clone(),
            ttl: chrono::Duration::hours(settings.token_ttl_hours),
        }
    }

    /// A token for `user_id`.
    ///
    /// # Errors
    /// `Unexpected` if encoding fails (it does not with an HMAC key).
    pub fn issue(&self, user_id: i64, username: &str) -> AppResult<String> {
        let now = Utc::now();
        let claims = Claims {
            sub: user_id.to_string(),
            username: username.to_owned(),
            iss: self.issuer.clone(),
            aud: ACCESS_AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Unexpected(e.into()))
    }

    /// The user id of a valid token.
    ///
    /// # Errors
    /// `Unauthorized` for an expired, malformed, wrongly signed or other-algorithm token, and
    /// for one issued (`iat`) or valid from (`nbf`) a time later than now plus the leeway.
    pub fn verify(&self, token: &str) -> AppResult<i64> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            AppError::Unauthorized(match e.kind() {
                ErrorKind::ExpiredSignature => msg::TOKEN_EXPIRED,
                ErrorKind::ImmatureSignature => msg::TOKEN_NOT_YET_VALID,
                ErrorKind::InvalidSignature => msg::TOKEN_BAD_SIGNATURE,
                ErrorKind::InvalidAlgorithm => msg::TOKEN_BAD_ALGORITHM,
                _ => msg::TOKEN_INVALID,
            })
        })?;
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(i64::MAX);
        if data.claims.iat > Utc::now().timestamp().saturating_add(leeway) {
            return Err(AppError::Unauthorized(msg::TOKEN_NOT_YET_VALID));
        }
        data.claims.sub.parse().map_err(|_| AppError::Unauthorized(msg::TOKEN_INVALID))
    }
}

/// argon2id with the OWASP minimum parameters (19 MiB, t=2, p=1): the crate's defaults.
fn argon2() -> Argon2<'static> {
    Argon2::default()
}

/// A hash to verify against when the user does not exist, so that an unknown username
/// costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(b"dummy password for timing equalisation", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Hashes a password on the blocking pool.
///
/// # Errors
/// `Unexpected` if hashing fails or the pool is gone.
pub async fn hash_password(password: SecretString) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| AppError::Unexpected(e.into()))?
}

/// Checks a password against a stored hash (or against a dummy hash when `stored` is
/// `None`, which always fails) on the blocking pool.
///
/// # Errors
/// `Unexpected` if the pool is gone.
pub async fn verify_password(password: SecretString, stored: Option<String>) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = PasswordHash::new(&phc)
            .map(|parsed| argon2().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        known && ok
    })
    .await
    .map_err(|e| AppError::Unexpected(e.into()))
}

/// Warms the dummy hash so the first login of an unknown user is not faster than later ones.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_those_already_in_use_and_differ_per_purpose() {
        let secret = SecretString::from("test-only-jwt-secret-0123456789abcdef0123456789");
        // SHA-256("course-shop sms code key\0" + secret) and the same for media URLs, as
        // computed before there was one function: stored SMS hashes and signed URLs stay valid.
        assert_eq!(
            hex::encode(derive_key(KeyPurpose::SmsCode, &secret)),
            "918b9366c94ff494376b7aaffeccfa6a0e6baa640d43aeb222a133b75e542a49"
        );
        assert_eq!(
            hex::encode(derive_key(KeyPurpose::MediaUrl, &secret)),
            "f9a047e3252cc2d4d5f1a482d58e24ae175754f196cf6ecdfe48f3a16e9394c3"
        );
        let other = SecretString::from("another-secret-0123456789abcdef0123456789abcdef");
        assert_ne!(derive_key(KeyPurpose::SmsCode, &secret), derive_key(KeyPurpose::SmsCode, &other));
    }

    fn settings() -> AuthSettings {
        AuthSettings {
            jwt_secret: SecretString::from("a".repeat(40)),
            token_ttl_hours: 1,
            leeway_seconds: 0,
            issuer: "course-shop".into(),
            login_attempts_per_minute: 3,
            register_attempts_per_minute: 3,
            console_session_hours: 1,
        }
    }

    #[test]
    fn tokens_round_trip_and_other_secrets_fail() {
        let tokens = TokenService::new(&settings());
        let token = tokens.issue(42, "alex").expect("issued");
        assert_eq!(tokens.verify(&token).ok(), Some(42));
        let mut other = settings();
        other.jwt_secret = SecretString::from("b".repeat(40));
        assert!(matches!(TokenService::new(&other).verify(&token), Err(AppError::Unauthorized(_))));
        assert!(matches!(tokens.verify("not.a.token"), Err(AppError::Unauthorized(_))));
    }

    /// A token signed with the service's secret, with `iat`/`nbf` this many seconds from now.
    fn hand_made(iat_in: i64, nbf_in: Option<i64>) -> String {
        let now = Utc::now().timestamp();
        let mut claims = serde_json::json!({
            "sub": "7", "username": "alex", "iss": "course-shop", "aud": ACCESS_AUDIENCE,
            "iat": now + iat_in, "exp": now + 3600,
        });
        if let Some(nbf) = nbf_in {
            claims["nbf"] = serde_json::json!(now + nbf);
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&[b'a'; 40]))
            .expect("encoded")
    }

    #[test]
    fn tokens_from_the_future_are_refused_beyond_the_leeway() {
        let mut s = settings();
        s.leeway_seconds = 30;
        let tokens = TokenService::new(&s);
        assert_eq!(tokens.verify(&hand_made(0, None)).ok(), Some(7));
        // Within the leeway: clocks differ a little.
        assert_eq!(tokens.verify(&hand_made(20, Some(20))).ok(), Some(7));
        for (name, token) in [
            ("iat", hand_made(120, None)),
            ("nbf", hand_made(0, Some(120))),
            ("both", hand_made(3000, Some(3000))),
        ] {
            assert!(
                matches!(tokens.verify(&token), Err(AppError::Unauthorized(t)) if t == msg::TOKEN_NOT_YET_VALID),
                "{name}"
            );
        }
        // A past `nbf` is fine.
        assert_eq!(tokens.verify(&hand_made(-60, Some(-60))).ok(), Some(7));
    }

    #[tokio::test]
    async fn passwords_verify_and_unknown_users_fail() {
        let hash = hash_password(SecretString::from("correct horse")).await.expect("hashed");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(SecretString::from("correct horse"), Some(hash.clone())).await.expect("ran"));
        assert!(!verify_password(SecretString::from("wrong horse"), Some(hash)).await.expect("ran"));
        assert!(
            !verify_password(SecretString::from("dummy password for timing equalisation"), None)
                .await
                .expect("ran")
        );
    }
}
