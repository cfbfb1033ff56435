//! Account values: mobile numbers, emails, usernames, passwords, roles.
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// Why an account value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserValueError {
    /// Not a mainland China mobile number (`^1[3-9]\d{9}$`).
    #[error("not a valid mobile number")]
    Mobile,
    /// Not a plausible email address.
    #[error("not a valid email address")]
    Email,
    /// Username length or characters out of bounds.
    #[error("username must be 3 to 32 letters, digits, '_', '-' or '.'")]
    Username,
    /// Password length out of bounds.
    #[error("password must be {min} to {max} characters", min = Password::MIN_CHARS, max = Password::MAX_CHARS)]
    Password,
}

/// A mainland China mobile number, 11 digits starting with 13 to 19.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mobile(String);

static MOBILE: LazyLock<Regex> = LazyLock::new(|| Regex::new(Mobile::PATTERN).expect("a valid pattern"));

impl Mobile {
    /// The rule, as the parser applies it and the published API spec states it (a JSON
    /// Schema / ECMA 262 pattern: ASCII digits only, anchored; with [`Mobile::LEN`] as
    /// `minLength`/`maxLength` so that no dialect lets a trailing newline through).
    pub const PATTERN: &str = "^1[3-9][0-9]{9}$";
    /// Characters in a mobile number.
    pub const LEN: usize = 11;

