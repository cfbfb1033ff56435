//! Catalog enumerations with the labels the Luffy front end shows, and the rule of ids.
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// The rule of an id sent as text (a course, a category): a positive decimal integer without
/// sign, leading zeros or white space, below 10^18. The published API spec states it as this
/// pattern for strings and as `minimum` 1, `maximum` [`ID_MAX`] for numbers.
pub const ID_PATTERN: &str = "^[1-9][0-9]{0,17}$";
/// The largest id [`parse_id`] accepts.
pub const ID_MAX: i64 = 999_999_999_999_999_999;

static ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(ID_PATTERN).expect("a valid pattern"));

/// Parses an id sent as text by [`ID_PATTERN`]; `None` otherwise.
pub fn parse_id(text: &str) -> Option<i64> {
    ID.is_match(text).then(|| text.parse().ok()).flatten()
}

macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal => $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "i16", into = "i16")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The number stored in the database and sent on the wire.
            pub fn code(self) -> i16 {
                match self { $($name::$variant => $code),+ }
            }

            /// The label shown to buyers.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl TryFrom<i16> for $name {
            type Error = UnknownCode;
            fn try_from(code: i16) -> Result<Self, UnknownCode> {
                match code {
                    $($code => Ok($name::$variant),)+
                    other => Err(UnknownCode { kind: stringify!($name), code: other }),
                }
            }
        }

        impl From<$name> for i16 {
            fn from(value: $name) -> i16 { value.code() }
        }
    };
}

/// A stored number that names no known value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} is not a valid {kind}")]
pub struct UnknownCode {
    /// The enumeration.
    pub kind: &'static str,
    /// The offending number.
    pub code: i16,
}

coded_enum! {
    /// The three kinds of course the Luffy shop sells.
    CourseType {
        /// 免费课: free course.
        Free = 0 => "免费课",
        /// 实战课: the paid, project-based courses.
        ActualCombat = 1 => "实战课",
        /// 轻课: short light courses.
        Light = 2 => "轻课",
    }
}

coded_enum! {
    /// Difficulty of a course.
    Level {
        /// Beginner.
        Beginner = 0 => "初级",
        /// Intermediate.
        Intermediate = 1 => "中级",
        /// Advanced.
        Advanced = 2 => "高级",
    }
}

coded_enum! {
    /// Publication status of a course.
    CourseStatus {
        /// Online.
        Online = 0 => "上线",
        /// Offline.
        Offline = 1 => "下线",
        /// Announced, not yet online.
        PreRelease = 2 => "预上线",
    }
}

coded_enum! {
    /// What a teacher does.
    TeacherRole {
        /// Lecturer.
        Lecturer = 0 => "讲师",
        /// Mentor.
        Mentor = 1 => "导师",
        /// Class teacher.
        ClassTeacher = 2 => "班主任",
    }
}

coded_enum! {
    /// What a section contains.
    SectionType {
        /// A document.
        Document = 0 => "文档",
        /// An exercise.
        Exercise = 1 => "练习",
        /// A video.
        Video = 2 => "视频",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(parse_id("1"), Some(1));
        assert_eq!(parse_id(&ID_MAX.to_string()), Some(ID_MAX));
        for bad in ["", "0", "-1", "+1", "01", " 1", "1 ", "1.0", "1e3", "abc", "1000000000000000000"] {
            assert_eq!(parse_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn codes_round_trip_and_unknown_codes_are_rejected() {
        for t in CourseType::ALL {
            assert_eq!(CourseType::try_from(t.code()), Ok(*t));
        }
        assert_eq!(CourseType::Light.label(), "轻课");
        assert_eq!(Level::Advanced.label(), "高级");
        assert_eq!(CourseStatus::PreRelease.label(), "预上线");
        assert!(TeacherRole::try_from(3).is_err());
        assert_eq!(
            SectionType::try_from(9).map_err(|e| e.to_string()),
            Err("9 is not a valid SectionType".to_owned())
        );
    }
}
