//! The built-in demo catalog and its pictures.
//!
//! `seed-demo` imports [`DEMO_CATALOG_JSON`] through the same code as `import-catalog`, and
//! [`write_demo_media`] draws the covers, teacher portraits, banners and the default avatar
//! it refers to as SVG files under the media root, so a fresh machine serves real images.
//! The pictures are askama templates (`crates/app/templates/demo/*.svg`), escaped like the
//! emails.
use std::path::Path;

use askama::Template;

/// The demo catalog, in the format of `docs/catalog-format.md`.
pub const DEMO_CATALOG_JSON: &str = include_str!("demo_catalog.json");

const PALETTE: &[(&str, &str)] = &[
    ("#1e3c72", "#2a5298"),
    ("#11998e", "#38ef7d"),
    ("#fc4a1a", "#f7b733"),
    ("#8e2de2", "#4a00e0"),
    ("#e52d27", "#b31217"),
    ("#0f2027", "#2c5364"),
    ("#f7971e", "#ffd200"),
    ("#00b09b", "#96c93d"),
];

fn gradient(seed: usize) -> (&'static str, &'static str) {
    PALETTE[seed % PALETTE.len()]
}

/// A 480x270 course cover with the course name.
#[derive(Template)]
#[template(path = "demo/cover.svg")]
struct Cover<'a> {
    a: &'a str,
    b: &'a str,
    title: &'a str,
    subtitle: &'a str,
}

fn cover(seed: usize, title: &str, subtitle: &str) -> askama::Result<String> {
    let (a, b) = gradient(seed);
    Cover { a, b, title, subtitle }.render()
}

/// A round 200x200 portrait with the first letter of a name.
#[derive(Template)]
#[template(path = "demo/portrait.svg")]
struct Portrait<'a> {
    a: &'a str,
    b: &'a str,
    initial: &'a str,
}

fn portrait(seed: usize, name: &str) -> askama::Result<String> {
    let (a, b) = gradient(seed + 3);
    let initial: String = name.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    Portrait { a, b, initial: &initial }.render()
}

/// A 1920x400 banner: the Luffy front end lays banners out 1920 px wide, centred
/// (`margin-left: calc(50% - 960px)`), so the title sits in the middle, visible on narrower
/// screens too.
#[derive(Template)]
#[template(path = "demo/banner.svg")]
struct Banner<'a> {
    a: &'a str,
    b: &'a str,
    title: &'a str,
}

fn banner(seed: usize, title: &str) -> askama::Result<String> {
    let (a, b) = gradient(seed + 5);
    Banner { a, b, title }.render()
}

/// The avatar of users without one.
fn default_avatar() -> askama::Result<String> {
    Ok(r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 120 120">
<circle cx="60" cy="60" r="60" fill="#d8dee9"/>
<circle cx="60" cy="46" r="22" fill="#8a94a6"/>
<path d="M18 104 C 26 78, 94 78, 102 104 Z" fill="#8a94a6"/>
</svg>
"##
    .to_owned())
}

fn write_if_missing(
    root: &Path,
    relative: &str,
    content: impl FnOnce() -> askama::Result<String>,
) -> anyhow::Result<bool> {
    if relative.is_empty()
        || relative.starts_with("http://")
        || relative.starts_with("https://")
        || relative.contains("..")
    {
        return Ok(false);
    }
    let path = root.join(relative);
    if path.exists() {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, content()?)?;
    Ok(true)
}

/// Draws every picture a catalog file refers to (relative `.svg` paths only) plus the
/// default avatar, skipping files that exist. Returns how many were written.
///
/// # Errors
/// I/O errors, or a catalog that is not JSON.
pub fn write_demo_media(root: &Path, catalog_json: &str, default_icon: &str) -> anyhow::Result<usize> {
    let value: serde_json::Value = serde_json::from_str(catalog_json)?;
    let text =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let list = |key: &str| value.get(key).and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let svg = |path: &str| path.ends_with(".svg");
    let mut written = 0;
    for (i, c) in list("courses").iter().enumerate() {
        let path = text(c, "course_img");
        if svg(&path) {
            let subtitle =
                format!("¥{}  ·  {}", text(c, "price"), if i % 2 == 0 { "路飞学城" } else { "Luffy City" });
            written += usize::from(write_if_missing(root, &path, || cover(i, &text(c, "name"), &subtitle))?);
        }
    }
    for (i, t) in list("teachers").iter().enumerate() {
        let path = text(t, "image");
        if svg(&path) {
            written += usize::from(write_if_missing(root, &path, || portrait(i, &text(t, "name")))?);
        }
    }
    for (i, b) in list("banners").iter().enumerate() {
        let path = text(b, "image");
        if svg(&path) {
            written += usize::from(write_if_missing(root, &path, || banner(i, &text(b, "title")))?);
        }
    }
    written += usize::from(write_if_missing(root, default_icon, default_avatar)?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_text_is_escaped() {
        let svg = cover(0, "C++ & <Rust>", "\"quoted\"").expect("svg");
        assert!(svg.contains("C++ &#38; &#60;Rust&#62;"), "{svg}");
        assert!(svg.contains("&#34;quoted&#34;"), "{svg}");
        assert!(!svg.contains("<Rust>"));
    }

    #[test]
    fn banners_have_the_front_ends_proportions_with_the_title_in_the_middle() {
        let svg = banner(0, "路飞学城").expect("svg");
        assert!(svg.contains(r#"width="1920" height="400" viewBox="0 0 1920 400""#), "{svg}");
        assert!(svg.contains(r#"x="960""#) && svg.contains(r#"text-anchor="middle""#), "{svg}");
    }

    #[test]
    fn demo_media_is_written_once_and_paths_cannot_escape() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("course-shop-demo-{}", uuid::Uuid::new_v4()));
        let first = write_demo_media(&dir, DEMO_CATALOG_JSON, "icon/default.svg")?;
        assert!(first > 40, "wrote {first}");
        assert!(dir.join("icon/default.svg").is_file());
        assert_eq!(write_demo_media(&dir, DEMO_CATALOG_JSON, "icon/default.svg")?, 0);
        let evil = r#"{"courses":[{"course_img":"../../evil.svg","name":"x","price":"1"}]}"#;
        assert_eq!(write_demo_media(&dir, evil, "icon/default.svg")?, 0);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