    /// Parses [`Mobile::PATTERN`], exactly: surrounding whitespace is not accepted.
    ///
    /// # Errors
    /// [`UserValueError::Mobile`] otherwise.
    pub fn parse(text: &str) -> Result<Self, UserValueError> {
        let ok = text.len() == Self::LEN && MOBILE.is_match(text);
        ok.then(|| Mobile(text.to_owned())).ok_or(UserValueError::Mobile)
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle digits hidden, for logs: `138****5678`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

/// An email address, lower-cased; checked for shape only (one `@`, a dotted domain).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and lower-cases an address of at most 254 characters.
    ///
    /// # Errors
    /// [`UserValueError::Email`] when the shape is wrong.
    pub fn parse(text: &str) -> Result<Self, UserValueError> {
        let text = text.trim();
        let (local, domain) = text.split_once('@').ok_or(UserValueError::Email)?;
        let ok = text.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        ok.then(|| Email(text.to_lowercase())).ok_or(UserValueError::Email)
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A username: 3 to 32 characters of letters (any script), digits, `_`, `-`, `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses a username.
    ///
    /// # Errors
    /// [`UserValueError::Username`] when too short, too long or with other characters.
    pub fn parse(text: &str) -> Result<Self, UserValueError> {
        let n = text.chars().count();
        let ok = (3..=32).contains(&n)
            && text.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && !text.contains('@');
        ok.then(|| Username(text.to_owned())).ok_or(UserValueError::Username)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password in clear, length-checked; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Fewest characters accepted for a new password (the published API spec's `minLength`).
    pub const MIN_CHARS: usize = 8;
    /// Most characters accepted (the spec's `maxLength`), so hashing cost stays bounded (at
    /// most 512 bytes of UTF-8).
    pub const MAX_CHARS: usize = 128;

    /// Whether a password this long could be one: login refuses longer ones unhashed.
    pub fn too_long(text: &str) -> bool {
        text.chars().count() > Self::MAX_CHARS
    }

    /// Checks a new password's length.
    ///
    /// # Errors
    /// [`UserValueError::Password`] when shorter than 8 or longer than 128 characters.
    pub fn parse(text: &str) -> Result<Self, UserValueError> {
        let n = text.chars().count();
        let ok = (Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n);
        ok.then(|| Password(text.to_owned())).ok_or(UserValueError::Password)
    }

    /// The clear text, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// The shape of an SMS verification code: six ASCII digits.
pub struct SmsCode;

static SMS_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(SmsCode::PATTERN).expect("a valid pattern"));

impl SmsCode {
    /// The rule, as the published API spec states it (with [`SmsCode::LEN`] as
    /// `minLength`/`maxLength`).
    pub const PATTERN: &str = "^[0-9]{6}$";
    /// Digits in a code.
    pub const LEN: usize = 6;

    /// Whether `text` can be a code at all (a malformed one counts as a wrong guess).
    pub fn is_well_formed(text: &str) -> bool {
        text.len() == Self::LEN && SMS_CODE.is_match(text)
    }
}

/// What a user typed into the login box: a mobile number, an email or a username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginIdentifier {
    /// Looks like a mobile number.
    Mobile(Mobile),
    /// Contains `@`.
    Email(Email),
    /// Anything else.
    Username(String),
}

static NOT_BLANK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(LoginIdentifier::PATTERN).expect("a valid pattern"));

impl LoginIdentifier {
    /// What the login box must hold: some character that is not white space (a JSON Schema
    /// pattern of the published spec; Rust's `\s` is Unicode white space, as `str::trim`).
    pub const PATTERN: &str = r"\S";

    /// Whether the login box is empty or white space only.
    pub fn is_blank(text: &str) -> bool {
        !NOT_BLANK.is_match(text)
    }

    /// Classifies the login box text; never fails (unknown text is tried as a username).
    pub fn classify(text: &str) -> Self {
        let text = text.trim();
        if let Ok(m) = Mobile::parse(text) {
            return LoginIdentifier::Mobile(m);
        }
        if text.contains('@')
            && let Ok(e) = Email::parse(text)
        {
            return LoginIdentifier::Email(e);
        }
        LoginIdentifier::Username(text.to_owned())
    }
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A buyer.
    User,
    /// An operator: admin endpoints and commands.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored name; unknown names are the least privileged role.
    pub fn from_stored(text: &str) -> Self {
        if text == "admin" { Role::Admin } else { Role::User }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers() {
        assert!(Mobile::parse("13812345678").is_ok());
        assert!(Mobile::parse("19912345678").is_ok());
        for bad in [
            "12812345678",
            "1381234567",
            "138123456789",
            "1381234567a",
            "",
            "+8613812345678",
            " 13812345678",
            "13812345678\n",
            "1381234567８",
        ] {
            assert_eq!(Mobile::parse(bad), Err(UserValueError::Mobile), "{bad}");
        }
        assert_eq!(Mobile::parse("13812345678").map(|m| m.masked()), Ok("138****5678".into()));
    }

    #[test]
    fn emails_usernames_passwords() {
        assert_eq!(Email::parse("Li.Lei@Example.COM").map(|e| e.0), Ok("li.lei@example.com".into()));
        for bad in ["a@b", "@b.cn", "a@@b.cn", "a b@c.cn", "a@.cn", "a@cn."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Username::parse("张三丰").is_ok());
        assert!(Username::parse("alex_2024").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("a b c").is_err());
        assert!(Username::parse("a@b.cn").is_err());
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse(&"密".repeat(128)).is_ok());
        assert!(Password::parse("correct horse").is_ok());
        assert_eq!(format!("{:?}", Password::parse("secret-password")), "Ok(Password([REDACTED]))");
    }

    #[test]
    fn sms_codes() {
        assert!(SmsCode::is_well_formed("012345"));
        for bad in ["12345", "1234567", " 12345", "12345a", "１２３４５６", "123456\n"] {
            assert!(!SmsCode::is_well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn login_identifiers() {
        assert!(matches!(LoginIdentifier::classify("13812345678"), LoginIdentifier::Mobile(_)));
        assert!(matches!(LoginIdentifier::classify("a@b.cn"), LoginIdentifier::Email(_)));
        assert!(matches!(LoginIdentifier::classify("alex"), LoginIdentifier::Username(_)));
        assert!(LoginIdentifier::is_blank(" \u{3000}\t"));
        assert!(!LoginIdentifier::is_blank(" a "));
        assert_eq!(Role::from_stored("admin"), Role::Admin);
        assert_eq!(Role::from_stored("root"), Role::User);
    }
}
